package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// folderTree writes an image folder under a new directory and returns its
// root and the class each converted file must get. Besides the images of
// three classes (one in a nested folder, one a PNG) it holds a stray image
// directly under the root, a text file in a class folder, a corrupt JPEG and
// hidden files, which are not rows.
func folderTree(t *testing.T) (root string, want map[string]string) {
	t.Helper()
	root = t.TempDir()
	img := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "images", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	var pngData bytes.Buffer
	pic := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for i := range pic.Pix {
		pic.Pix[i] = uint8(i * 7)
	}
	pic.Set(0, 0, color.RGBA{1, 2, 3, 255})
	if err := png.Encode(&pngData, pic); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"cat/synth_00000.jpg":          img("synth_00000.jpg"),
		"cat/synth_00001.JPG":          img("synth_00001.jpg"),
		"cat/kittens/synth_00002.jpeg": img("synth_00002.jpg"),
		"dog/synth_00003.jpg":          img("synth_00003.jpg"),
		"dog/drawn.png":                pngData.Bytes(),
		"zebra/synth_00004.jpg":        img("synth_00004.jpg"),
		"zebra/broken.jpg":             img("notjpeg.jpg"),
		"dog/notes.txt":                []byte("not an image\n"),
		"stray.jpg":                    img("synth_00005.jpg"),
		".DS_Store":                    []byte{0, 0, 0, 1},
		"cat/.hidden.jpg":              img("synth_00006.jpg"),
		".git/HEAD":                    []byte("ref: refs/heads/main\n"),
	}
	for name, data := range files {
		path := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want = map[string]string{
		"cat/synth_00000.jpg":          "cat",
		"cat/synth_00001.JPG":          "cat",
		"cat/kittens/synth_00002.jpeg": "cat",
		"dog/synth_00003.jpg":          "dog",
		"dog/drawn.png":                "dog",
		"zebra/synth_00004.jpg":        "zebra",
	}
	return root, want
}

func folderConfig(t *testing.T, images string) Config {
	t.Helper()
	spec, err := schema.Preset("imagefolder")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image.Width, spec.Image.Height = 16, 12
	return Config{
		Spec:        spec,
		Images:      images,
		Out:         filepath.Join(t.TempDir(), "out"),
		Splits:      []SplitWeight{{"train", 0.5}, {"validation", 0.5}},
		Shards:      2,
		Seed:        3,
		CommandLine: []string{"tfprep", "convert", "(test)"},
		ToolVersion: "(test)",
	}
}

// checkFolderDataset checks a converted image folder record for record:
// every image file of a class folder once, under its relative path, with
// its class index in the sorted class names the manifest records; every
// other visible file in errors.csv with its reason.
func checkFolderDataset(t *testing.T, out string, m *dataset.Manifest, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	d, err := dataset.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	classes := []string{"cat", "dog", "zebra"}
	if got := d.Spec.Labels[0].Names; !slices.Equal(got, classes) {
		t.Errorf("class names in the manifest: got %q, want %q", got, classes)
	}
	if m.Rows.Read != 9 || m.Rows.Written != 6 || m.Rows.Rejected != 3 {
		t.Errorf("rows: got %+v, want 9 read = 6 written + 3 rejected", m.Rows)
	}
	got := map[string]string{}
	counts := make([]int64, len(classes))
	shards, err := d.Shards()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		var rec schema.Record
		damage, err := d.Scan(ctx, sh, func(_ int64, data []byte) error {
			if err := readRecord(d.Spec, data, &rec); err != nil {
				return err
			}
			class := slices.Index(rec.Labels[0], 1)
			if _, dup := got[rec.Key]; dup {
				t.Errorf("key %s written twice", rec.Key)
			}
			got[rec.Key] = classes[class]
			counts[class]++
			if len(rec.Image) != 16*12*3 {
				t.Errorf("%s: image of %d bytes, want 16x12x3 uint8", rec.Key, len(rec.Image))
			}
			return nil
		})
		if err != nil || len(damage) > 0 {
			t.Fatalf("%s: %v %v", sh.Path, err, damage)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records: key → class (-want +got):\n%s", diff)
	}
	if !slices.Equal(counts, []int64{3, 2, 1}) {
		t.Errorf("class counts: got %v, want [3 2 1]", counts)
	}
	errs, err := dataset.ReadErrorsFile(out)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, e := range errs {
		reasons[e.Key] = string(e.Stage) + ": " + e.Reason
	}
	for key, want := range map[string]string{
		"stray.jpg":        "label: stray.jpg is directly in",
		"dog/notes.txt":    "image: dog/notes.txt is not an image by its name",
		"zebra/broken.jpg": "image: ",
	} {
		if !strings.HasPrefix(reasons[key], want) {
			t.Errorf("errors.csv for %s: got %q, want it to start with %q", key, reasons[key], want)
		}
	}
}

func TestConvertImageFolder(t *testing.T) {
	root, want := folderTree(t)
	cfg := folderConfig(t, root)
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, cfg.Out)
	checkFolderDataset(t, cfg.Out, m, want)

	// The same tree gives the same bytes.
	again := cfg
	again.Out = filepath.Join(t.TempDir(), "again")
	m2, err := Convert(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(m.Splits, m2.Splits) {
		t.Errorf("a rerun wrote other shards:\n%v\n%v", m.Splits, m2.Splits)
	}
}

func TestConvertImageFolderRefusals(t *testing.T) {
	root, _ := folderTree(t)
	cfg := folderConfig(t, root)
	cfg.CSV = []string{filepath.Join("testdata", "good.csv")}
	if _, err := Convert(context.Background(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--csv") {
		t.Errorf("imagefolder with --csv: got %v, want ErrConfig naming --csv", err)
	}
	flat := t.TempDir()
	os.WriteFile(filepath.Join(flat, "a.jpg"), []byte("x"), 0o644)
	cfg = folderConfig(t, flat)
	if _, err := Convert(context.Background(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "class folder") {
		t.Errorf("no class folder: got %v, want ErrConfig saying so", err)
	}
}

// TestConvertImageFolderNamedClasses: a spec that names its classes keeps
// them; a folder that is not one of them is rejected, even when its name
// is a number the class decoder would take as an index.
func TestConvertImageFolderNamedClasses(t *testing.T) {
	root, want := folderTree(t)
	if err := os.Rename(filepath.Join(root, "zebra"), filepath.Join(root, "1")); err != nil {
		t.Fatal(err)
	}
	cfg := folderConfig(t, root)
	cfg.Spec.Labels[0].Names = []string{"dog", "cat"}
	if err := cfg.Spec.Validate(); err != nil {
		t.Fatal(err)
	}
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows.Read != 9 || m.Rows.Written != 5 {
		t.Errorf("rows: got %+v, want 9 read, 5 written", m.Rows)
	}
	errs, err := dataset.ReadErrorsFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(errs, func(e dataset.ErrorRecord) bool { return e.Key == "1/synth_00004.jpg" })
	if i < 0 || !strings.Contains(errs[i].Reason, `class folder "1" is not a class of the spec`) {
		t.Errorf("errors.csv: got %+v, want 1/synth_00004.jpg rejected for its class folder", errs)
	}
	d, err := dataset.Open(context.Background(), cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Labels[0].Names; !slices.Equal(got, []string{"dog", "cat"}) {
		t.Errorf("class names: got %q, want the spec's [dog cat]", got)
	}
	delete(want, "zebra/synth_00004.jpg")
	if got := readContents(t, cfg.Out).keys; !slices.Equal(slices.Sorted(slices.Values(slices.Concat(got["train"], got["validation"]))), slices.Sorted(maps.Keys(want))) {
		t.Errorf("keys written: got %v, want %v", got, slices.Sorted(maps.Keys(want)))
	}
}

// readRecord parses one Example of spec into rec.
func readRecord(spec *schema.Spec, data []byte, rec *schema.Record) error {
	p, err := example.Parse(data, true)
	if err != nil {
		return err
	}
	return spec.ReadExample(p, rec)
}

// TestConvertImageFolderBuckets converts the tree from the GCS and S3
// emulators: the same shards, byte for byte, as from local disk.
func TestConvertImageFolderBuckets(t *testing.T) {
	ctx := context.Background()
	root, want := folderTree(t)
	local := folderConfig(t, root)
	lm, err := Convert(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			loc := startBucket(t, scheme)
			images := loc("flowers")
			uploadTree(t, images, root)
			cfg := folderConfig(t, images)
			m, err := Convert(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkFolderDataset(t, cfg.Out, m, want)
			for i, sp := range m.Splits {
				if !cmp.Equal(sp.Shards, lm.Splits[i].Shards) {
					t.Errorf("split %s: shards differ from the local conversion's:\n%v\n%v", sp.Name, sp.Shards, lm.Splits[i].Shards)
				}
			}
		})
	}
}

// uploadTree copies every file under the local directory src to loc,
// keeping relative paths.
func uploadTree(t *testing.T, loc, src string) {
	t.Helper()
	ctx := context.Background()
	d := openDir(t, loc)
	err := filepath.WalkDir(src, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return d.WriteFile(ctx, filepath.ToSlash(rel), data, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

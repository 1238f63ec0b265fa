package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// convertForTest converts a CSV of testdata into a new directory.
func convertForTest(t *testing.T, csvName string, mutate func(*Config)) string {
	t.Helper()
	cfg := testConfig(t, csvName)
	if mutate != nil {
		mutate(&cfg)
	}
	if _, err := Convert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg.Out
}

// contents is what a rewrite must keep: per split, the sorted Example bytes
// and the sorted keys.
type contents struct {
	examples map[string][]string
	keys     map[string][]string
}

func readContents(t *testing.T, dir string) contents {
	t.Helper()
	ctx := context.Background()
	d, err := dataset.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := contents{examples: map[string][]string{}, keys: map[string][]string{}}
	shards, err := d.Shards()
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range shards {
		damage, err := d.Scan(ctx, sh, func(_ int64, rec []byte) error {
			p, err := example.Parse(rec, false)
			if err != nil {
				return err
			}
			var r schema.Record
			if err := d.Spec.ReadExample(p, &r); err != nil {
				return err
			}
			c.examples[sh.Split] = append(c.examples[sh.Split], string(rec))
			c.keys[sh.Split] = append(c.keys[sh.Split], r.Key)
			return nil
		})
		if err != nil || len(damage) > 0 {
			t.Fatalf("%s: %v %v", sh.Path, err, damage)
		}
	}
	for split := range c.examples {
		slices.Sort(c.examples[split])
		slices.Sort(c.keys[split])
	}
	return c
}

// all merges the splits of c.
func (c contents) all() []string {
	var out []string
	for _, ex := range c.examples {
		out = append(out, ex...)
	}
	slices.Sort(out)
	return out
}

func labelsBySplit(m *dataset.Manifest) map[string][]dataset.LabelCount {
	out := map[string][]dataset.LabelCount{}
	for _, sp := range m.Splits {
		out[sp.Name] = sp.Labels
	}
	return out
}

// verifyOK runs dataset.Verify on dir and fails on any discrepancy.
func verifyOK(t *testing.T, dir string) {
	t.Helper()
	rep, err := dataset.Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("verify %s: %v", dir, rep.Discrepancies)
	}
}

func TestReshardKeepsEveryRecord(t *testing.T) {
	ctx := context.Background()
	src := convertForTest(t, "good.csv", nil)
	srcManifest, err := dataset.ReadManifest(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := RewriteConfig{Sources: []string{src}, Out: filepath.Join(t.TempDir(), "out"), Shards: 3, Compression: tfrecord.GZIP, Seed: 99}
	m, err := Rewrite(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, cfg.Out)
	if m.Rows.Read != srcManifest.Rows.Written || m.Rows.Written != m.Rows.Read || m.Rows.Rejected != 0 {
		t.Errorf("rows: got %+v, want read = written = %d", m.Rows, srcManifest.Rows.Written)
	}
	for _, sp := range m.Splits {
		if len(sp.Shards) != 3 || !strings.HasSuffix(sp.Shards[0].File, ".tfrecord.gz") {
			t.Errorf("split %s: got shards %v, want 3 gzip shards", sp.Name, sp.Shards)
		}
	}
	want, got := readContents(t, src), readContents(t, cfg.Out)
	if !reflect.DeepEqual(want, got) {
		t.Errorf("the reshard's records differ from the source's:\nwant keys %v\ngot keys %v", want.keys, got.keys)
	}
	if w, g := labelsBySplit(srcManifest), labelsBySplit(m); !reflect.DeepEqual(w, g) {
		t.Errorf("label counts: got %v, want %v", g, w)
	}

	// A rerun writes the same bytes; another seed orders the records
	// differently.
	rerun := cfg
	rerun.Out = filepath.Join(t.TempDir(), "rerun")
	m2, err := Rewrite(ctx, rerun)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Splits, m2.Splits) {
		t.Errorf("a rerun wrote other shards:\n%v\n%v", m.Splits, m2.Splits)
	}
	reseeded := cfg
	reseeded.Out, reseeded.Seed = filepath.Join(t.TempDir(), "reseeded"), 100
	m3, err := Rewrite(ctx, reseeded)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(m.Splits, m3.Splits) {
		t.Error("seeds 99 and 100 wrote the same shards")
	}
}

func TestReshardResplit(t *testing.T) {
	ctx := context.Background()
	src := convertForTest(t, "good.csv", nil)
	splits := []SplitWeight{{"a", 0.5}, {"b", 0.3}, {"c", 0.2}}
	cfg := RewriteConfig{Sources: []string{src}, Out: filepath.Join(t.TempDir(), "out"), Splits: splits, Seed: 3, Index: true}
	m, err := Rewrite(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, cfg.Out)
	want, got := readContents(t, src), readContents(t, cfg.Out)
	if !slices.Equal(want.all(), got.all()) {
		t.Error("the re-split dataset's records differ from the source's")
	}
	bounds := splitBuckets(splits)
	for split, keys := range got.keys {
		for _, key := range keys {
			if s := splitOf(3, splits, bounds, key); s != split {
				t.Errorf("key %s in split %s, convert's hash puts it in %s", key, split, s)
			}
		}
	}
	if names := m.SplitNames(); !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("splits: got %v, want a, b, c", names)
	}
}

func TestReshardRefusals(t *testing.T) {
	ctx := context.Background()
	noKeys := convertForTest(t, "good.csv", func(cfg *Config) { cfg.Spec.Key.Omit = true })
	_, err := Rewrite(ctx, RewriteConfig{Sources: []string{noKeys}, Out: filepath.Join(t.TempDir(), "out"), Splits: []SplitWeight{{"train", 1}}})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "key.omit") {
		t.Errorf("re-split without keys: got %v, want ErrConfig naming key.omit", err)
	}
	// Without --splits the records keep their split, placed by their bytes.
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Rewrite(ctx, RewriteConfig{Sources: []string{noKeys}, Out: out, Shards: 2}); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, out)
	if _, err := Rewrite(ctx, RewriteConfig{Sources: []string{noKeys}, Out: noKeys}); !errors.Is(err, ErrConfig) {
		t.Errorf("output = source: got %v, want ErrConfig", err)
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	a := convertForTest(t, "good.csv", nil)
	b := convertForTest(t, "bad.csv", nil)
	cfg := RewriteConfig{Sources: []string{a, b}, Out: filepath.Join(t.TempDir(), "out"), Shards: 2, Seed: 5}
	m, err := Rewrite(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, cfg.Out)
	ca, cb, got := readContents(t, a), readContents(t, b), readContents(t, cfg.Out)
	for split := range got.examples {
		want := slices.Concat(ca.examples[split], cb.examples[split])
		slices.Sort(want)
		if !slices.Equal(want, got.examples[split]) {
			t.Errorf("split %s: the merge's records are not the union of the sources'", split)
		}
	}
	ma, _ := dataset.ReadManifest(a)
	mb, _ := dataset.ReadManifest(b)
	if m.Rows.Read != ma.Rows.Written+mb.Rows.Written || m.Rows.Written != m.Rows.Read {
		t.Errorf("rows: got %+v, want read = written = %d", m.Rows, ma.Rows.Written+mb.Rows.Written)
	}

	other := convertForTest(t, "good.csv", func(cfg *Config) { cfg.Spec.Image.Width = 32 })
	_, err = Rewrite(ctx, RewriteConfig{Sources: []string{a, other}, Out: filepath.Join(t.TempDir(), "mixed")})
	if !errors.Is(err, ErrSpecMismatch) || !strings.Contains(err.Error(), `"image"`) {
		t.Errorf("different specs: got %v, want ErrSpecMismatch naming the image field", err)
	}
	if _, serr := os.Stat(filepath.Join(t.TempDir(), "mixed")); serr == nil {
		t.Error("a refused merge created its output")
	}
}

// relabelled writes a copy of testdata/good.csv whose first data row has
// other labels: the same key, another record.
func relabelled(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	fields := strings.SplitN(lines[1], ",", 2)
	lines[1] = fields[0] + `,"[0, 1, 0, 0]","[1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]"` + "\n"
	path := filepath.Join(t.TempDir(), "relabelled.csv")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMergeDuplicateKeys: keys in both sources are warned about by
// default (every record written) and, with RejectDuplicateKeys, all but
// the first source's record go to errors.csv; the output does not depend
// on the order of the sources.
func TestMergeDuplicateKeys(t *testing.T) {
	ctx := context.Background()
	a := convertForTest(t, "good.csv", nil)
	b := convertForTest(t, "good.csv", func(cfg *Config) { cfg.CSV = []string{relabelled(t)} })
	ma, _ := dataset.ReadManifest(a)
	n := ma.Rows.Written

	cfg := RewriteConfig{Sources: []string{a, b}, Out: filepath.Join(t.TempDir(), "warn"), Shards: 2, Seed: 5}
	m, err := Rewrite(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, cfg.Out)
	if m.Rows.Written != 2*n || m.Rows.Warned != n || m.Rows.Rejected != 0 {
		t.Errorf("warn: rows %+v, want %d written, %d warned", m.Rows, 2*n, n)
	}
	if len(m.Rows.Warnings) == 0 || !strings.Contains(m.Rows.Warnings[0].Reason, "duplicate key") || !strings.Contains(m.Rows.Warnings[0].Reason, "first: "+a) {
		t.Errorf("warnings: got %+v, want duplicate keys naming the first record in %s", m.Rows.Warnings, a)
	}
	swapped := cfg
	swapped.Sources, swapped.Out = []string{b, a}, filepath.Join(t.TempDir(), "swapped")
	m2, err := Rewrite(ctx, swapped)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Splits, m2.Splits) {
		t.Errorf("merge a b and merge b a wrote other shards:\n%v\n%v", m.Splits, m2.Splits)
	}

	reject := cfg
	reject.Out, reject.RejectDuplicateKeys = filepath.Join(t.TempDir(), "reject"), true
	m3, err := Rewrite(ctx, reject)
	if err != nil {
		t.Fatal(err)
	}
	verifyOK(t, reject.Out)
	if m3.Rows.Read != 2*n || m3.Rows.Written != n || m3.Rows.Rejected != n || m3.Rows.RejectedByStage[dataset.StageLabel] != n {
		t.Errorf("reject: rows %+v, want %d read = %d written + %d rejected (label)", m3.Rows, 2*n, n, n)
	}
	if got, want := readContents(t, reject.Out), readContents(t, a); !reflect.DeepEqual(got, want) {
		t.Error("reject: the kept records are not the first source's")
	}
	errs, err := dataset.ReadErrorsFile(reject.Out)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != int(n) || !strings.Contains(errs[0].Reason, b) || !strings.Contains(errs[0].Reason, "--duplicate-keys=reject") {
		t.Errorf("errors.csv: got %+v, want %d records of %s rejected", errs, n, b)
	}
}

// TestReshardCompressedAndBuckets reshards through the GCS emulator: an
// uncompressed source read by ranged requests, then a gzip one (copied
// uncompressed to the staging prefix to be read by offset), record for
// record the source's, and a rerun writes the same bytes.
func TestReshardCompressedAndBuckets(t *testing.T) {
	ctx := context.Background()
	src := convertForTest(t, "good.csv", nil)
	loc := startBucket(t, "gs")
	bucketSrc := loc("src")
	upload(t, bucketSrc, ".", src)
	gz := RewriteConfig{Sources: []string{bucketSrc}, Out: loc("gz"), Shards: 3, Compression: tfrecord.GZIP, Seed: 8}
	if _, err := Rewrite(ctx, gz); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, gz.Out)
	want := readContents(t, src)
	if got := readContents(t, gz.Out); !reflect.DeepEqual(want, got) {
		t.Error("bucket → bucket gzip: records differ from the source's")
	}
	var manifests []*dataset.Manifest
	for _, out := range []string{loc("back"), filepath.Join(t.TempDir(), "back")} {
		cfg := RewriteConfig{Sources: []string{gz.Out}, Out: out, Shards: 2, Seed: 9}
		m, err := Rewrite(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		verifyOK(t, out)
		if got := readContents(t, out); !reflect.DeepEqual(want, got) {
			t.Errorf("gzip → %s: records differ from the source's", out)
		}
		manifests = append(manifests, m)
	}
	if !reflect.DeepEqual(manifests[0].Splits, manifests[1].Splits) {
		t.Errorf("the same reshard to a bucket and to disk wrote other shards:\n%v\n%v", manifests[0].Splits, manifests[1].Splits)
	}
}

// TestSHA256Option checks that convert and reshard record each shard's
// SHA-256 (besides its CRC-32C) only when asked, including the shards no
// record reached, and that the recorded digests are those of the files.
func TestSHA256Option(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "good.csv")
	cfg.SHA256 = true
	cfg.Shards = 8 // more shards than some splits have rows: empty shards too
	if _, err := Convert(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	checkSHA256(t, cfg.Out, true)
	for _, withSHA := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "out")
		if _, err := Rewrite(ctx, RewriteConfig{Sources: []string{cfg.Out}, Out: out, Shards: 2, SHA256: withSHA}); err != nil {
			t.Fatal(err)
		}
		checkSHA256(t, out, withSHA)
	}
}

// checkSHA256 checks that every shard of the dataset in dir records its
// CRC-32C, and its SHA-256 exactly when want is set.
func checkSHA256(t *testing.T, dir string, want bool) {
	t.Helper()
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			data, err := os.ReadFile(filepath.Join(dir, sh.File))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if wantSHA := map[bool]string{true: hex.EncodeToString(sum[:])}[want]; sh.SHA256 != wantSHA || sh.CRC32C == "" {
				t.Errorf("%s: sha256 %q crc32c %q, want sha256 %q and a crc32c", sh.File, sh.SHA256, sh.CRC32C, wantSHA)
			}
		}
	}
	verifyOK(t, dir)
}

// TestSpecDifferenceLateInField: two specs that differ only in the image
// encoding (a float32 dataset and its reshard --encoding uint8 copy, whose
// "image" values differ past their 80th character) are told apart by the
// field, with the differing encodings in what is shown.
func TestSpecDifferenceLateInField(t *testing.T) {
	a := planetSpec(t)
	b, err := reencodedSpec(a, "uint8")
	if err != nil {
		t.Fatal(err)
	}
	diff := specDifference(a, b)
	if !strings.HasPrefix(diff, `"image" is `) || !strings.Contains(diff, `"encoding":"float32"`) || !strings.Contains(diff, `"encoding":"uint8"`) {
		t.Errorf("got %q, want the image field named with both encodings", diff)
	}
	if strings.Contains(diff, "\n") {
		t.Errorf("got %q, want one line", diff)
	}
	if got := specDifference(a, a); got != "" {
		t.Errorf("same spec: got %q, want none", got)
	}
}

// TestRewriteRefusesAsync: a rewrite's lease is held by its launcher while
// the job runs, so an --async submission, which would return at once and
// release it, is refused (ErrConfig, naming the flag) before the output is
// touched.
func TestRewriteRefusesAsync(t *testing.T) {
	old := *jobopts.Async
	*jobopts.Async = true
	t.Cleanup(func() { *jobopts.Async = old })
	src := filepath.Join(t.TempDir(), "src")
	out := filepath.Join(t.TempDir(), "out")
	_, err := Rewrite(context.Background(), RewriteConfig{Sources: []string{src}, Out: out})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--async") {
		t.Errorf("got %v, want ErrConfig naming --async", err)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Error("a refused rewrite created its output")
	}
}

// TestReshardDryRunTouchesNothing: a dry run of reshard or merge, like
// convert's, prepares its output with Lease.Plan: an output holding an
// earlier dataset and a dead run's staging directory is left as it was (no
// roll-forward, no clean-up, no staging directory of its own).
func TestReshardDryRunTouchesNothing(t *testing.T) {
	ctx := context.Background()
	src := convertForTest(t, "good.csv", nil)
	out := convertForTest(t, "good.csv", nil)
	orphan := filepath.Join(out, ".tfprep-tmp-dead", "train-00000.x.tfrecord")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := func() []string {
		var names []string
		filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
			if err == nil {
				names = append(names, path)
			}
			return err
		})
		return names
	}
	before := tree()
	f := flag.Lookup("dry_run")
	if f == nil {
		t.Fatal("no --dry_run flag registered")
	}
	f.Value.Set("true")
	t.Cleanup(func() { f.Value.Set("false") })
	lease, err := dataset.Acquire(ctx, out, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := buildRewrite(ctx, RewriteConfig{Sources: []string{src}, Out: out, Shards: 3, Overwrite: true}, lease); err != nil {
		t.Fatal(err)
	}
	if err := lease.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if after := tree(); !slices.Equal(before, after) {
		t.Errorf("the dry run changed the output:\nbefore %v\nafter  %v", before, after)
	}
}

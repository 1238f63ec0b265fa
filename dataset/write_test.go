package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// chipJPEG is a small solid-colour JPEG whose colour depends on i.
func chipJPEG(i int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			img.Set(x, y, color.RGBA{uint8(40 * i), uint8(255 - 30*i), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// openChips serves "chip_N.jpg" (under any root) as chipJPEG(N); other
// names do not exist.
func openChips(_ context.Context, path string) (io.ReadCloser, error) {
	var i int
	if _, err := fmt.Sscanf(filepath.Base(path), "chip_%d.jpg", &i); err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	return io.NopCloser(bytes.NewReader(chipJPEG(i))), nil
}

// writeSample writes a dataset of the planet spec: split train with rows
// 0..4 in two shards (row 4's image is missing), split validation with
// rows 5, 6 in two shards of which the second receives no rows. It returns
// the directory and the manifest.
func writeSample(t testing.TB, c tfrecord.Compression, index bool) (string, *Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	m, err := sampleAssembly(t, dir, c, index, false, 2).Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// writeSampleAt writes writeSample's dataset to dir with the images under
// images, opened by openImage (nil: this package's storage).
func writeSampleAt(t testing.TB, dir, images string, openImage func(context.Context, string) (io.ReadCloser, error), c tfrecord.Compression, index bool) *Manifest {
	t.Helper()
	m, err := sampleAssemblyAt(t, dir, images, openImage, c, index, false, 2).Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sampleAssembly prepares dir (Create) and writes the temporary shards of
// 7 rows, one of them rejected, into trainShards train shards and 2
// validation shards, ready to Commit.
func sampleAssembly(t testing.TB, dir string, c tfrecord.Compression, index, overwrite bool, trainShards int) *Assembly {
	t.Helper()
	return sampleAssemblyAt(t, dir, "images", openChips, c, index, overwrite, trainShards)
}

// sampleAssemblyAt is sampleAssembly with the images under images, opened
// by openImage.
func sampleAssemblyAt(t testing.TB, dir, images string, openImage func(context.Context, string) (io.ReadCloser, error), c tfrecord.Compression, index, overwrite bool, trainShards int) *Assembly {
	t.Helper()
	return sampleAssemblyConfigured(t, dir, images, openImage, c, index, overwrite, trainShards, func(*ShardWriter) {})
}

// sampleAssemblyWith is sampleAssembly (uncompressed, no index, two train
// shards) with the ShardWriter changed by configure.
func sampleAssemblyWith(t testing.TB, dir string, configure func(*ShardWriter)) *Assembly {
	t.Helper()
	return sampleAssemblyConfigured(t, dir, "images", openChips, tfrecord.None, false, false, 2, configure)
}

func sampleAssemblyConfigured(t testing.TB, dir, images string, openImage func(context.Context, string) (io.ReadCloser, error), c tfrecord.Compression, index, overwrite bool, trainShards int, configure func(*ShardWriter)) *Assembly {
	t.Helper()
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	tempDir, err := Create(ctx, dir, overwrite)
	if err != nil {
		t.Fatal(err)
	}
	row := func(i int) Row {
		weather := make([]float32, 4)
		weather[i%4] = 1
		ground := make([]float32, 13)
		ground[i%13], ground[(i+3)%13] = 1, 1
		name := fmt.Sprintf("chip_%d", i)
		if i == 4 {
			name = "missing"
		}
		return Row{Line: i + 2, Key: fmt.Sprintf("chip_%d", i), Image: name + ".jpg", Labels: [][]float32{weather, ground}}
	}
	w := &ShardWriter{Spec: spec, Images: images, OpenImage: openImage, Compression: c, Index: index, Workers: 2}
	configure(w)
	a := &Assembly{Location: dir, TempDir: tempDir, Spec: spec, Compression: c, Index: index, Seed: 7, Overwrite: overwrite,
		CommandLine: []string{"test"}, ToolVersion: "(test)", Created: time.Unix(0, 0).UTC(),
		Splits: []SplitLayout{{Name: "train", Fraction: 0.7, Shards: trainShards}, {Name: "validation", Fraction: 0.3, Shards: 2}}}
	a.AddRead(7)
	a.AddWarning(Warning{Line: 3, Key: "chip_1", Reason: "doubtful"})
	for _, shard := range []struct {
		split string
		n     int
		rows  []int
	}{{"train", 0, []int{0, 2, 4}}, {"train", 1, []int{1, 3}}, {"validation", 0, []int{5, 6}}} {
		var rows []Row
		for _, i := range shard.rows {
			rows = append(rows, row(i))
		}
		res, rejected, err := w.WriteTemp(ctx, tempDir, shard.split, shard.n, rows)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rejected {
			a.AddRejected(r)
		}
		if err := a.AddShard(res); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestWriteAndOpen(t *testing.T) {
	ctx := context.Background()
	dir, m := writeSample(t, tfrecord.None, true)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"dataset.json", "errors.csv",
		"train-00000-of-00002.tfrecord", "train-00000-of-00002.tfrecord.idx",
		"train-00001-of-00002.tfrecord", "train-00001-of-00002.tfrecord.idx",
		"validation-00000-of-00002.tfrecord", "validation-00000-of-00002.tfrecord.idx",
		"validation-00001-of-00002.tfrecord", "validation-00001-of-00002.tfrecord.idx"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("dataset directory (-want +got):\n%s", diff)
	}
	if r := m.Rows; r.Read != 7 || r.Written != 6 || r.RejectedByStage[StageIO] != 1 || r.Warned != 1 {
		t.Errorf("got rows %+v, want read 7 = written 6 + 1 io reject, 1 warning", r)
	}
	train := m.Split("train")
	// Rows 0, 1, 2, 3 were written: weather 0, 1, 2, 3 and ground 0,3 1,4 2,5 3,6.
	if got := train.Labels[0].Counts; !slices.Equal(got, []int64{1, 1, 1, 1}) {
		t.Errorf("train weather counts %v, want [1 1 1 1]", got)
	}
	if got := train.Labels[1].Counts[3]; got != 2 {
		t.Errorf("train ground[3] count %d, want 2", got)
	}

	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, d.Manifest, cmpopts.IgnoreFields(Manifest{}, "Spec")); diff != "" {
		t.Errorf("opened manifest (-written +read):\n%s", diff)
	}
	if err := d.CheckSizes(ctx); err != nil {
		t.Error(err)
	}
	shards, err := d.Shards("validation")
	if err != nil {
		t.Fatal(err)
	}
	var records []int64
	for _, sh := range shards {
		n := int64(0)
		damage, err := d.Scan(ctx, sh, func(int64, []byte) error { n++; return nil })
		if err != nil || len(damage) > 0 {
			t.Fatalf("scan %s: %v, damage %v", sh.File, err, damage)
		}
		records = append(records, n)
	}
	if !slices.Equal(records, []int64{2, 0}) {
		t.Errorf("validation shards hold %v records, want [2 0]", records)
	}
	spec, err := ResolveSpec(ctx, dir)
	if err != nil || spec.Name != "planet" {
		t.Errorf("ResolveSpec(dir): got %v, %v; want the planet spec", spec, err)
	}
}

func TestCreateRefuses(t *testing.T) {
	ctx := context.Background()
	dir, _ := writeSample(t, tfrecord.GZIP, false)
	if _, err := Create(ctx, dir, false); !errors.Is(err, ErrOutputExists) {
		t.Errorf("without overwrite: got %v, want ErrOutputExists", err)
	}
	before, _ := os.ReadDir(dir)
	if _, err := Create(ctx, dir, true); err != nil {
		t.Errorf("overwrite: %v", err)
	}
	if after, _ := os.ReadDir(dir); len(after) != len(before) {
		t.Errorf("Create with overwrite changed the directory: %d files before, %d after; nothing may go before the commit", len(before), len(after))
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, dir, true); !errors.Is(err, ErrOutputExists) {
		t.Errorf("foreign file: got %v, want ErrOutputExists", err)
	}
	if _, err := Open(ctx, "ftp://host/out"); !errors.Is(err, ErrStorage) {
		t.Errorf("ftp:// location: got %v, want ErrStorage", err)
	}
}

func TestCommitInvariant(t *testing.T) {
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := &Assembly{Location: dir, TempDir: filepath.Join(dir, tempPrefix+"x"), Spec: spec, Splits: []SplitLayout{{Name: "train", Fraction: 1, Shards: 1}}}
	a.AddRead(5)
	if _, err := a.Commit(ctx); !errors.Is(err, ErrInvariant) {
		t.Fatalf("got %v, want ErrInvariant", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed commit left %d files", len(entries))
	}
}

// TestWritesShareLimits: Writes running at once on one ShardWriter share its
// reads in flight, fetch budget and decoders; each writes what it would
// have written alone; a Write cancelled half-way returns every token it
// held, so the next ones still run.
func TestWritesShareLimits(t *testing.T) {
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	const shards, perShard = 6, 40
	rowsOf := func(shard int) []Row {
		rows := make([]Row, perShard)
		for i := range rows {
			n := shard*perShard + i
			name := fmt.Sprintf("chip_%d.jpg", n%9)
			if n%17 == 0 {
				name = "missing.jpg"
			}
			weather, ground := make([]float32, 4), make([]float32, 13)
			weather[n%4], ground[n%13] = 1, 1
			rows[i] = Row{Line: n + 2, Key: fmt.Sprint(n), Image: name, Labels: [][]float32{weather, ground}}
		}
		return rows
	}
	type out struct {
		data     []byte
		rejected []ErrorRecord
	}
	write := func(ctx context.Context, w *ShardWriter, shard int) (out, error) {
		var buf bytes.Buffer
		_, rejected, err := w.Write(ctx, rowsOf(shard), &buf, nil)
		return out{buf.Bytes(), rejected}, err
	}

	want := make([]out, shards)
	alone := &ShardWriter{Spec: spec, Images: "images", OpenImage: openChips, Workers: 1, Fetch: 1}
	for s := range shards {
		var err error
		if want[s], err = write(context.Background(), alone, s); err != nil {
			t.Fatal(err)
		}
	}

	var inFlight, peak atomic.Int64
	cancelAt := atomic.Pointer[context.CancelFunc]{}
	w := &ShardWriter{Spec: spec, Images: "images", Workers: 2, Fetch: 3, FetchBytes: 1, // every image exceeds the budget alone
		OpenImage: func(ctx context.Context, path string) (io.ReadCloser, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			if c := cancelAt.Load(); c != nil && strings.HasSuffix(path, "chip_5.jpg") {
				(*c)()
			}
			time.Sleep(time.Millisecond)
			return openChips(ctx, path)
		}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a leaked token hangs a Write
	defer cancel()
	got := make([]out, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for s := range shards {
		wg.Go(func() { got[s], errs[s] = write(ctx, w, s) })
	}
	wg.Wait()
	for s := range shards {
		if errs[s] != nil {
			t.Fatalf("shard %d: %v", s, errs[s])
		}
		if !bytes.Equal(got[s].data, want[s].data) || !cmp.Equal(got[s].rejected, want[s].rejected) {
			t.Errorf("shard %d written at once with others differs from it written alone", s)
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("at most %d reads were in flight across %d Writes, want 2 or 3 (Fetch)", p, shards)
	}

	cctx, ccancel := context.WithCancel(ctx)
	cancelAt.Store(&ccancel)
	if _, err := write(cctx, w, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Write: got %v, want context.Canceled", err)
	}
	cancelAt.Store(nil)
	if _, _, err := w.Write(ctx, rowsOf(1), &failAfter{n: 10 << 10}, nil); err == nil {
		t.Fatal("a Write whose destination fails returned no error")
	}
	for s := range 2 {
		if again, err := write(ctx, w, s); err != nil || !bytes.Equal(again.data, want[s].data) {
			t.Fatalf("Write after a cancelled one: %v", err)
		}
	}
	l := &w.limits
	if len(l.ahead) != 0 || len(l.fetches) != 0 || len(l.decoders) != l.workers {
		t.Errorf("tokens left taken: %d rows ahead, %d reads, %d of %d decoders free", len(l.ahead), len(l.fetches), len(l.decoders), l.workers)
	}
}

// failAfter is a destination that takes n bytes and then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return f.n, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

package trainer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func TestOpenErrors(t *testing.T) {
	f := makeDataset(t, 10, 2, tfrecord.None, false)
	if _, err := Open(f.dir, "test"); !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), `no split "test" (have train)`) {
		t.Errorf("missing split: got %v", err)
	}
	if _, err := Open(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no manifest: got %v, want os.ErrNotExist", err)
	}
	shard := filepath.Join(f.dir, "train-00001-of-00002.tfrecord")
	if err := os.Truncate(shard, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f.dir); !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), "100 bytes, the manifest says") {
		t.Errorf("truncated shard: got %v", err)
	}
	os.Remove(shard)
	if _, err := Open(f.dir); !errors.Is(err, ErrDataset) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing shard: got %v", err)
	}
	if _, err := Glob(f.spec, filepath.Join(f.dir, "nothing-*")); !errors.Is(err, ErrDataset) {
		t.Errorf("empty glob: got %v", err)
	}
	if _, err := FromFiles(f.spec); !errors.Is(err, ErrDataset) {
		t.Errorf("no files: got %v", err)
	}
}

func TestGlobMatchesOpen(t *testing.T) {
	f := makeDataset(t, 20, 3, tfrecord.GZIP, false)
	ds, err := Glob(f.spec, filepath.Join(f.dir, "train-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Shards()) != 3 || ds.Shards()[0].Compression != tfrecord.GZIP || ds.Examples() != -1 {
		t.Errorf("got %+v, %d examples; want 3 gzip shards of unknown size", ds.Shards(), ds.Examples())
	}
	opts := Options{Shuffle: 5, BatchSize: 3, Seed: 2}
	if a, b := iterate(t, ds, opts), iterate(t, f.open(t), opts); len(a) != len(b) || !equalBatches(a, b) {
		t.Errorf("Glob and Open give different sequences")
	}
}

func equalBatches(a, b []batchKeys) bool {
	for i := range a {
		if a[i].Epoch != b[i].Epoch || strings.Join(a[i].Keys, ",") != strings.Join(b[i].Keys, ",") {
			return false
		}
	}
	return true
}

func TestOptionErrors(t *testing.T) {
	f := makeDataset(t, 10, 2, tfrecord.GZIP, false)
	ds := f.open(t)
	for _, o := range []Options{
		{BatchSize: -1},
		{Shuffle: -2},
		{NumWorkers: 2, WorkerIndex: 2},
		{NumWorkers: 3, WorkerIndex: 2},
		{GlobalShuffle: true},
		{ImageType: 7},
		{BlockLength: -1},
	} {
		if _, err := ds.Iter(context.Background(), o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: got %v, want ErrOptions", o, err)
		}
	}
	spec := smallSpec(t, 8, "float32")
	spec.Image.Mean, spec.Image.Std = []float32{0.5, 0.5, 0.5}, []float32{0.2, 0.2, 0.2}
	ds2, err := FromFiles(spec, ds.Shards()[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds2.Iter(context.Background(), Options{ImageType: Uint8}); !errors.Is(err, ErrOptions) {
		t.Errorf("uint8 output of normalised pixels: got %v, want ErrOptions", err)
	}
}

func TestGlobalShuffleUsesIndex(t *testing.T) {
	f := makeDataset(t, 12, 2, tfrecord.None, true)
	idx := dataset.IndexName(filepath.Join(f.dir, "train-00000-of-00002.tfrecord"))
	if err := os.WriteFile(idx, []byte("0 16\nbad line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := f.open(t).Iter(context.Background(), Options{GlobalShuffle: true})
	if !errors.Is(err, tfrecord.ErrIndex) || !strings.Contains(err.Error(), idx) {
		t.Errorf("bad sidecar: got %v, want tfrecord.ErrIndex naming %s", err, idx)
	}
}

func TestCloseEarly(t *testing.T) {
	f := makeDataset(t, 60, 4, tfrecord.None, false)
	ds := f.open(t)
	for _, global := range []bool{false, true} {
		it, err := ds.Iter(context.Background(), Options{Shuffle: 10, GlobalShuffle: global, BatchSize: 2, Epochs: -1, ReadAhead: 1, Prefetch: 1})
		if err != nil {
			t.Fatal(err)
		}
		drain(t, it, 3)
		it.Close()
		if _, err := it.Next(); err == nil {
			t.Errorf("global=%v: Next after Close: got no error", global)
		}
		it.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	it, err := ds.Iter(ctx, Options{Epochs: -1, BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	drain(t, it, 2)
	cancel()
	for err == nil {
		_, err = it.Next()
	}
	if !errors.Is(err, context.Canceled) && err != errClosed {
		t.Errorf("cancelled context: got %v", err)
	}
}

package trainer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// damage flips one byte in the data of record rec of shard file name and
// returns the record's offset.
func damage(t *testing.T, dir, name string, rec int) int64 {
	t.Helper()
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	index, err := tfrecord.BuildIndex(bytesReader(data))
	if err != nil {
		t.Fatal(err)
	}
	off := index[rec].Offset
	data[off+12+5] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return off
}

func TestCorruptRecord(t *testing.T) {
	for _, global := range []bool{false, true} {
		f := makeDataset(t, 40, 4, tfrecord.None, global)
		ds := f.open(t) // before the damage: the manifest's sizes still match
		off := damage(t, f.dir, "train-00002-of-00004.tfrecord", 3)
		opts := Options{Shuffle: 8, GlobalShuffle: global, BatchSize: 4, Epochs: 2}

		it, err := ds.Iter(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for err == nil {
			_, err = it.Next()
		}
		it.Close()
		var re *tfrecord.RecordError
		if !errors.As(err, &re) || !errors.Is(err, tfrecord.ErrCorrupt) {
			t.Fatalf("global=%v: got %v, want a *tfrecord.RecordError wrapping ErrCorrupt", global, err)
		}
		if want := filepath.Join(f.dir, "train-00002-of-00004.tfrecord"); re.Path != want || re.Offset != off || re.Record != 3 {
			t.Errorf("global=%v: got %s record %d offset %d, want %s record 3 offset %d", global, re.Path, re.Record, re.Offset, want, off)
		}

		opts.SkipCorrupt = true
		it, err = ds.Iter(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		epochs := perEpoch(drain(t, it, -1))
		stats := it.Stats()
		it.Close()
		lost := "synth_00014" // row 14 is record 3 of shard 2 (rows go round robin)
		want := slices.DeleteFunc(f.keys(), func(k string) bool { return k == lost })
		slices.Sort(want)
		for e := range 2 {
			got := slices.Sorted(slices.Values(epochs[e]))
			if !slices.Equal(got, want) {
				t.Errorf("global=%v epoch %d: got %d keys, want all %d but %s", global, e, len(got), len(want), lost)
			}
		}
		if len(stats.Skipped) != 2 {
			t.Errorf("global=%v: got %d skipped (%v), want 2 (one per epoch)", global, len(stats.Skipped), stats.Skipped)
		}
	}
}

func TestTruncatedCompressedShard(t *testing.T) {
	f := makeDataset(t, 40, 2, tfrecord.GZIP, false)
	ds := f.open(t)
	path := filepath.Join(f.dir, "train-00001-of-00002.tfrecord.gz")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	it, err := ds.Iter(context.Background(), Options{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for err == nil {
		_, err = it.Next()
	}
	var re *tfrecord.RecordError
	if !errors.As(err, &re) || !errors.Is(err, tfrecord.ErrTruncated) || re.Path != path {
		t.Errorf("got %v, want a RecordError for %s wrapping ErrTruncated", err, path)
	}
}

// TestExampleNotMatchingSpec: a record that is a valid TFRecord but whose
// Example lacks the spec's image is reported with its position.
func TestExampleNotMatchingSpec(t *testing.T) {
	dir := t.TempDir()
	spec := smallSpec(t, 8, "float32")
	path := filepath.Join(dir, "x.tfrecord")
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := tfrecord.NewWriter(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	good := spec.AppendExample(nil, schema.Row{Key: "k", Labels: []schema.Label{
		{Feature: "weather_labels", Values: make([]float32, 4)}, {Feature: "ground_labels", Values: make([]float32, 13)}}},
		make([]byte, 8*8*3*4))
	w.Write(good)
	w.Write(example.AppendExample(nil, []example.Feature{example.StringFeature("image_name", "bad")}))
	w.Write(good)
	w.Close()
	file.Close()
	ds, err := FromFiles(spec, path)
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.Iter(context.Background(), Options{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := it.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = it.Next()
	it.Close()
	var re *tfrecord.RecordError
	if !errors.As(err, &re) || re.Record != 1 || re.Path != path || !errors.Is(err, example.ErrMissing) {
		t.Errorf("got %v, want record 1 of %s, wrapping example.ErrMissing", err, path)
	}
	it, err = ds.Iter(context.Background(), Options{BatchSize: 1, SkipCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if got := len(drain(t, it, -1)); got != 2 || len(it.Stats().Skipped) != 1 {
		t.Errorf("skipping: got %d batches and %d skipped, want 2 and 1", got, len(it.Stats().Skipped))
	}
	if _, err := it.Next(); err != io.EOF {
		t.Errorf("after the end: got %v, want io.EOF", err)
	}
}

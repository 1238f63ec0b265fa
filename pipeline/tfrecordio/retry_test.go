package tfrecordio

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// iterOf returns a Beam iterator over values.
func iterOf[T any](values ...T) func(*T) bool {
	return func(v *T) bool {
		if len(values) == 0 {
			return false
		}
		*v, values = values[0], values[1:]
		return true
	}
}

// A shard written by two attempts of a bundle (the first failed after
// writing its file) is committed once, from the attempt the runner kept;
// the other attempt's file goes with the temporary directory, and a retried
// commit finds its work done.
func TestRetriedAttemptsLeaveNoDuplicates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := writeConfig{Prefix: filepath.Join(dir, "data"), TempDir: filepath.Join(dir, ".tfrecordio-tmp-test"), Compression: tfrecord.GZIP}
	records := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	var attempts []ShardFile
	for range 2 {
		w := &writeShardFn{Config: cfg}
		w.Setup()
		if err := w.ProcessElement(ctx, 0, iterOf(records...), func(f ShardFile) { attempts = append(attempts, f) }); err != nil {
			t.Fatal(err)
		}
	}
	if attempts[0].Temp == attempts[1].Temp {
		t.Fatalf("two attempts wrote the same temporary file %s", attempts[0].Temp)
	}
	commit := &commitFn{Config: cfg}
	for try := range 2 {
		var names []string
		err := commit.ProcessElement(ctx, 0, iterOf(2), iterOf(attempts[1]), func(name string) { names = append(names, name) })
		if err != nil {
			t.Fatalf("commit %d: %v", try, err)
		}
		if len(names) != 2 {
			t.Fatalf("commit %d: got files %v, want 2", try, names)
		}
	}
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{"data-00000-of-00002.tfrecord.gz", "data-00001-of-00002.tfrecord.gz"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("files: got %v, want %v", got, want)
	}
	r, err := tfrecord.Open(filepath.Join(dir, want[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			break
		}
		n++
	}
	if n != len(records) {
		t.Errorf("shard 0: got %d records, want %d", n, len(records))
	}
}

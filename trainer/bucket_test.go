package trainer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

// TestOpenBucket copies a dataset to the GCS and the S3 emulator and checks
// that Open reads it there: the same batches as from local disk, streamed
// and globally shuffled (ranged reads through the index sidecars).
func TestOpenBucket(t *testing.T) {
	ctx := context.Background()
	f := makeDataset(t, 24, 3, tfrecord.None, true)
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	optsList := []Options{{BatchSize: 5}, {BatchSize: 4, GlobalShuffle: true, Seed: 3, Epochs: 2}, {BatchSize: 3, Shuffle: 8, Seed: 1}}
	var want [][]batchKeys
	for _, o := range optsList {
		want = append(want, iterate(t, f.open(t), o))
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"gs", func(t *testing.T) string { return storagetest.StartGCS(t, "b").Location(t, "b", "ds") }},
		{"s3", func(t *testing.T) string { return storagetest.StartS3(t, "b").Location(t, "b", "ds") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.start(t)
			dir, err := storage.Open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := dir.WriteFile(ctx, e.Name(), data, nil); err != nil {
					t.Fatal(err)
				}
			}
			ds, err := Open(loc)
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range optsList {
				if got := iterate(t, ds, o); !slices.EqualFunc(got, want[i], func(a, b batchKeys) bool {
					return a.Epoch == b.Epoch && slices.Equal(a.Keys, b.Keys)
				}) {
					t.Errorf("options %+v: got %v, want %v", o, got, want[i])
				}
			}
		})
	}
}

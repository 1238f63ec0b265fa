package trainer

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/internal/synth"
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

// TestGlobAndFromCSVBucket: Glob and FromCSV read from the GCS and the S3
// emulator what they read from local disk.
func TestGlobAndFromCSVBucket(t *testing.T) {
	ctx := context.Background()
	f := makeDataset(t, 12, 3, tfrecord.GZIP, false)
	src := t.TempDir()
	csvPath, images := writeCSV(t, src, f.rows, synth.Options{Size: 16, Seed: 1})
	localShards, err := Glob(f.spec, filepath.Join(f.dir, "train-*"))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{BatchSize: 5, Shuffle: 4, Seed: 2}
	wantShards := iterate(t, localShards, opts)
	localCSV, err := FromCSV(f.spec, csvPath, images)
	if err != nil {
		t.Fatal(err)
	}
	wantCSV := allBatches(t, localCSV, Options{BatchSize: 5})
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"gs", func(t *testing.T) string { return storagetest.StartGCS(t, "b").Location(t, "b", "data") }},
		{"s3", func(t *testing.T) string { return storagetest.StartS3(t, "b").Location(t, "b", "data") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.start(t)
			at := func(name string) string { return storagetest.Join(loc, name) }
			dir, err := storage.Open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			for prefix, root := range map[string]string{"ds": f.dir, "csv": src} {
				err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
					if err != nil || e.IsDir() {
						return err
					}
					data, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(root, path)
					return dir.WriteFile(ctx, prefix+"/"+filepath.ToSlash(rel), data, nil)
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			shards, err := Glob(f.spec, at("ds/train-*"))
			if err != nil {
				t.Fatal(err)
			}
			if got := iterate(t, shards, opts); !slices.EqualFunc(got, wantShards, func(a, b batchKeys) bool {
				return a.Epoch == b.Epoch && slices.Equal(a.Keys, b.Keys)
			}) {
				t.Errorf("Glob: got %v, want %v", got, wantShards)
			}
			if _, err := Glob(f.spec, at("ds/nothing-*")); !errors.Is(err, ErrDataset) {
				t.Errorf("Glob matching nothing: got %v, want ErrDataset", err)
			}
			relCSV, _ := filepath.Rel(src, csvPath)
			relImages, _ := filepath.Rel(src, images)
			direct, err := FromCSV(f.spec, at("csv/"+filepath.ToSlash(relCSV)), at("csv/"+filepath.ToSlash(relImages)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantCSV, allBatches(t, direct, Options{BatchSize: 5})); diff != "" {
				t.Errorf("FromCSV from a bucket (-local +bucket):\n%s", diff)
			}
		})
	}
}

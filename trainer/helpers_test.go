package trainer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// smallSpec is the planet spec with tiny images, so tests stay fast.
func smallSpec(t testing.TB, size int, encoding string) *schema.Spec {
	t.Helper()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image.Width, spec.Image.Height, spec.Image.Encoding = size, size, encoding
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	return spec
}

type fixture struct {
	dir  string
	spec *schema.Spec
	rows []synth.Row
}

// makeDataset writes rows synthetic examples in shards shards of one split
// "train".
func makeDataset(t testing.TB, rows, shards int, c tfrecord.Compression, index bool) fixture {
	t.Helper()
	f := fixture{dir: t.TempDir(), spec: smallSpec(t, 8, "float32"), rows: synth.SampleRows(rows, 1)}
	_, err := synth.WriteDataset(f.dir, []synth.Split{{Name: "train", Rows: f.rows, Shards: shards}},
		synth.DatasetOptions{Spec: f.spec, Image: synth.Options{Size: 16, Seed: 1}, Compression: c, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// writeCSV writes rows as dir/planet.csv and their images (drawn with img)
// in dir/images, and returns the CSV's path and the images folder.
func writeCSV(t testing.TB, dir string, rows []synth.Row, img synth.Options) (csvPath, images string) {
	t.Helper()
	csvPath, images = filepath.Join(dir, "planet.csv"), filepath.Join(dir, "images")
	if err := synth.Generate(context.Background(), images, rows, img); err != nil {
		t.Fatal(err)
	}
	csvFile, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer csvFile.Close()
	if err := synth.WriteCSV(csvFile, rows); err != nil {
		t.Fatal(err)
	}
	return csvPath, images
}

// csvDataset reads f's rows straight from a CSV and images, as FromCSV does.
func csvDataset(t testing.TB, f fixture) *Dataset {
	t.Helper()
	csvPath, images := writeCSV(t, t.TempDir(), f.rows, synth.Options{Size: 16, Seed: 1})
	ds, err := FromCSV(f.spec, csvPath, images)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func (f fixture) keys() []string {
	keys := make([]string, len(f.rows))
	for i, r := range f.rows {
		keys[i] = r.Name
	}
	return keys
}

func (f fixture) open(t testing.TB) *Dataset {
	t.Helper()
	ds, err := Open(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// batchKeys is what a test remembers of a batch.
type batchKeys struct {
	Epoch int
	Keys  []string
}

// drain reads up to limit batches (all when limit < 0) and returns their keys.
func drain(t testing.TB, it *Iterator, limit int) []batchKeys {
	t.Helper()
	var out []batchKeys
	for limit < 0 || len(out) < limit {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, batchKeys{b.Epoch, slices.Clone(b.Keys)})
	}
	return out
}

func iterate(t testing.TB, ds *Dataset, opts Options) []batchKeys {
	t.Helper()
	it, err := ds.Iter(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	return drain(t, it, -1)
}

// perEpoch groups keys by epoch, in delivery order.
func perEpoch(batches []batchKeys) map[int][]string {
	out := map[int][]string{}
	for _, b := range batches {
		out[b.Epoch] = append(out[b.Epoch], b.Keys...)
	}
	return out
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

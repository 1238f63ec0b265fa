package trainer

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// wantRecords decodes every record of the dataset's shards directly, by key.
func wantRecords(t *testing.T, ds *Dataset) map[string]schema.Record {
	t.Helper()
	out := map[string]schema.Record{}
	for _, sh := range ds.Shards() {
		rd, err := tfrecord.Open(sh.Path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for {
			data, err := rd.Next()
			if err != nil {
				break
			}
			p, err := example.Parse(data, false)
			if err != nil {
				t.Fatal(err)
			}
			var rec schema.Record
			if err := ds.Spec().ReadExample(p, &rec); err != nil {
				t.Fatal(err)
			}
			out[rec.Key] = rec
		}
		rd.Close()
	}
	return out
}

func TestBatchContents(t *testing.T) {
	for _, c := range []tfrecord.Compression{tfrecord.None, tfrecord.GZIP} {
		f := makeDataset(t, 23, 3, c, false)
		ds := f.open(t)
		want := wantRecords(t, ds)
		for _, global := range []bool{false, true} {
			if global && c != tfrecord.None {
				continue
			}
			for _, typ := range []ImageType{Float32, Uint8} {
				it, err := ds.Iter(context.Background(), Options{Shuffle: 5, GlobalShuffle: global, BatchSize: 4, ImageType: typ, Parallelism: 2})
				if err != nil {
					t.Fatal(err)
				}
				seen := 0
				for {
					b, err := it.Next()
					if err != nil {
						break
					}
					if b.Images.Shape != [4]int{b.Len(), 8, 8, 3} {
						t.Fatalf("image shape %v", b.Images.Shape)
					}
					for i, key := range b.Keys {
						rec, ok := want[key]
						if !ok {
							t.Fatalf("unknown key %q", key)
						}
						seen++
						px := 8 * 8 * 3
						var floats []float32
						if typ == Float32 {
							floats = b.Images.Float32[i*px : (i+1)*px]
						}
						for j := range px {
							stored := math.Float32frombits(uint32(rec.Image[4*j]) | uint32(rec.Image[4*j+1])<<8 | uint32(rec.Image[4*j+2])<<16 | uint32(rec.Image[4*j+3])<<24)
							if typ == Float32 && floats[j] != stored {
								t.Fatalf("%s pixel %d: got %v, want %v", key, j, floats[j], stored)
							}
							if typ == Uint8 && float32(b.Images.Uint8[i*px+j])/255 != stored {
								t.Fatalf("%s pixel %d: got uint8 %d, want %v*255", key, j, b.Images.Uint8[i*px+j], stored)
							}
						}
						for k, lab := range b.Labels {
							size := lab.Shape[1]
							if diff := cmp.Diff(rec.Labels[k], lab.Values[i*size:(i+1)*size]); diff != "" {
								t.Fatalf("%s %s (-want +got):\n%s", key, lab.Feature, diff)
							}
						}
					}
				}
				it.Close()
				if seen != len(want) {
					t.Errorf("%v global=%v %v: saw %d examples, want %d", c, global, typ, seen, len(want))
				}
			}
		}
	}
}

// TestFromCSVSameBatches: reading the CSV and JPEGs directly gives the same
// tensors as reading the converted shards.
func TestFromCSVSameBatches(t *testing.T) {
	rows := synth.SampleRows(21, 4)
	img := synth.Options{Size: 24, Seed: 4}
	spec := smallSpec(t, 8, "float32")
	dir := t.TempDir()
	if _, err := synth.WriteDataset(filepath.Join(dir, "converted"), []synth.Split{{Name: "train", Rows: rows}},
		synth.DatasetOptions{Spec: spec, Image: img}); err != nil {
		t.Fatal(err)
	}
	csvPath, images := writeCSV(t, dir, rows, img)
	converted, err := Open(filepath.Join(dir, "converted"))
	if err != nil {
		t.Fatal(err)
	}
	direct, err := FromCSV(spec, csvPath, images)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []ImageType{Float32, Uint8} {
		opts := Options{BatchSize: 5, ImageType: typ}
		a, b := allBatches(t, converted, opts), allBatches(t, direct, opts)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%v: CSV batches differ from shard batches (-shards +csv):\n%s", typ, diff)
		}
	}
	// Shuffled, the CSV source is still each row once per epoch.
	got := perEpoch(iterate(t, direct, Options{BatchSize: 4, Shuffle: 1, Epochs: 2, Seed: 3, NumWorkers: 1}))
	for e := range 2 {
		if len(got[e]) != len(rows) {
			t.Errorf("epoch %d: got %d rows, want %d", e, len(got[e]), len(rows))
		}
	}
}

// allBatches copies every batch of one epoch.
func allBatches(t *testing.T, ds *Dataset, opts Options) []Batch {
	t.Helper()
	it, err := ds.Iter(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []Batch
	for {
		b, err := it.Next()
		if err != nil {
			break
		}
		c := *b
		c.Keys = append([]string(nil), b.Keys...)
		c.Images.Float32 = append([]float32(nil), b.Images.Float32...)
		c.Images.Uint8 = append([]uint8(nil), b.Images.Uint8...)
		c.Labels = nil
		for _, l := range b.Labels {
			l.Values = append([]float32(nil), l.Values...)
			c.Labels = append(c.Labels, l)
		}
		out = append(out, c)
	}
	return out
}

func TestFromCSVMissingImage(t *testing.T) {
	rows := synth.SampleRows(6, 4)
	dir := t.TempDir()
	if err := synth.Generate(context.Background(), filepath.Join(dir, "images"), rows[:5], synth.Options{Size: 16}); err != nil {
		t.Fatal(err)
	}
	csvFile, _ := os.Create(filepath.Join(dir, "planet.csv"))
	synth.WriteCSV(csvFile, rows)
	csvFile.Close()
	ds, err := FromCSV(smallSpec(t, 8, "uint8"), filepath.Join(dir, "planet.csv"), filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.Iter(context.Background(), Options{BatchSize: 6})
	if err != nil {
		t.Fatal(err)
	}
	_, err = it.Next()
	it.Close()
	if err == nil || !errorsIs(err, ErrImage) || !contains(err.Error(), "line 7") {
		t.Errorf("got %v, want ErrImage naming line 7", err)
	}
	it, err = ds.Iter(context.Background(), Options{BatchSize: 6, SkipCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	b, err := it.Next()
	if err != nil || b.Len() != 5 || len(it.Stats().Skipped) != 1 {
		t.Errorf("skipping: got batch of %d, err %v, %d skipped; want 5, nil, 1", b.Len(), err, len(it.Stats().Skipped))
	}
}

package trainer_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/trainer"
)

// writeChips writes a converted dataset of n Planet-like chips in the given
// number of shards with package dataset's writer, as "tfprep convert" would
// from a CSV and a folder of JPEGs; here the JPEGs are drawn in memory.
func writeChips(dir string, n, shards int) error {
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		return err
	}
	tempDir, err := dataset.Create(ctx, dir, true)
	if err != nil {
		return err
	}
	draw := func(_ context.Context, path string) (io.ReadCloser, error) {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := range img.Pix {
			img.Pix[i] = uint8(len(path) * i)
		}
		img.Set(0, 0, color.White)
		var buf bytes.Buffer
		err := jpeg.Encode(&buf, img, nil)
		return io.NopCloser(&buf), err
	}
	w := &dataset.ShardWriter{Spec: spec, OpenImage: draw}
	a := &dataset.Assembly{Location: dir, TempDir: tempDir, Spec: spec,
		Splits: []dataset.SplitLayout{{Name: "train", Fraction: 1, Shards: shards}}}
	a.AddRead(int64(n))
	for shard := range shards {
		var rows []dataset.Row
		for i := shard; i < n; i += shards {
			weather, ground := make([]float32, 4), make([]float32, 13)
			weather[i%4], ground[i%13] = 1, 1
			key := fmt.Sprintf("chip_%03d", i)
			rows = append(rows, dataset.Row{Line: i + 2, Key: key, Image: key + ".jpg", Labels: [][]float32{weather, ground}})
		}
		res, _, err := w.WriteTemp(ctx, tempDir, "train", shard, rows)
		if err != nil {
			return err
		}
		if err := a.AddShard(res); err != nil {
			return err
		}
	}
	_, err = a.Commit(ctx)
	return err
}

// A training job checkpoints the iterator's state with its model and, after
// a restart, resumes exactly where it stopped.
func ExampleDataset_Resume() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	if err := writeChips(dir, 20, 3); err != nil {
		panic(err)
	}
	ds, _ := trainer.Open(dir)
	opts := trainer.Options{BatchSize: 4, Shuffle: 8, Epochs: 2, Seed: 7}

	keys := func(it *trainer.Iterator, n int) (out []string) {
		for range n {
			b, err := it.Next()
			if err != nil {
				break
			}
			out = append(out, b.Keys...)
		}
		return out
	}
	it, _ := ds.Iter(context.Background(), opts)
	all := keys(it, 100)
	it.Close()

	it, _ = ds.Iter(context.Background(), opts)
	first := keys(it, 3) // three batches, then the job stops
	state := it.State()
	it.Close()

	resumed, _ := ds.Resume(context.Background(), opts, state)
	rest := keys(resumed, 100)
	resumed.Close()
	fmt.Println(len(all), len(first)+len(rest), slices.Equal(all, append(first, rest...)))
	// Output:
	// 40 40 true
}

func ExampleDataset_Iter() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	// A converted dataset: 10 Planet-like chips in 2 shards.
	if err := writeChips(dir, 10, 2); err != nil {
		panic(err)
	}

	ds, err := trainer.Open(dir, "train")
	if err != nil {
		panic(err)
	}
	it, err := ds.Iter(context.Background(), trainer.Options{BatchSize: 4, Shuffle: 8, Seed: 1})
	if err != nil {
		panic(err)
	}
	defer it.Close()
	for {
		batch, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(batch.Images.Shape, batch.Labels[0].Feature, batch.Labels[0].Shape, batch.Labels[1].Feature, batch.Labels[1].Shape)
	}
	fmt.Println(filepath.Base(ds.Shards()[0].Path), ds.Examples())
	// Output:
	// [4 128 128 3] weather_labels [4 4] ground_labels [4 13]
	// [4 128 128 3] weather_labels [4 4] ground_labels [4 13]
	// [2 128 128 3] weather_labels [2 4] ground_labels [2 13]
	// train-00000-of-00002.tfrecord 10
}

package trainer_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/trainer"
)

// A training job checkpoints the iterator's state with its model and, after
// a restart, resumes exactly where it stopped.
func ExampleDataset_Resume() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	synth.WriteDataset(dir, []synth.Split{{Name: "train", Rows: synth.SampleRows(20, 1), Shards: 3}},
		synth.DatasetOptions{Image: synth.Options{Size: 16}})
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
	// A converted dataset: 10 synthetic Planet chips in 2 shards.
	synth.WriteDataset(dir, []synth.Split{{Name: "train", Rows: synth.SampleRows(10, 1), Shards: 2}},
		synth.DatasetOptions{Image: synth.Options{Size: 32}})

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

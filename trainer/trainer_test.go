package trainer

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/tfrecord"
)

// TestExactlyOncePerEpoch checks, for combinations of every option that
// shapes the order, that each epoch delivers each of the worker's examples
// exactly once (fewer only by a dropped remainder), and that the workers'
// examples partition the dataset.
func TestExactlyOncePerEpoch(t *testing.T) {
	plain := makeDataset(t, 61, 5, tfrecord.None, false)
	gzipped := makeDataset(t, 61, 5, tfrecord.GZIP, false)
	type combo struct {
		name string
		f    fixture
		opts Options
	}
	var combos []combo
	for _, shuffle := range []int{0, 7, 1000} {
		for _, cycle := range []int{1, 2, 4} {
			for _, block := range []int{1, 3} {
				for _, batch := range []int{1, 8, 64} {
					opts := Options{Shuffle: shuffle, CycleLength: cycle, BlockLength: block, BatchSize: batch, Epochs: 2, Seed: 3}
					combos = append(combos, combo{fmt.Sprintf("shuffle%d/cycle%d/block%d/batch%d", shuffle, cycle, block, batch), plain, opts})
				}
			}
		}
	}
	for _, drop := range []bool{false, true} {
		combos = append(combos,
			combo{fmt.Sprintf("gzip/drop=%v", drop), gzipped, Options{Shuffle: 10, CycleLength: 3, BatchSize: 8, DropRemainder: drop, Epochs: 2}},
			combo{fmt.Sprintf("global/drop=%v", drop), plain, Options{GlobalShuffle: true, BatchSize: 8, DropRemainder: drop, Epochs: 2, Parallelism: 3}},
			combo{fmt.Sprintf("readahead1/drop=%v", drop), plain, Options{Shuffle: 16, ReadAhead: 1, Prefetch: 1, Parallelism: 1, BatchSize: 5, DropRemainder: drop, Epochs: 3}},
		)
	}
	for _, c := range combos {
		for _, workers := range []int{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/workers%d", c.name, workers), func(t *testing.T) {
				ds := c.f.open(t)
				var union []string
				for w := range workers {
					opts := c.opts
					opts.NumWorkers, opts.WorkerIndex = workers, w
					batches := iterate(t, ds, opts)
					epochs := perEpoch(batches)
					if len(epochs) != opts.Epochs {
						t.Fatalf("worker %d: got %d epochs, want %d", w, len(epochs), opts.Epochs)
					}
					first := slices.Sorted(slices.Values(epochs[0]))
					for e := range opts.Epochs {
						got := slices.Sorted(slices.Values(epochs[e]))
						if len(slices.Compact(slices.Clone(got))) != len(got) {
							t.Fatalf("worker %d epoch %d: a key was delivered twice", w, e)
						}
						if !opts.DropRemainder && !slices.Equal(got, first) {
							t.Fatalf("worker %d: epoch %d delivered other keys than epoch 0 (-epoch0 +epoch%d):\n%s", w, e, e, cmp.Diff(first, got))
						}
					}
					for _, b := range batches {
						if len(b.Keys) > opts.BatchSize || (opts.DropRemainder && len(b.Keys) != opts.BatchSize) {
							t.Fatalf("worker %d: got a batch of %d, want %d (drop remainder %v)", w, len(b.Keys), opts.BatchSize, opts.DropRemainder)
						}
					}
					if opts.DropRemainder {
						// A dropped remainder is smaller than a batch.
						shardKeys := workerKeys(t, ds, opts)
						if got, want := len(epochs[0]), len(shardKeys)/opts.BatchSize*opts.BatchSize; got != want {
							t.Fatalf("worker %d: got %d examples per epoch, want %d", w, got, want)
						}
						continue
					}
					union = append(union, first...)
				}
				if c.opts.DropRemainder {
					return
				}
				slices.Sort(union)
				want := slices.Sorted(slices.Values(c.f.keys()))
				if diff := cmp.Diff(want, union); diff != "" {
					t.Errorf("workers' examples do not partition the dataset (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// workerKeys reads a worker's examples one epoch, without shuffling or
// dropping.
func workerKeys(t *testing.T, ds *Dataset, opts Options) []string {
	plain := Options{NumWorkers: opts.NumWorkers, WorkerIndex: opts.WorkerIndex}
	return perEpoch(iterate(t, ds, plain))[0]
}

// TestOrderIndependentOfParallelism: parallel read-ahead and assembly do not
// change the sequence.
func TestOrderIndependentOfParallelism(t *testing.T) {
	f := makeDataset(t, 80, 6, tfrecord.None, false)
	ds := f.open(t)
	base := Options{Shuffle: 20, CycleLength: 3, BlockLength: 2, BatchSize: 7, Epochs: 3, Seed: 11}
	want := iterate(t, ds, Options{Shuffle: 20, CycleLength: 3, BlockLength: 2, BatchSize: 7, Epochs: 3, Seed: 11, Parallelism: 1, ReadAhead: 1, Prefetch: 1})
	for _, p := range []struct{ parallelism, readAhead, prefetch int }{{4, 32, 8}, {2, 3, 1}, {8, 1, 16}} {
		opts := base
		opts.Parallelism, opts.ReadAhead, opts.Prefetch = p.parallelism, p.readAhead, p.prefetch
		for run := range 3 {
			if diff := cmp.Diff(want, iterate(t, ds, opts)); diff != "" {
				t.Fatalf("%+v run %d: sequence differs from the sequential one (-sequential +parallel):\n%s", p, run, diff)
			}
		}
	}
}

func TestShuffleChangesWithEpochAndSeed(t *testing.T) {
	f := makeDataset(t, 60, 4, tfrecord.None, false)
	ds := f.open(t)
	for _, global := range []bool{false, true} {
		opts := Options{Shuffle: 30, GlobalShuffle: global, BatchSize: 60, Epochs: 2, Seed: 1}
		a := perEpoch(iterate(t, ds, opts))
		if slices.Equal(a[0], a[1]) {
			t.Errorf("global=%v: epochs 0 and 1 have the same order", global)
		}
		opts.Seed = 2
		b := perEpoch(iterate(t, ds, opts))
		if slices.Equal(a[0], b[0]) {
			t.Errorf("global=%v: seeds 1 and 2 give the same order", global)
		}
		if slices.Equal(a[0], f.keys()) {
			t.Errorf("global=%v: shuffled order is the file order", global)
		}
	}
}

// TestUnshuffledOrder pins the interleave order on a small case worked out by
// hand: 3 shards of rows 0,3,6,.. / 1,4,7,.. / 2,5,8,.., cycle 2, block 2.
func TestUnshuffledOrder(t *testing.T) {
	f := makeDataset(t, 12, 3, tfrecord.None, false)
	got := perEpoch(iterate(t, f.open(t), Options{CycleLength: 2, BlockLength: 2, BatchSize: 12}))[0]
	name := func(i int) string { return fmt.Sprintf("synth_%05d", i) }
	// Shard 0 holds 0 3 6 9, shard 1 holds 1 4 7 10, shard 2 holds 2 5 8 11.
	// Slots: [s0 s1]; take 2 from s0, 2 from s1, 2 from s0 (done, s2 takes
	// its slot), 2 from s1 (done), then s2 alone.
	var want []string
	for _, i := range []int{0, 3, 1, 4, 6, 9, 7, 10, 2, 5, 8, 11} {
		want = append(want, name(i))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("interleave order (-want +got):\n%s", diff)
	}
}

func TestRepeatForever(t *testing.T) {
	f := makeDataset(t, 10, 2, tfrecord.None, false)
	it, err := f.open(t).Iter(context.Background(), Options{Epochs: -1, BatchSize: 4, Shuffle: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	batches := drain(t, it, 40)
	if len(batches) != 40 || batches[39].Epoch != 13 {
		t.Errorf("got %d batches ending in epoch %d, want 40 ending in epoch 13", len(batches), batches[len(batches)-1].Epoch)
	}
}

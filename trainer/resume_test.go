package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/tfrecord"
)

// TestResumeEquivalence stops iterators at random batches, resumes from
// their state and checks that the resumed sequence is exactly the rest of the
// uninterrupted one, across epochs and modes.
func TestResumeEquivalence(t *testing.T) {
	plain := makeDataset(t, 75, 5, tfrecord.None, false)
	zlib := makeDataset(t, 75, 5, tfrecord.ZLIB, false)
	indexed := makeDataset(t, 75, 5, tfrecord.None, true)
	tests := []struct {
		name string
		f    fixture
		opts Options
	}{
		{"shuffle", plain, Options{Shuffle: 20, CycleLength: 3, BlockLength: 2, BatchSize: 6, Epochs: 3, Seed: 5}},
		{"big shuffle", plain, Options{Shuffle: 500, CycleLength: 2, BatchSize: 4, Epochs: 2, Seed: 6}},
		{"no shuffle", plain, Options{CycleLength: 4, BatchSize: 7, Epochs: 2}},
		{"drop remainder", plain, Options{Shuffle: 9, BatchSize: 8, DropRemainder: true, Epochs: 3, Seed: 7}},
		{"compressed", zlib, Options{Shuffle: 15, CycleLength: 2, BlockLength: 3, BatchSize: 5, Epochs: 2, Seed: 8}},
		{"worker", plain, Options{Shuffle: 10, BatchSize: 3, Epochs: 2, NumWorkers: 2, WorkerIndex: 1, Seed: 9}},
		{"global", indexed, Options{GlobalShuffle: true, BatchSize: 6, Epochs: 3, Seed: 10}},
		{"global scan", plain, Options{GlobalShuffle: true, BatchSize: 8, Epochs: 2, Seed: 11}},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := tt.f.open(t)
			full := iterate(t, ds, tt.opts)
			points := []int{0, 1, len(full) - 1, len(full)}
			for range 5 {
				points = append(points, 1+rng.IntN(len(full)-1))
			}
			for _, k := range points {
				it, err := ds.Iter(context.Background(), tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				head := drain(t, it, k)
				state := it.State()
				it.Close()
				var tail []batchKeys
				if state == nil {
					tail = iterate(t, ds, tt.opts)
				} else {
					// Resume with different performance options: they must not matter.
					opts := tt.opts
					opts.Parallelism, opts.ReadAhead, opts.Prefetch = 1, 2, 1
					resumed, err := ds.Resume(context.Background(), opts, state)
					if err != nil {
						t.Fatalf("after %d batches: %v", k, err)
					}
					tail = drain(t, resumed, -1)
					resumed.Close()
				}
				if diff := cmp.Diff(full, append(head, tail...)); diff != "" {
					t.Fatalf("stopped after %d of %d batches (state %d bytes): resumed sequence differs (-uninterrupted +resumed):\n%s",
						k, len(full), len(state), diff)
				}
			}
		})
	}
}

func TestStateSize(t *testing.T) {
	f := makeDataset(t, 300, 4, tfrecord.None, false)
	ds := f.open(t)
	for _, tt := range []struct {
		opts Options
		max  int
	}{
		{Options{Shuffle: 200, BatchSize: 10, Seed: 1}, 64 + 200*10},
		{Options{GlobalShuffle: true, BatchSize: 10}, 40},
	} {
		it, err := ds.Iter(context.Background(), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		drain(t, it, 5)
		if got := len(it.State()); got > tt.max {
			t.Errorf("%+v: state is %d bytes, want at most %d", tt.opts, got, tt.max)
		}
		it.Close()
	}
}

func TestResumeRefusesOtherOptions(t *testing.T) {
	f := makeDataset(t, 30, 3, tfrecord.None, false)
	ds := f.open(t)
	opts := Options{Shuffle: 10, BatchSize: 4, Seed: 1}
	it, err := ds.Iter(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, it, 2)
	state := it.State()
	it.Close()
	changed := []Options{
		{Shuffle: 10, BatchSize: 4, Seed: 2},
		{Shuffle: 11, BatchSize: 4, Seed: 1},
		{Shuffle: 10, BatchSize: 5, Seed: 1},
		{Shuffle: 10, BatchSize: 4, Seed: 1, CycleLength: 1},
		{Shuffle: 10, BatchSize: 4, Seed: 1, NumWorkers: 3, WorkerIndex: 0},
		{Shuffle: 10, BatchSize: 4, Seed: 1, GlobalShuffle: true},
	}
	for _, o := range changed {
		if _, err := ds.Resume(context.Background(), o, state); !errors.Is(err, ErrState) {
			t.Errorf("%+v: got %v, want ErrState", o, err)
		}
	}
	for i := range state {
		if i == len(stateMagic)+8 {
			continue // the mode byte: flipping 0 to 1 is caught by the mode check, tested above
		}
		bad := bytes.Clone(state)
		bad[i] ^= 0x80
		if _, err := ds.Resume(context.Background(), opts, bad); err == nil {
			// A flipped varint continuation bit can still decode; then the
			// fingerprint or a range check must refuse it, or the resumed
			// state must still be a valid one.
			continue
		} else if !errors.Is(err, ErrState) {
			t.Fatalf("byte %d flipped: got %v, want ErrState", i, err)
		}
	}
	if _, err := ds.Resume(context.Background(), opts, state[:len(state)-1]); !errors.Is(err, ErrState) {
		t.Errorf("truncated state: got %v, want ErrState", err)
	}
}

func FuzzUnmarshalCheckpoint(f *testing.F) {
	f.Add((&checkpoint{mode: modeRandom, epoch: 3, batch: 7}).marshal())
	f.Add((&checkpoint{mode: modeStream, rng: make([]byte, 20), nextPos: 2, cur: 1,
		slots:  []slotPos{{open: true, pos: 1, shard: 2, index: 5, offset: 900, taken: 1}, {}},
		buffer: []recordID{{shard: 1, index: 3, offset: 400, length: 120}}}).marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := unmarshalCheckpoint(data)
		if err != nil {
			if !errors.Is(err, ErrState) {
				t.Fatalf("got %v, want ErrState", err)
			}
			return
		}
		again, err := unmarshalCheckpoint(c.marshal())
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if fmt.Sprint(again) != fmt.Sprint(c) {
			t.Fatalf("round trip: got %+v, want %+v", again, c)
		}
	})
}

package trainer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/tfrecord"
)

// TestHoldoutStable pins the part of a few keys: a change of the hash would
// silently move examples between training and validation of existing runs.
// The expected keys were computed in Python from the documented
// construction (FNV-1a over "holdout", seed, key; splitmix64 finaliser).
func TestHoldoutStable(t *testing.T) {
	var held []string
	h := Holdout{Fraction: 0.25, Seed: 1}
	for i := range 24 {
		if key := fmt.Sprintf("train_%d", i); h.Held(key) {
			held = append(held, key)
		}
	}
	want := []string{"train_4", "train_5", "train_6", "train_10", "train_11", "train_17"}
	if diff := cmp.Diff(want, held); diff != "" {
		t.Errorf("held-out keys of train_0..23 at 0.25, seed 1 (-want +got):\n%s", diff)
	}
	other := Holdout{Fraction: 0.25, Seed: 2}
	same := 0
	for i := range 1000 {
		key := fmt.Sprintf("train_%d", i)
		if h.Held(key) == other.Held(key) {
			same++
		}
	}
	// Independent parts agree on 0.25² + 0.75² = 62.5% of keys.
	if same < 580 || same > 670 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 keys, want about 625 (independent parts)", same)
	}
}

// TestHoldoutFraction checks that the held-out share is near the fraction:
// within four standard deviations of a binomial draw.
func TestHoldoutFraction(t *testing.T) {
	const n = 20000
	for _, f := range []float64{0.01, 0.1, 0.2, 0.5, 0.9} {
		h := Holdout{Fraction: f, Seed: 7}
		held := 0
		for i := range n {
			if h.Held(fmt.Sprintf("img_%05d", i)) {
				held++
			}
		}
		sd := math.Sqrt(n * f * (1 - f))
		if math.Abs(float64(held)-n*f) > 4*sd {
			t.Errorf("fraction %v: held out %d of %d, want %.0f ± %.0f", f, held, n, n*f, 4*sd)
		}
	}
}

func TestHoldoutValidate(t *testing.T) {
	ds := makeDataset(t, 10, 1, tfrecord.None, false).open(t)
	for _, f := range []float64{0, 1, -0.1, 1.5, math.NaN()} {
		if _, _, err := ds.Holdout(Holdout{Fraction: f}); !errorsIs(err, ErrOptions) {
			t.Errorf("fraction %v: got %v, want ErrOptions", f, err)
		}
	}
	f := makeDataset(t, 10, 1, tfrecord.None, false)
	f.spec.Key.Omit = true
	keyless, err := FromFiles(f.spec, f.open(t).Shards()[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keyless.Holdout(Holdout{Fraction: 0.5}); !errorsIs(err, ErrOptions) {
		t.Errorf("spec without key: got %v, want ErrOptions", err)
	}
}

// TestHoldoutParts checks, over reading modes, that the two parts are
// disjoint, together hold every example exactly once per epoch, that each
// part is the set Holdout.Held names, the same in every epoch and run.
func TestHoldoutParts(t *testing.T) {
	f := makeDataset(t, 400, 4, tfrecord.None, true)
	h := Holdout{Fraction: 0.2, Seed: 3}
	var wantHeld, wantRest []string
	for _, k := range f.keys() {
		if h.Held(k) {
			wantHeld = append(wantHeld, k)
		} else {
			wantRest = append(wantRest, k)
		}
	}
	slices.Sort(wantHeld)
	slices.Sort(wantRest)
	if len(wantHeld) < 60 || len(wantHeld) > 100 {
		t.Fatalf("%d of 400 keys held out at 0.2, want about 80", len(wantHeld))
	}
	csvDS := csvDataset(t, f)
	for _, c := range []struct {
		name string
		ds   *Dataset
		opts Options
	}{
		{"stream", f.open(t), Options{BatchSize: 16, Epochs: 2}},
		{"stream/shuffle/workers", f.open(t), Options{BatchSize: 7, Shuffle: 50, CycleLength: 2, Epochs: 2, Seed: 9, NumWorkers: 2}},
		{"csv", csvDS, Options{BatchSize: 16, Epochs: 2, Shuffle: 10}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rest, held, err := c.ds.Holdout(h)
			if err != nil {
				t.Fatal(err)
			}
			workers := max(c.opts.NumWorkers, 1)
			for _, p := range []struct {
				name string
				ds   *Dataset
				want []string
			}{{"rest", rest, wantRest}, {"held", held, wantHeld}} {
				var epochs [2][]string
				for w := range workers {
					opts := c.opts
					opts.WorkerIndex = w
					for e, keys := range perEpoch(iterate(t, p.ds, opts)) {
						epochs[e] = append(epochs[e], keys...)
					}
				}
				for e, keys := range epochs {
					slices.Sort(keys)
					if diff := cmp.Diff(p.want, keys); diff != "" {
						t.Errorf("%s, epoch %d (-want +got):\n%s", p.name, e, diff)
					}
				}
			}
			if c.ds.csv != nil {
				if got := rest.Examples() + held.Examples(); got != 400 || held.Examples() != int64(len(wantHeld)) {
					t.Errorf("CSV parts count %d + %d examples, want %d + %d", rest.Examples(), held.Examples(), 400-len(wantHeld), len(wantHeld))
				}
			} else if rest.Examples() != -1 {
				t.Errorf("a part of shards claims %d examples, want -1 (unknown)", rest.Examples())
			}
		})
	}
}

func TestHoldoutNested(t *testing.T) {
	f := makeDataset(t, 200, 2, tfrecord.None, false)
	outer := Holdout{Fraction: 0.5, Seed: 1}
	inner := Holdout{Fraction: 0.5, Seed: 2}
	rest, _, err := f.open(t).Holdout(outer)
	if err != nil {
		t.Fatal(err)
	}
	_, both, err := rest.Holdout(inner)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range f.keys() {
		if !outer.Held(k) && inner.Held(k) {
			want = append(want, k)
		}
	}
	slices.Sort(want)
	got := perEpoch(iterate(t, both, Options{}))[0]
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("held part of the rest (-want +got):\n%s", diff)
	}
}

func TestHoldoutRefusesGlobalShuffle(t *testing.T) {
	_, held, err := makeDataset(t, 20, 1, tfrecord.None, true).open(t).Holdout(Holdout{Fraction: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := held.Iter(context.Background(), Options{GlobalShuffle: true}); !errorsIs(err, ErrOptions) {
		t.Errorf("got %v, want ErrOptions", err)
	}
}

// TestHoldoutResume checks that a checkpoint of a part resumes exactly, and
// is refused by the other part.
func TestHoldoutResume(t *testing.T) {
	rest, held, err := makeDataset(t, 120, 3, tfrecord.None, false).open(t).Holdout(Holdout{Fraction: 0.3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{BatchSize: 8, Shuffle: 20, Epochs: 2, Seed: 1}
	all := iterate(t, rest, opts)
	it, err := rest.Iter(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	first := drain(t, it, 5)
	state := it.State()
	it.Close()
	if _, err := held.Resume(context.Background(), opts, state); !errorsIs(err, ErrState) {
		t.Errorf("resuming the held part from the rest's state: got %v, want ErrState", err)
	}
	it, err = rest.Resume(context.Background(), opts, state)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	got := append(first, drain(t, it, -1)...)
	if diff := cmp.Diff(all, got); diff != "" {
		t.Errorf("resumed batches (-want +got):\n%s", diff)
	}
}

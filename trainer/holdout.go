package trainer

import (
	"fmt"
	"math"

	"github.com/tfprep/tfprep/dataset"
)

// Holdout divides examples into two disjoint parts by a seeded hash of their
// keys, for validating on a dataset that has a single split. An example's
// part depends only on its key, the fraction and the seed: never on the
// order, the sharding or the other keys, so the same key is held out in
// every run, every epoch and every worker, and examples that share a key
// always land in the same part.
//
// A key is held out when the top 32 bits of dataset.KeyHash(Seed,
// "holdout", key) are below round(Fraction * 2^32): the hash "tfprep
// convert" assigns splits with, under its own purpose, so a hold-out taken
// from a converted split is independent of how that split was drawn.
type Holdout struct {
	Fraction float64 // share of keys held out, in (0, 1)
	Seed     uint64
}

// Validate reports a fraction outside (0, 1).
func (h Holdout) Validate() error {
	if !(h.Fraction > 0 && h.Fraction < 1) {
		return fmt.Errorf("%w: hold-out fraction %v (want a number between 0 and 1, exclusive)", ErrOptions, h.Fraction)
	}
	return nil
}

// Held reports whether key belongs to the held-out part.
func (h Holdout) Held(key string) bool {
	bound := uint64(math.Round(h.Fraction * (1 << 32)))
	return holdoutHash(h.Seed, key)>>32 < bound
}

func holdoutHash(seed uint64, key string) uint64 { return dataset.KeyHash(seed, "holdout", key) }

// part is one side of a Holdout.
type part struct {
	holdout Holdout
	held    bool
}

// Holdout returns d's two parts under h: rest (the examples whose keys are
// not held out, for training) and held (for validation). Both iterate like
// d, with any options, skipping the other part's examples as they are read:
// an epoch of rest plus an epoch of held is an epoch of d, each example in
// exactly one of them. A part of a shard dataset does not know its size
// ([Dataset.Examples] returns -1) and cannot be iterated with GlobalShuffle,
// which reads records by offset without their keys; a part of a CSV dataset
// (whose keys are known when it is opened) can. Parts can be divided again.
// d's examples must have keys: a spec that omits the key cannot be divided.
func (d *Dataset) Holdout(h Holdout) (rest, held *Dataset, err error) {
	if err := h.Validate(); err != nil {
		return nil, nil, err
	}
	if d.csv == nil && d.spec.Key.Omit {
		return nil, nil, fmt.Errorf("%w: spec %q stores no key, and a hold-out is drawn by key", ErrOptions, d.spec.Name)
	}
	return d.withPart(part{h, false}), d.withPart(part{h, true}), nil
}

// withPart returns a copy of d restricted to p.
func (d *Dataset) withPart(p part) *Dataset {
	v := *d
	v.parts = append(append([]part(nil), d.parts...), p)
	if d.csv != nil {
		src := *d.csv
		src.rows = nil
		for _, row := range d.csv.rows {
			if p.holdout.Held(row.Key) == p.held {
				src.rows = append(src.rows, row)
			}
		}
		v.csv = &src
	}
	return &v
}

// keeps reports whether the example with key belongs to every part d is
// restricted to.
func (d *Dataset) keeps(key string) bool {
	for _, p := range d.parts {
		if p.holdout.Held(key) != p.held {
			return false
		}
	}
	return true
}

package trainer

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// TestReadDigestWorkersAddUp checks the digest's promise: each worker's
// epoch holds its records once, and the workers' key hashes add up to the
// hash of the keys of one reader, which is the hash of every key.
func TestReadDigestWorkersAddUp(t *testing.T) {
	f := makeDataset(t, 23, 4, tfrecord.None, false)
	ds := f.open(t)
	var want uint64
	for _, k := range f.keys() {
		h := fnv.New64a()
		io.WriteString(h, k)
		want += h.Sum64()
	}
	var sum uint64
	var examples, records int64
	for w := range 3 {
		opts := Options{BatchSize: 4, Epochs: 2, Shuffle: 8, Seed: 3, NumWorkers: 3, WorkerIndex: w}
		d, err := ReadDigest(context.Background(), "train", ds, opts)
		if err != nil {
			t.Fatal(err)
		}
		if d.Verdict != "exactly once" {
			t.Errorf("worker %d: got verdict %q, want exactly once", w, d.Verdict)
		}
		if len(d.Epochs) != 2 || d.Epochs[0].KeyHash != d.Epochs[1].KeyHash {
			t.Fatalf("worker %d: got epochs %+v, want two with the same key hash", w, d.Epochs)
		}
		var h uint64
		fmt.Sscanf(d.Epochs[0].KeyHash, "%x", &h)
		sum += h
		examples += d.Epochs[0].Examples
		records += d.Records
	}
	if got, wantHash := fmt.Sprintf("%016x", sum), fmt.Sprintf("%016x", want); got != wantHash {
		t.Errorf("workers' key hashes add up to %s, want %s", got, wantHash)
	}
	if examples != 23 || records != 23 {
		t.Errorf("workers delivered %d examples of %d records, want 23 of 23", examples, records)
	}
}

// TestReadDigestLabelSums checks the label sums against the rows' labels.
func TestReadDigestLabelSums(t *testing.T) {
	f := makeDataset(t, 11, 2, tfrecord.None, false)
	d, err := ReadDigest(context.Background(), "train", f.open(t), Options{BatchSize: 3, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, l := range d.Labels {
		if len(l.Names) != len(l.Values) || len(l.Sums) != len(l.Names) {
			t.Errorf("%s: got %d names, %d values, %d sums", l.Feature, len(l.Names), len(l.Values), len(l.Sums))
		}
		for _, v := range l.Values {
			total += v
		}
	}
	var want float64
	for _, r := range f.rows {
		for _, v := range r.Weather {
			want += float64(v)
		}
		for _, v := range r.Ground {
			want += float64(v)
		}
	}
	if total != want || !strings.HasPrefix(d.Verdict, "exactly") {
		t.Errorf("got label total %g and verdict %q, want %g and exactly once", total, d.Verdict, want)
	}
}

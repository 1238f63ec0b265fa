package trainer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"
)

// Digest is what iterating a dataset delivered ("tfprep read"): throughput,
// per epoch the examples, distinct keys and key multiset hash (the sum mod
// 2^64 of the FNV-1a hashes of the delivered keys, independent of order;
// the hashes of workers 0..n-1 add up to a single reader's), a verdict on
// "each of the worker's records exactly once per epoch", and per label how
// many delivered examples have it. Its JSON form is read's --json output.
type Digest struct {
	Split       string        `json:"split"`
	Shards      int           `json:"shards"`
	Records     int64         `json:"records"` // the worker's records per the manifest; -1 unknown
	Epochs      []EpochDigest `json:"epochs"`
	Examples    int64         `json:"examples"`
	Batches     int64         `json:"batches"`
	Bytes       int64         `json:"bytes"`
	Seconds     float64       `json:"seconds"`
	ExamplesPS  float64       `json:"examples_per_second"`
	MBPS        float64       `json:"mb_per_second"`
	MemoryBound int64         `json:"memory_bound_bytes"`
	Verdict     string        `json:"verdict"`
	Labels      []LabelSums   `json:"labels"`
	Skipped     []string      `json:"skipped,omitempty"`
}

// EpochDigest is one epoch of a Digest.
type EpochDigest struct {
	Epoch    int    `json:"epoch"`
	Examples int64  `json:"examples"`
	Distinct int    `json:"distinct_keys"`
	KeyHash  string `json:"key_multiset_hash"`
}

// LabelSums is, for one label feature, the sum of each label's values over
// every delivered example of every epoch.
type LabelSums struct {
	Feature string             `json:"feature"`
	Sums    map[string]float64 `json:"sums"`
	Names   []string           `json:"-"` // label names in vector order
	Values  []float64          `json:"-"` // sums, in the order of Names
}

// WorkerRecords is the number of records the shards of worker o.WorkerIndex
// of o.NumWorkers hold, or -1 when the manifest does not say.
func (ds *Dataset) WorkerRecords(o Options) int64 {
	shards := ds.Shards()
	if shards == nil {
		if o.NumWorkers <= 1 {
			return ds.Examples()
		}
		n := ds.Examples()
		return (n - int64(o.WorkerIndex) + int64(o.NumWorkers) - 1) / int64(o.NumWorkers)
	}
	var n int64
	for i, sh := range shards {
		if i%max(o.NumWorkers, 1) != o.WorkerIndex {
			continue
		}
		if sh.Records < 0 {
			return -1
		}
		n += sh.Records
	}
	return n
}

// ReadDigest iterates ds with opts to the end, as a training job would, and
// digests what was delivered; name is the split's, for the report. Verdict
// is "exactly once", "FAILED: ..." or "not checked (...)": the check needs
// stored keys, every batch (no DropRemainder) and no skipped records.
func ReadDigest(ctx context.Context, name string, ds *Dataset, opts Options) (Digest, error) {
	d := Digest{Split: name, Shards: len(ds.Shards()), Records: ds.WorkerRecords(opts)}
	labels := ds.Spec().LabelFeatures()
	sums := make([][]float64, len(labels))
	for k, l := range labels {
		sums[k] = make([]float64, l.Size)
	}
	start := time.Now()
	it, err := ds.Iter(ctx, opts)
	if err != nil {
		return d, err
	}
	defer it.Close()
	d.MemoryBound = it.MemoryBound()
	type epochState struct {
		digest EpochDigest
		hash   uint64
		seen   map[string]int
	}
	var epochs []*epochState
	keyed := !ds.Spec().Key.Omit
	for {
		b, err := it.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return d, err
		}
		for len(epochs) <= b.Epoch {
			epochs = append(epochs, &epochState{digest: EpochDigest{Epoch: len(epochs)}, seen: map[string]int{}})
		}
		e := epochs[b.Epoch]
		for _, key := range b.Keys {
			h := fnv.New64a()
			io.WriteString(h, key)
			e.hash += h.Sum64()
			e.seen[key]++
		}
		e.digest.Examples += int64(b.Len())
		for k, l := range b.Labels {
			size := l.Shape[1]
			for i, v := range l.Values {
				sums[k][i%size] += float64(v)
			}
		}
	}
	stats := it.Stats()
	d.Seconds = time.Since(start).Seconds()
	d.Examples, d.Batches, d.Bytes = stats.Examples, stats.Batches, stats.Bytes
	d.ExamplesPS = float64(d.Examples) / d.Seconds
	d.MBPS = float64(d.Bytes) / d.Seconds / 1e6
	for _, s := range stats.Skipped {
		d.Skipped = append(d.Skipped, s.Error())
	}
	d.Verdict = "exactly once"
	for _, e := range epochs {
		e.digest.Distinct = len(e.seen)
		e.digest.KeyHash = fmt.Sprintf("%016x", e.hash)
		d.Epochs = append(d.Epochs, e.digest)
		switch {
		case !keyed || opts.DropRemainder || len(d.Skipped) > 0:
			d.Verdict = "not checked (no keys, --drop-remainder or skipped records)"
		case int64(e.digest.Distinct) != e.digest.Examples:
			d.Verdict = fmt.Sprintf("FAILED: epoch %d delivered %d examples but %d distinct keys", e.digest.Epoch, e.digest.Examples, e.digest.Distinct)
		case d.Records >= 0 && e.digest.Examples != d.Records:
			d.Verdict = fmt.Sprintf("FAILED: epoch %d delivered %d examples, the shards hold %d", e.digest.Epoch, e.digest.Examples, d.Records)
		}
		if strings.HasPrefix(d.Verdict, "FAILED") || strings.HasPrefix(d.Verdict, "not") {
			break
		}
	}
	for k, l := range labels {
		ls := LabelSums{Feature: l.Feature, Sums: map[string]float64{}, Values: sums[k]}
		for i, v := range sums[k] {
			name := fmt.Sprint(i)
			if i < len(l.Names) {
				name = l.Names[i]
			}
			ls.Sums[name] = v
			ls.Names = append(ls.Names, name)
		}
		d.Labels = append(d.Labels, ls)
	}
	return d, nil
}

// WriteText writes the digest for people, as "tfprep read" prints it.
func (d Digest) WriteText(w io.Writer) error {
	var b strings.Builder
	shards, records := fmt.Sprintf("%d shards", d.Shards), "unknown"
	if d.Shards == 1 {
		shards = "1 shard"
	}
	if d.Records >= 0 {
		records = fmt.Sprint(d.Records)
	}
	fmt.Fprintf(&b, "split %s: %s, %s records for this worker\n", d.Split, shards, records)
	for _, e := range d.Epochs {
		fmt.Fprintf(&b, "  epoch %d: %d examples, %d distinct keys, key multiset hash %s\n", e.Epoch, e.Examples, e.Distinct, e.KeyHash)
	}
	fmt.Fprintf(&b, "  verdict: %s\n", d.Verdict)
	for _, l := range d.Labels {
		fmt.Fprintf(&b, "  %s:", l.Feature)
		for i, name := range l.Names {
			fmt.Fprintf(&b, " %s=%g", name, l.Values[i])
		}
		b.WriteByte('\n')
	}
	for _, s := range d.Skipped {
		fmt.Fprintf(&b, "  skipped: %s\n", s)
	}
	fmt.Fprintf(&b, "  read %d examples in %d batches, %.1f MB in %.2fs: %.0f examples/s, %.1f MB/s (memory bound %.1f MB)\n",
		d.Examples, d.Batches, float64(d.Bytes)/1e6, d.Seconds, d.ExamplesPS, d.MBPS, float64(d.MemoryBound)/1e6)
	_, err := io.WriteString(w, b.String())
	return err
}

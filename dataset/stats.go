package dataset

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// Statistics is what Stats computes over the records of a dataset.
type Statistics struct {
	Dir        string         `json:"dir"`
	Splits     []SplitStats   `json:"splits"`
	Duplicates []DuplicateKey `json:"duplicate_keys"` // empty when every key is unique
	KeysStored bool           `json:"keys_stored"`    // false: the spec omits the key, duplicates unknown
	Damaged    int            `json:"damaged"`        // damaged byte ranges skipped, over all shards
}

// SplitStats are the statistics of one split.
type SplitStats struct {
	Name            string        `json:"name"`
	Records         int64         `json:"records"`          // read from the shards
	ManifestRecords int64         `json:"manifest_records"` // dataset.json's count
	Shards          int           `json:"shards"`
	Pixels          PixelStats    `json:"pixels"`
	Labels          []LabelStats  `json:"labels"`
	Damage          []ShardDamage `json:"damage,omitempty"`
}

// PixelStats holds per-channel moments on the 0..1 scale (pixel/255): the
// numbers a spec's image.mean and image.std take.
type PixelStats struct {
	Channels []string  `json:"channels"` // "R", "G", "B" (, "A") or "gray"
	Mean     []float64 `json:"mean"`
	Std      []float64 `json:"std"`
}

// LabelStats is the label histogram of one label feature.
type LabelStats struct {
	Feature        string   `json:"feature"`
	Names          []string `json:"names"`
	Counts         []int64  `json:"counts"`          // examples with label i set
	ManifestCounts []int64  `json:"manifest_counts"` // dataset.json's counts; null when it recorded none
}

// DuplicateKey is a key stored more than once.
type DuplicateKey struct {
	Key   string   `json:"key"`
	Where []string `json:"where"` // "shard#record" of every occurrence
}

// Stats reads every record of the named splits (all when none is named) and
// computes, per split, the record count, the pixel mean and standard
// deviation (for a spec that normalises, stored values are mapped back to
// pixels first) and the label histograms, and over all splits the keys that
// occur more than once. A damaged shard does not stop the count: its
// readable records are counted and the damaged ranges listed.
func Stats(ctx context.Context, d *Dataset, splits ...string) (*Statistics, error) {
	if len(splits) == 0 {
		splits = d.Manifest.SplitNames()
	}
	spec := d.Spec
	opts := spec.ImageOptions()
	st := &Statistics{Dir: d.Location, KeysStored: !spec.Key.Omit}
	seen := map[string][]string{}
	var keys []string // first-seen order, for a stable report
	var rec schema.Record
	for _, name := range splits {
		shards, err := d.Shards(name)
		if err != nil {
			return nil, err
		}
		sp := d.Manifest.Split(name)
		ss := SplitStats{Name: name, ManifestRecords: sp.Records, Shards: len(sp.Shards)}
		counts := newLabelCounts(spec)
		var moments pixelMoments
		for _, sh := range shards {
			damage, err := d.Scan(ctx, sh, func(index int64, data []byte) error {
				where := sh.File + "#" + strconv.FormatInt(index, 10)
				parsed, err := example.Parse(data, true)
				if err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				if err := spec.ReadExample(parsed, &rec); err != nil {
					return fmt.Errorf("%s: %w", where, err)
				}
				img, err := imageprep.DecodeOutput(rec.Image, opts)
				if err != nil {
					return fmt.Errorf("%s: image: %w", where, err)
				}
				moments.add(img)
				counts.add(rec.Labels)
				if st.KeysStored {
					if _, ok := seen[rec.Key]; !ok {
						keys = append(keys, rec.Key)
					}
					seen[rec.Key] = append(seen[rec.Key], where)
				}
				ss.Records++
				return nil
			})
			if err != nil {
				return nil, err
			}
			ss.Damage = append(ss.Damage, damage...)
		}
		ss.Pixels = moments.stats()
		for _, lc := range counts.manifest() {
			ls := LabelStats{Feature: lc.Feature, Names: lc.Names, Counts: lc.Counts}
			for _, recorded := range sp.Labels {
				if recorded.Feature == lc.Feature {
					ls.ManifestCounts = recorded.Counts
				}
			}
			ss.Labels = append(ss.Labels, ls)
		}
		st.Damaged += len(ss.Damage)
		st.Splits = append(st.Splits, ss)
	}
	st.Duplicates = []DuplicateKey{}
	for _, k := range keys {
		if where := seen[k]; len(where) > 1 {
			st.Duplicates = append(st.Duplicates, DuplicateKey{Key: k, Where: where})
		}
	}
	return st, nil
}

// pixelMoments accumulates exact integer sums of 0..255 pixel values, so the
// mean and variance do not depend on the order records are read in.
type pixelMoments struct {
	n     uint64   // pixels per channel
	sum   []uint64 // per channel
	sumSq []uint64
}

func (m *pixelMoments) add(img *imageprep.Image) {
	if m.sum == nil {
		m.sum = make([]uint64, img.Channels)
		m.sumSq = make([]uint64, img.Channels)
	}
	c := img.Channels
	for i := 0; i+c <= len(img.Pix); i += c {
		for ch, v := range img.Pix[i : i+c] {
			m.sum[ch] += uint64(v)
			m.sumSq[ch] += uint64(v) * uint64(v)
		}
	}
	m.n += uint64(len(img.Pix) / c)
}

func (m *pixelMoments) stats() PixelStats {
	names := map[int][]string{1: {"gray"}, 3: {"R", "G", "B"}, 4: {"R", "G", "B", "A"}}[len(m.sum)]
	ps := PixelStats{Channels: names, Mean: make([]float64, len(m.sum)), Std: make([]float64, len(m.sum))}
	if m.n == 0 {
		return ps
	}
	n := float64(m.n)
	for ch := range m.sum {
		mean := float64(m.sum[ch]) / n
		variance := max(0, float64(m.sumSq[ch])/n-mean*mean)
		ps.Mean[ch] = mean / 255
		ps.Std[ch] = math.Sqrt(variance) / 255
	}
	return ps
}

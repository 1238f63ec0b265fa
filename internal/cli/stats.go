package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register(&Command{
		Name:  "stats",
		Args:  "[--split NAME] [--json] DIR",
		Short: "count records, labels, pixel mean/std and duplicate keys of a dataset",
		Long: `Stats reads every record of a converted dataset and reports, per split:

  records   how many the shards hold, beside what dataset.json recorded
  pixels    per-channel mean and standard deviation on the 0..1 scale (pixel/255),
            the numbers to put in a spec's image.mean and image.std; for a spec that
            already normalises, the stored values are mapped back to pixels first
  labels    for every label feature, how many examples have each label set
            (value != 0), with the label names from the spec, beside the counts
            dataset.json recorded; a difference is marked with "!"

and over all splits the keys that occur more than once, with where they occur.

A damaged shard does not stop the count: its readable records are counted, the damaged
byte ranges are reported and the exit code is 3. Use "tfprep verify DIR" to check a dataset
against its manifest.` + statsExamples,
		Flags: statsFlags,
	})
}

const statsExamples = `

Examples:
  tfprep stats out/demo
  tfprep stats out/demo --split train --json | jq '.splits[0].pixels'`

type statsConfig struct {
	split string
	json  bool
}

func statsFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &statsConfig{}
	fs.StringVar(&cfg.split, "split", "", "only this split (default: all splits)")
	fs.BoolVar(&cfg.json, "json", false, "print the statistics as JSON")
	return func(ctx context.Context, env *Env, args []string) error {
		return runStats(ctx, env, cfg, args)
	}
}

func runStats(ctx context.Context, env *Env, cfg *statsConfig, args []string) error {
	if len(args) != 1 {
		return usagef("want one dataset directory, got %d arguments", len(args))
	}
	ds, err := openDataset(args[0])
	if err != nil {
		return err
	}
	var splits []string
	if cfg.split != "" {
		splits = []string{cfg.split}
	}
	st, err := computeStats(ctx, ds, splits)
	if err != nil {
		return err
	}
	if cfg.json {
		if err := writeJSON(env.Stdout, st); err != nil {
			return err
		}
	} else {
		printStats(env.Stdout, st)
	}
	if st.Damaged > 0 {
		return partialf("damaged byte ranges skipped: %d; the counts cover the readable records only", st.Damaged)
	}
	return nil
}

// datasetStats is what stats prints; its JSON form is the --json output.
type datasetStats struct {
	Dir        string         `json:"dir"`
	Splits     []splitStats   `json:"splits"`
	Duplicates []duplicateKey `json:"duplicate_keys"` // empty when every key is unique
	KeysStored bool           `json:"keys_stored"`    // false: the spec omits the key, duplicates unknown
	Damaged    int            `json:"damaged"`        // damaged byte ranges skipped, over all shards
}

type splitStats struct {
	Name            string        `json:"name"`
	Records         int64         `json:"records"`          // read from the shards
	ManifestRecords int64         `json:"manifest_records"` // dataset.json's count
	Shards          int           `json:"shards"`
	Pixels          pixelStats    `json:"pixels"`
	Labels          []labelStats  `json:"labels"`
	Damage          []shardDamage `json:"damage,omitempty"`
}

// pixelStats holds per-channel moments on the 0..1 scale.
type pixelStats struct {
	Channels []string  `json:"channels"` // "R", "G", "B" (, "A") or "gray"
	Mean     []float64 `json:"mean"`
	Std      []float64 `json:"std"`
}

type labelStats struct {
	Feature        string   `json:"feature"`
	Names          []string `json:"names"`
	Counts         []int64  `json:"counts"`          // examples with label i set
	ManifestCounts []int64  `json:"manifest_counts"` // dataset.json's counts; null when it recorded none
}

type duplicateKey struct {
	Key   string   `json:"key"`
	Where []string `json:"where"` // "shard#record" of every occurrence
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

func (m *pixelMoments) stats() pixelStats {
	names := map[int][]string{1: {"gray"}, 3: {"R", "G", "B"}, 4: {"R", "G", "B", "A"}}[len(m.sum)]
	ps := pixelStats{Channels: names, Mean: make([]float64, len(m.sum)), Std: make([]float64, len(m.sum))}
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

func computeStats(ctx context.Context, ds *datasetDir, splits []string) (*datasetStats, error) {
	if len(splits) == 0 {
		splits = ds.manifest.SplitNames()
	}
	spec := ds.spec
	opts := spec.ImageOptions()
	labels := spec.LabelFeatures()
	st := &datasetStats{Dir: ds.dir, KeysStored: !spec.Key.Omit}
	seen := map[string][]string{}
	var keys []string // first-seen order, for a stable report
	var rec schema.Record
	for _, name := range splits {
		sp := ds.manifest.Split(name)
		if sp == nil {
			return nil, fmt.Errorf("%s: no split %q (have %s)", ds.dir, name, strings.Join(ds.manifest.SplitNames(), ", "))
		}
		ss := splitStats{Name: name, ManifestRecords: sp.Records, Shards: len(sp.Shards)}
		counts := make([][]int64, len(labels))
		for i, l := range labels {
			counts[i] = make([]int64, l.Size)
		}
		var moments pixelMoments
		for _, sh := range sp.Shards {
			damage, err := scanShard(ctx, filepath.Join(ds.dir, sh.File), true, func(index int64, data []byte) error {
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
				for i, values := range rec.Labels {
					for j, v := range values {
						if v != 0 && j < len(counts[i]) {
							counts[i][j]++
						}
					}
				}
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
		for i, l := range labels {
			ls := labelStats{Feature: l.Feature, Names: labelNames(l), Counts: counts[i]}
			for _, lc := range sp.Labels {
				if lc.Feature == l.Feature {
					ls.ManifestCounts = lc.Counts
				}
			}
			ss.Labels = append(ss.Labels, ls)
		}
		st.Damaged += len(ss.Damage)
		st.Splits = append(st.Splits, ss)
	}
	st.Duplicates = []duplicateKey{}
	for _, k := range keys {
		if where := seen[k]; len(where) > 1 {
			st.Duplicates = append(st.Duplicates, duplicateKey{Key: k, Where: where})
		}
	}
	return st, nil
}

func printStats(w io.Writer, st *datasetStats) {
	for i, ss := range st.Splits {
		if i > 0 {
			fmt.Fprintln(w)
		}
		mark := ""
		if ss.Records != ss.ManifestRecords {
			mark = " !"
		}
		fmt.Fprintf(w, "split %s: %d records in %d shards (dataset.json: %d)%s\n", ss.Name, ss.Records, ss.Shards, ss.ManifestRecords, mark)
		for _, d := range ss.Damage {
			fmt.Fprintf(w, "  damaged: %s\n", d)
		}
		// One left column wide enough for every row name of the split.
		width := len("pixels (0..1)")
		for _, ls := range ss.Labels {
			width = max(width, len(ls.Feature))
			for _, name := range ls.Names {
				width = max(width, len(name)+2)
			}
		}
		fmt.Fprintf(w, "  %-*s", width, "pixels (0..1)")
		for _, c := range ss.Pixels.Channels {
			fmt.Fprintf(w, " %7s", c)
		}
		for _, row := range []struct {
			name   string
			values []float64
		}{{"  mean", ss.Pixels.Mean}, {"  std", ss.Pixels.Std}} {
			fmt.Fprintf(w, "\n  %-*s", width, row.name)
			for _, v := range row.values {
				fmt.Fprintf(w, " %7.4f", v)
			}
		}
		fmt.Fprintln(w)
		for _, ls := range ss.Labels {
			fmt.Fprintf(w, "  %-*s %7s %13s\n", width, ls.Feature, "count", "dataset.json")
			for j, name := range ls.Names {
				recorded, mark := "-", ""
				if ls.ManifestCounts != nil {
					recorded = "?"
					if j < len(ls.ManifestCounts) {
						recorded = strconv.FormatInt(ls.ManifestCounts[j], 10)
					}
					if recorded != strconv.FormatInt(ls.Counts[j], 10) {
						mark = " !"
					}
				}
				fmt.Fprintf(w, "    %-*s %7d %13s%s\n", width-2, name, ls.Counts[j], recorded, mark)
			}
		}
	}
	fmt.Fprintln(w)
	switch {
	case !st.KeysStored:
		fmt.Fprintln(w, "duplicate keys: unknown (the spec does not store keys)")
	case len(st.Duplicates) == 0:
		fmt.Fprintln(w, "duplicate keys: none")
	default:
		fmt.Fprintf(w, "duplicate keys: %d\n", len(st.Duplicates))
		for _, d := range st.Duplicates {
			fmt.Fprintf(w, "  %q: %s\n", d.Key, strings.Join(d.Where, ", "))
		}
	}
}

// labelNames returns a label feature's vocabulary, or the positions "0",
// "1", ... when the spec gives only a size.
func labelNames(l schema.LabelInfo) []string {
	if len(l.Names) == l.Size {
		return l.Names
	}
	names := make([]string, l.Size)
	for i := range names {
		names[i] = strconv.Itoa(i)
	}
	return names
}

// datasetDir is a converted dataset opened for reading: its manifest and the
// spec embedded in it.
type datasetDir struct {
	dir      string
	manifest *dataset.Manifest
	spec     *schema.Spec
}

func openDataset(dir string) (*datasetDir, error) {
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	spec, err := schema.Parse(m.Spec, "json", filepath.Join(dir, dataset.ManifestName)+": spec")
	if err != nil {
		return nil, err
	}
	return &datasetDir{dir: dir, manifest: m, spec: spec}, nil
}

// shardFile is one shard of a split, located on disk.
type shardFile struct {
	split string
	file  string // base name
	path  string
}

// shards lists the shards of the named splits (all when none are named) in
// manifest order.
func (d *datasetDir) shards(splits []string) ([]shardFile, error) {
	if len(splits) == 0 {
		splits = d.manifest.SplitNames()
	}
	var out []shardFile
	for _, name := range splits {
		sp := d.manifest.Split(name)
		if sp == nil {
			return nil, fmt.Errorf("%s: no split %q (have %s)", d.dir, name, strings.Join(d.manifest.SplitNames(), ", "))
		}
		for _, sh := range sp.Shards {
			out = append(out, shardFile{split: name, file: sh.File, path: filepath.Join(d.dir, sh.File)})
		}
	}
	return out, nil
}

// shardDamage is a byte range of a shard that could not be read.
type shardDamage struct {
	Shard  string `json:"shard"`
	Offset int64  `json:"offset"` // uncompressed stream offset
	Length int64  `json:"length"` // -1: up to the end of the shard
	Reason string `json:"reason"`
}

func (d shardDamage) String() string {
	if d.Length < 0 {
		return fmt.Sprintf("%s: from byte %d to the end: %s", d.Shard, d.Offset, d.Reason)
	}
	return fmt.Sprintf("%s: bytes %d..%d: %s", d.Shard, d.Offset, d.Offset+d.Length, d.Reason)
}

// scanShard calls fn with every record of the shard at path, numbered from
// 0. With recover, damaged ranges are skipped and returned instead of ending
// the scan; without it the first damage is the error. An error from fn stops
// the scan and is returned.
func scanShard(ctx context.Context, path string, recover bool, fn func(index int64, rec []byte) error) ([]shardDamage, error) {
	r, err := tfrecord.Open(path, &tfrecord.ReaderOptions{ReuseBuffer: true, Recover: recover})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var damage []shardDamage
	base := filepath.Base(path)
	for index := int64(0); ; index++ {
		if index%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && recover {
			// Damage the reader cannot step over, such as a broken
			// compressed stream, ends the shard; the rest is lost.
			damage = append(damage, shardDamage{Shard: base, Offset: r.Offset(), Length: -1, Reason: err.Error()})
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := fn(index, rec); err != nil {
			return nil, err
		}
	}
	var skipped []shardDamage
	for _, d := range r.Skipped() {
		skipped = append(skipped, shardDamage{Shard: base, Offset: d.Offset, Length: d.Length, Reason: d.Err.Error()})
	}
	return append(skipped, damage...), nil
}

// reportDamage lists skipped byte ranges on stderr.
func reportDamage(env *Env, command string, damage []shardDamage) {
	for _, d := range damage {
		fmt.Fprintf(env.Stderr, "tfprep %s: damaged, skipped: %s\n", command, d)
	}
}

package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register.DoFn4x1[context.Context, SourceShard, func(Record), func(readCount), error](&readSourceShardFn{})
	register.DoFn1x2[Record, string, Record](&assignRecordFn{})
	register.DoFn4x1[context.Context, string, func(*Record) bool, func(dataset.ShardResult), error](&writeRecordsFn{})
	register.Emitter1[Record]()
	register.Iter1[Record]()
}

// ErrSpecMismatch: datasets to merge were written with different specs.
var ErrSpecMismatch = errors.New("pipeline: the datasets have different specs")

// RewriteConfig is one reshard (one source) or merge (several): converted
// datasets read and written again as one, with new sharding, compression,
// order or splits, their records copied byte for byte. No image is decoded.
type RewriteConfig struct {
	Sources []string // converted datasets (their directories); all with the same spec
	Out     string   // the output directory

	// Splits re-assigns every record to a split by the seeded hash of its
	// key, as convert does; nil keeps each record in its split.
	Splits    []SplitWeight
	Shards    int   // shards per split; 0: from ShardSize
	ShardSize int64 // target shard bytes when Shards is 0; 0: defaultShardSize

	Compression tfrecord.Compression // None (also the zero value Auto), GZIP or ZLIB
	Index       bool                 // DALI index sidecars; uncompressed only
	SHA256      bool                 // record each shard's SHA-256 besides its CRC-32C
	Seed        int64                // split assignment, shard assignment and order within a shard
	Overwrite   bool                 // replace an earlier dataset in Out

	CommandLine []string // recorded in the manifest
	ToolVersion string   // recorded in the manifest
	Runner      string   // overrides the --runner flag; both empty means DefaultRunner
}

// SourceShard is one shard of a source dataset, the unit the rewrite reads.
type SourceShard struct {
	Location string // the source dataset
	Split    string
	File     string // base name
	Path     string // full path
}

// Record is one Example of a source, as read.
type Record struct {
	Split string
	Shard int
	Key   string // the key feature; empty when the spec omits keys
	Data  []byte // the serialized Example, unchanged
}

// placeKey is what places a record: its key, or its bytes when the spec
// stores no key.
func (r *Record) placeKey() string {
	if r.Key != "" {
		return r.Key
	}
	return string(r.Data)
}

// Rewrite builds and runs the reshard or merge pipeline for cfg and returns
// the manifest it wrote. Its guarantees are Convert's: shards under
// temporary names until one final step commits them and writes the manifest
// last, rows read (the sources' records) = records written, a layout and
// order that depend only on the sources, the options and the seed.
//
//	ReadShards    SourceShard → Record (+ readCount per shard); a damaged
//	              source shard fails the job
//	AssignShard   Record.Split (with Splits), Record.Shard by seeded key hash
//	WriteShards   GroupByKey; per shard: order by seeded key hash, write
//	              with dataset.RecordWriter to a temporary name
//	Finalize      as Convert's
//
// A shard's records are held in memory while it is written: a worker needs
// about the shard's size per shard it writes at a time.
func Rewrite(ctx context.Context, cfg RewriteConfig) (*dataset.Manifest, error) {
	launch, err := prepareLaunch(ctx, Config{Out: cfg.Out, Runner: cfg.Runner}, cmp.Or(cfg.Runner, *runners.Runner, DefaultRunner))
	if err != nil {
		return nil, err
	}
	defer launch.close()
	// The output's lease is held by this process while the job runs (also
	// for --async: a rewrite's Finalize does not release it).
	lease, err := dataset.Acquire(ctx, cfg.Out, strings.Join(cfg.CommandLine, " "), dataset.DefaultLeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p, tempDir, err := buildRewrite(ctx, cfg)
	if err != nil {
		lease.Release(context.WithoutCancel(ctx))
		return nil, err
	}
	return runJob(ctx, launch, p, tempDir, cfg.Out, lease, false)
}

// openSources opens every source and checks that they share one spec.
func openSources(ctx context.Context, sources []string) ([]*dataset.Dataset, []byte, error) {
	var sets []*dataset.Dataset
	var specJSON []byte
	for i, src := range sources {
		d, err := dataset.Open(ctx, src)
		if err != nil {
			return nil, nil, fmt.Errorf("pipeline: %w", err)
		}
		if err := d.CheckSizes(ctx); err != nil {
			return nil, nil, fmt.Errorf("pipeline: %s is damaged (see tfprep verify %s): %w", src, src, err)
		}
		js, err := d.Spec.Marshal()
		if err != nil {
			return nil, nil, fmt.Errorf("pipeline: %w", err)
		}
		if i == 0 {
			specJSON = js
		} else if diff := specDifference(sets[0].Spec, d.Spec); diff != "" {
			return nil, nil, fmt.Errorf("%w: %s and %s: %s", ErrSpecMismatch, sources[0], src, diff)
		}
		sets = append(sets, d)
	}
	return sets, specJSON, nil
}

// specDifference names the first top-level spec field in which a and b
// differ, with both values, or returns "" when they are the same spec.
func specDifference(a, b *schema.Spec) string {
	ja, errA := a.Marshal()
	jb, errB := b.Marshal()
	if errA != nil || errB != nil || bytes.Equal(ja, jb) {
		return ""
	}
	fa, fb := topLevelFields(ja), topLevelFields(jb)
	names := slices.Sorted(func(yield func(string) bool) {
		seen := map[string]bool{}
		for _, m := range []map[string]string{fa, fb} {
			for k := range m {
				if !seen[k] && !yield(k) {
					return
				}
				seen[k] = true
			}
		}
	})
	for _, name := range names {
		if fa[name] != fb[name] {
			return fmt.Sprintf("%q is %s in one and %s in the other", name, cmp.Or(fa[name], "absent"), cmp.Or(fb[name], "absent"))
		}
	}
	return "their canonical JSON differs"
}

// buildRewrite checks cfg and the sources, prepares the output directory and
// constructs the pipeline without running it.
func buildRewrite(ctx context.Context, cfg RewriteConfig) (*beam.Pipeline, string, error) {
	switch {
	case len(cfg.Sources) == 0:
		return nil, "", fmt.Errorf("%w: no source dataset", ErrConfig)
	case cfg.Out == "":
		return nil, "", fmt.Errorf("%w: no output directory", ErrConfig)
	case cfg.Shards < 0 || cfg.Shards > 99999:
		return nil, "", fmt.Errorf("%w: --shards %d not in [1, 99999]", ErrConfig, cfg.Shards)
	case cfg.ShardSize < 0:
		return nil, "", fmt.Errorf("%w: negative --shard-size", ErrConfig)
	case cfg.Index && cfg.Compression != tfrecord.None && cfg.Compression != tfrecord.Auto:
		return nil, "", fmt.Errorf("%w: --index needs uncompressed shards (DALI indexes byte offsets of the raw stream)", ErrConfig)
	}
	for _, src := range cfg.Sources {
		if sameLocation(src, cfg.Out) {
			return nil, "", fmt.Errorf("%w: the output %s is also a source", ErrConfig, cfg.Out)
		}
	}
	sets, specJSON, err := openSources(ctx, cfg.Sources)
	if err != nil {
		return nil, "", err
	}
	spec := sets[0].Spec
	splits := cfg.Splits
	if len(splits) > 0 {
		if err := (&Config{Spec: spec, CSV: "-", Images: "-", Out: cfg.Out, Splits: splits}).check(); err != nil {
			return nil, "", err
		}
		if spec.Key.Omit {
			return nil, "", fmt.Errorf("%w: --splits re-assigns records by the hash of their key, and the spec of %s omits the key (key.omit); reshard without --splits to keep each record in its split", ErrConfig, cfg.Sources[0])
		}
	}
	// Rows per output split: the sources' records per split, or, when
	// re-splitting, the records' expected share; shard counts follow from
	// them as in Convert.
	rows := map[string]int64{}
	var total int64
	var keep []SplitWeight
	for _, d := range sets {
		for _, sp := range d.Manifest.Splits {
			rows[sp.Name] += sp.Records
			total += sp.Records
			if !slices.ContainsFunc(keep, func(w SplitWeight) bool { return w.Name == sp.Name }) {
				keep = append(keep, SplitWeight{Name: sp.Name, Weight: max(sp.Fraction, math.SmallestNonzeroFloat64)})
			}
		}
	}
	if len(splits) == 0 {
		splits = keep
	} else {
		var weights float64
		for _, sp := range splits {
			weights += sp.Weight
		}
		rows = map[string]int64{}
		for _, sp := range splits {
			rows[sp.Name] = int64(math.Round(float64(total) * sp.Weight / weights))
		}
	}
	sharding := shardPlan{Shards: cfg.Shards, ShardSize: cfg.ShardSize, ExampleBytes: exampleBytes(spec)}
	if sharding.Shards == 0 && sharding.ShardSize == 0 {
		sharding.ShardSize = defaultShardSize
	}
	layout := map[string]int{}
	var counts []splitCount
	for _, sp := range splits {
		layout[sp.Name] = sharding.Count(rows[sp.Name])
		counts = append(counts, splitCount{Split: sp.Name, Rows: rows[sp.Name]})
	}
	var shards []SourceShard
	for _, d := range sets {
		files, err := d.Shards()
		if err != nil {
			return nil, "", fmt.Errorf("pipeline: %w", err)
		}
		for _, f := range files {
			shards = append(shards, SourceShard{Location: d.Location, Split: f.Split, File: f.File, Path: f.Path})
		}
	}
	if len(shards) == 0 {
		return nil, "", fmt.Errorf("%w: %s has no shards", ErrConfig, strings.Join(cfg.Sources, ", "))
	}
	tempDir, err := dataset.Create(ctx, cfg.Out, cfg.Overwrite)
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: %w", err)
	}
	compression := cmp.Or(cfg.Compression, tfrecord.None)

	p, s := beam.NewPipelineWithRoot()
	rs := s.Scope("ReadShards")
	records, reads := beam.ParDo2(rs, &readSourceShardFn{Spec: string(specJSON)}, beam.Reshuffle(rs, beam.CreateList(rs, shards)))
	keyed := beam.ParDo(s.Scope("AssignShard"), &assignRecordFn{Seed: cfg.Seed, Splits: cfg.Splits, Shards: layout}, records)
	ws := s.Scope("WriteShards")
	results := beam.ParDo(ws, &writeRecordsFn{Spec: string(specJSON), TempDir: tempDir, Compression: compression.String(), Index: cfg.Index, SHA256: cfg.SHA256, Seed: cfg.Seed}, beam.GroupByKey(ws, keyed))
	finalize(s, finalizeConfig{
		Out:         cfg.Out,
		TempDir:     tempDir,
		Spec:        string(specJSON),
		Splits:      splits,
		Sharding:    sharding,
		Compression: compression.String(),
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		CommandLine: cfg.CommandLine,
		ToolVersion: cfg.ToolVersion,
	}, results, beam.CreateList(s, []dataset.ErrorRecord{}), reads, beam.CreateList(s, counts), beam.CreateList(s, []dataset.Warning{}))
	return p, tempDir, nil
}

// readSourceShardFn reads every record of a source shard. Damage fails the
// bundle: a rewrite promises every record of its sources.
type readSourceShardFn struct {
	Spec string

	spec *schema.Spec
	sets map[string]*dataset.Dataset
}

func (f *readSourceShardFn) Setup() (err error) {
	f.sets = map[string]*dataset.Dataset{}
	f.spec, err = parseSpec(f.Spec)
	return err
}

func (f *readSourceShardFn) ProcessElement(ctx context.Context, sh SourceShard, emit func(Record), count func(readCount)) error {
	d := f.sets[sh.Location]
	if d == nil {
		var err error
		if d, err = dataset.Open(ctx, sh.Location); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		f.sets[sh.Location] = d
	}
	var parsed example.Parsed
	var rec schema.Record
	var n int64
	damage, err := d.Scan(ctx, dataset.ShardFile{Shard: dataset.Shard{File: sh.File}, Split: sh.Split, Path: sh.Path}, func(index int64, data []byte) error {
		err := example.ParseInto(&parsed, data, true)
		if err == nil {
			err = f.spec.ReadExample(parsed, &rec)
		}
		if err != nil {
			return fmt.Errorf("pipeline: %s: record %d: %w", sh.Path, index, err)
		}
		emit(Record{Split: sh.Split, Key: rec.Key, Data: bytes.Clone(data)})
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if len(damage) > 0 {
		return fmt.Errorf("pipeline: %s is damaged (%s); see tfprep verify %s", sh.Path, damage[0], sh.Location)
	}
	count(readCount{File: sh.Path, Rows: n})
	return nil
}

// assignRecordFn sets a record's split (when Splits is set) and shard, and
// keys it by shard.
type assignRecordFn struct {
	Seed   int64
	Splits []SplitWeight
	Shards map[string]int // shards per split

	bounds []uint64
}

func (f *assignRecordFn) ProcessElement(r Record) (string, Record) {
	if len(f.Splits) > 0 {
		if f.bounds == nil {
			f.bounds = splitBuckets(f.Splits)
		}
		r.Split = splitOf(f.Seed, f.Splits, f.bounds, r.Key)
	}
	r.Shard = int(keyHash(f.Seed, "shard", r.placeKey()) % uint64(f.Shards[r.Split]))
	return shardKey(r.Split, r.Shard), r
}

// writeRecordsFn writes one shard, its records ordered by the seeded hash
// of their key (ties by key, then bytes), to a temporary name unique to the
// attempt.
type writeRecordsFn struct {
	Spec        string
	TempDir     string
	Compression string
	Index       bool
	SHA256      bool
	Seed        int64

	writer  *dataset.RecordWriter
	written beam.Counter
}

func (f *writeRecordsFn) Setup() error {
	spec, err := parseSpec(f.Spec)
	if err != nil {
		return err
	}
	c, err := tfrecord.ParseCompression(f.Compression)
	if err != nil {
		return err
	}
	f.writer = &dataset.RecordWriter{Spec: spec, Compression: c, Index: f.Index, SHA256: f.SHA256}
	f.written = beam.NewCounter("tfprep", "records_written")
	return nil
}

func (f *writeRecordsFn) ProcessElement(ctx context.Context, _ string, iter func(*Record) bool, emit func(dataset.ShardResult)) error {
	type placed struct {
		hash uint64
		rec  Record
	}
	var recs []placed
	var r Record
	for iter(&r) {
		recs = append(recs, placed{keyHash(f.Seed, "order", r.placeKey()), r})
		r = Record{}
	}
	if len(recs) == 0 {
		return nil
	}
	slices.SortFunc(recs, func(a, b placed) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.rec.Key, b.rec.Key), bytes.Compare(a.rec.Data, b.rec.Data))
	})
	data := make([][]byte, len(recs))
	for i, p := range recs {
		data[i] = p.rec.Data
	}
	res, err := f.writer.WriteTemp(ctx, f.TempDir, recs[0].rec.Split, recs[0].rec.Shard, data)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	f.written.Inc(ctx, res.Records)
	emit(res)
	return nil
}

// topLevelFields returns the top-level fields of a JSON object with their
// values as JSON text, long values shortened.
func topLevelFields(js []byte) map[string]string {
	var fields map[string]json.RawMessage
	json.Unmarshal(js, &fields)
	out := make(map[string]string, len(fields))
	for name, raw := range fields {
		v := string(raw)
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		out[name] = v
	}
	return out
}

// sameLocation reports whether two dataset locations name one directory.
func sameLocation(a, b string) bool {
	if strings.Contains(a, "://") || strings.Contains(b, "://") {
		return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
	}
	aa, errA := filepath.Abs(a)
	bb, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == bb
}

package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func init() {
	register.DoFn4x1[context.Context, SourceShard, func(recordRef), func(readCount), error](&readSourceShardFn{})
	register.DoFn2x0[recordRef, func(string, refBatch)](&assignRecordFn{})
	register.DoFn6x1[context.Context, string, func(*refBatch) bool, func(dataset.ShardResult), func(dataset.ErrorRecord), func(dataset.Warning), error](&writeRecordsFn{})
	register.Emitter1[recordRef]()
	register.Emitter2[string, refBatch]()
	register.Iter1[refBatch]()
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
	// Encoding re-encodes the images (float32, uint8 or png) where no pixel
	// changes (see reencode.go); "" keeps them as they are. The output's
	// spec, in its manifest, says the new encoding.
	Encoding  string
	Overwrite bool // replace an earlier dataset in Out
	// RejectDuplicateKeys rejects (stage label, errors.csv) every record
	// whose key an earlier record has (earlier: in the sources' order, then
	// shard, then place in the shard); by default such records are written
	// and warned about (rows.warned), as convert does.
	RejectDuplicateKeys bool

	CommandLine []string // recorded in the manifest
	ToolVersion string   // recorded in the manifest
	Runner      string   // overrides the --runner flag; both empty means DefaultRunner
}

// SourceShard is one shard of a source dataset, the unit the rewrite reads.
type SourceShard struct {
	Location string // the source dataset
	Rank     int    // its place among the sources: of repeated keys, the first source's record is the first
	Split    string
	File     string // base name
	Path     string // full path
}

// recordRef is one Example of a source by reference: where its frame lies
// in an uncompressed TFRecord file, not its bytes. Only references go
// through the GroupByKey; the step that writes a shard reads its records
// by offset, one at a time.
type recordRef struct {
	Split  string
	Shard  int
	Key    string // the key feature; empty when the spec omits keys
	Place  uint64 // keyHash(seed, "shard", placeKey), placeKey the key or, without one, the record's bytes
	Order  uint64 // keyHash(seed, "order", placeKey): the place in the shard
	File   string // the source shard or, for a compressed one, its uncompressed copy in the staging directory
	Offset int64  // of the record's frame
	Length int64  // of the frame: the record and tfrecord.FrameOverhead

	// Where the record was read, to report a repeated key.
	Rank   int    // SourceShard.Rank
	Source string // the source shard's path
	Index  int64  // the record's number in it
}

// before orders the records of a repeated key as convert orders the lines of
// one: by source (in the order given), shard, then number in the shard.
func (r recordRef) before(o recordRef) int {
	return cmp.Or(cmp.Compare(r.Rank, o.Rank), cmp.Compare(r.Source, o.Source), cmp.Compare(r.Index, o.Index))
}

func (r recordRef) String() string { return fmt.Sprintf("%s record %d", r.Source, r.Index) }

// refBatch is references travelling as one element (see rowBatch).
type refBatch struct {
	Refs []recordRef
}

// Rewrite builds and runs the reshard or merge pipeline for cfg and returns
// the manifest it wrote. Its guarantees are Convert's: shards under
// temporary names until one final step commits them and writes the manifest
// last, rows read (the sources' records) = records written, a layout and
// order that depend only on the sources, the options and the seed.
//
//	ReadShards    SourceShard → recordRef (+ readCount per shard): where
//	              each record lies, its key and hashes; a compressed
//	              source is copied uncompressed to the staging directory
//	              so its records can be read by offset; a damaged source
//	              shard fails the job
//	AssignShard   recordRef.Split (with Splits), .Shard by seeded key hash,
//	              batched by shard
//	WriteShards   GroupByKey of the references; per shard: order by seeded
//	              key hash, read each record by offset and write it with
//	              dataset.RecordWriter to a temporary name
//	Finalize      as Convert's
//
// No record goes through the GroupByKey, and a shard is written one record
// at a time: memory does not grow with the records' or the shard's size,
// only with the number of records (a reference is about 150 bytes).
//
// An --async submission is refused (ErrConfig): the output's lease is held
// by this process while the job runs, and a rewrite's Finalize does not
// release it, so the launcher must wait for the job. A dry run returns a
// nil manifest and a nil error.
func Rewrite(ctx context.Context, cfg RewriteConfig) (*dataset.Manifest, error) {
	if *jobopts.Async && !flagIsTrue("dry_run") {
		return nil, fmt.Errorf("%w: --async is not supported by reshard and merge: the output's lease is held by the launcher while the job runs, so it must wait for the job; run without --async", ErrConfig)
	}
	launch, err := prepareLaunch(ctx, Config{Out: cfg.Out, Runner: cfg.Runner}, cmp.Or(cfg.Runner, *runners.Runner, DefaultRunner))
	if err != nil {
		return nil, err
	}
	defer launch.close()
	// The output's lease is held by this process while the job runs, which
	// it waits for (--async is refused above).
	lease, err := dataset.Acquire(ctx, cfg.Out, strings.Join(cfg.CommandLine, " "), dataset.DefaultLeaseTTL)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p, tempDir, err := buildRewrite(ctx, cfg, lease)
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
			va, vb := shortenPair(fa[name], fb[name])
			return fmt.Sprintf("%q is %s in one and %s in the other", name, cmp.Or(va, "absent"), cmp.Or(vb, "absent"))
		}
	}
	return "their canonical JSON differs"
}

// shortenPair returns two different JSON values for display: each at most
// about 80 characters, a long one cut to a window that starts shortly before
// the first character in which they differ, so the difference stays visible.
func shortenPair(a, b string) (string, string) {
	const width, before = 80, 30
	if len(a) <= width && len(b) <= width {
		return a, b
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-before)
	window := func(v string) string {
		if v == "" {
			return v
		}
		w := v[min(from, len(v)):]
		if len(w) > width-3 {
			w = w[:width-3] + "..."
		}
		if from > 0 {
			w = "..." + w
		}
		return w
	}
	return window(a), window(b)
}

// buildRewrite checks cfg and the sources, prepares the output directory and
// constructs the pipeline without running it.
func buildRewrite(ctx context.Context, cfg RewriteConfig, lease *dataset.Lease) (*beam.Pipeline, string, error) {
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
	spec, err := reencodedSpec(sets[0].Spec, cfg.Encoding)
	if err != nil {
		return nil, "", err
	}
	outJSON := specJSON
	if spec != sets[0].Spec {
		if outJSON, err = spec.Marshal(); err != nil {
			return nil, "", fmt.Errorf("pipeline: %w", err)
		}
	}
	splits := cfg.Splits
	if len(splits) > 0 {
		if err := (&Config{Spec: spec, CSV: []string{"-"}, Images: "-", Out: cfg.Out, Splits: splits}).check(); err != nil {
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
	for rank, d := range sets {
		files, err := d.Shards()
		if err != nil {
			return nil, "", fmt.Errorf("pipeline: %w", err)
		}
		for _, f := range files {
			shards = append(shards, SourceShard{Location: d.Location, Rank: rank, Split: f.Split, File: f.File, Path: f.Path})
		}
	}
	if len(shards) == 0 {
		return nil, "", fmt.Errorf("%w: %s has no shards", ErrConfig, strings.Join(cfg.Sources, ", "))
	}
	// A dry run changes nothing in cfg.Out but its lease (taken and released).
	prepare := lease.Create
	if flagIsTrue("dry_run") {
		prepare = lease.Plan
	}
	tempDir, err := prepare(ctx, cfg.Overwrite)
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: %w", err)
	}
	compression := cmp.Or(cfg.Compression, tfrecord.None)

	p, s := beam.NewPipelineWithRoot()
	rs := s.Scope("ReadShards")
	refs, reads := beam.ParDo2(rs, &readSourceShardFn{Spec: string(specJSON), Seed: cfg.Seed, TempDir: tempDir}, beam.Reshuffle(rs, beam.CreateList(rs, shards)))
	keyed := beam.ParDo(s.Scope("AssignShard"), &assignRecordFn{Seed: cfg.Seed, Splits: cfg.Splits, Shards: layout}, refs)
	ws := s.Scope("WriteShards")
	write := &writeRecordsFn{Spec: string(outJSON), TempDir: tempDir, Compression: compression.String(), Index: cfg.Index, SHA256: cfg.SHA256,
		RejectDuplicateKeys: cfg.RejectDuplicateKeys}
	if spec != sets[0].Spec {
		write.SourceSpec = string(specJSON)
	}
	results, rejects, warnings := beam.ParDo3(ws, write, beam.GroupByKey(ws, keyed))
	finalize(s, finalizeConfig{
		Out:         cfg.Out,
		HeldBy:      lease.Run,
		TempDir:     tempDir,
		Spec:        string(outJSON),
		Splits:      splits,
		Sharding:    sharding,
		Compression: compression.String(),
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		Overwrite:   cfg.Overwrite,
		CommandLine: cfg.CommandLine,
		ToolVersion: cfg.ToolVersion,
	}, results, rejects, reads, beam.CreateList(s, counts), warnings)
	return p, tempDir, nil
}

// readSourceShardFn reads every record of a source shard and emits a
// reference to it. Damage fails the bundle: a rewrite promises every record
// of its sources.
type readSourceShardFn struct {
	Spec    string
	Seed    int64
	TempDir string // where compressed sources are copied uncompressed

	spec *schema.Spec
	sets map[string]*dataset.Dataset
}

func (f *readSourceShardFn) Setup() (err error) {
	f.sets = map[string]*dataset.Dataset{}
	f.spec, err = parseSpec(f.Spec)
	return err
}

func (f *readSourceShardFn) ProcessElement(ctx context.Context, sh SourceShard, emit func(recordRef), count func(readCount)) (err error) {
	d := f.sets[sh.Location]
	if d == nil {
		if d, err = dataset.Open(ctx, sh.Location); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		f.sets[sh.Location] = d
	}
	// A compressed stream cannot be read at an offset: its records are
	// copied, framed as they were, to an uncompressed file in the staging
	// directory (which the commit removes) and read from there.
	file := sh.Path
	var copied *tfrecord.Writer
	if tfrecord.CompressionFromName(sh.File) != tfrecord.None {
		name := fmt.Sprintf("source-%s-%s.tfrecord", sh.File, randomID())
		dir, err := storage.Open(ctx, f.TempDir)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		defer dir.Close()
		w, err := dir.NewWriter(ctx, name, nil)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		defer func() {
			if cerr := w.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("pipeline: copying %s: %w", sh.Path, cerr)
			}
		}()
		if copied, err = tfrecord.NewWriter(w, nil); err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		file = storage.JoinPath(f.TempDir, name)
	}
	var parsed example.Parsed
	var rec schema.Record
	var n, offset int64
	damage, err := d.Scan(ctx, dataset.ShardFile{Shard: dataset.Shard{File: sh.File}, Split: sh.Split, Path: sh.Path}, func(index int64, data []byte) error {
		err := example.ParseInto(&parsed, data, true)
		if err == nil {
			err = f.spec.ReadExample(parsed, &rec)
		}
		if err != nil {
			return fmt.Errorf("pipeline: %s: record %d: %w", sh.Path, index, err)
		}
		if copied != nil {
			if err := copied.Write(data); err != nil {
				return fmt.Errorf("pipeline: copying %s: %w", sh.Path, err)
			}
		}
		place := rec.Key
		if place == "" {
			place = string(data)
		}
		frame := int64(len(data)) + tfrecord.FrameOverhead
		emit(recordRef{Split: sh.Split, Key: rec.Key, Place: keyHash(f.Seed, "shard", place), Order: keyHash(f.Seed, "order", place),
			File: file, Offset: offset, Length: frame, Rank: sh.Rank, Source: sh.Path, Index: index})
		offset += frame
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if len(damage) > 0 {
		return fmt.Errorf("pipeline: %s is damaged (%s); see tfprep verify %s", sh.Path, damage[0], sh.Location)
	}
	if copied != nil {
		if err := copied.Close(); err != nil {
			return fmt.Errorf("pipeline: copying %s: %w", sh.Path, err)
		}
	}
	count(readCount{File: sh.Path, Rows: n})
	return nil
}

// assignRecordFn sets a reference's split (when Splits is set) and shard,
// and batches the references of a bundle by shard ("split/shard").
type assignRecordFn struct {
	Seed   int64
	Splits []SplitWeight
	Shards map[string]int // shards per split

	bounds  []uint64
	batches keyedBatches[recordRef]
}

func (f *assignRecordFn) ProcessElement(r recordRef, emit func(string, refBatch)) {
	if len(f.Splits) > 0 {
		if f.bounds == nil {
			f.bounds = splitBuckets(f.Splits)
		}
		r.Split = splitOf(f.Seed, f.Splits, f.bounds, r.Key)
	}
	r.Shard = int(r.Place % uint64(f.Shards[r.Split]))
	key := shardKey(r.Split, r.Shard)
	if refs := f.batches.add(key, r); refs != nil {
		emit(key, refBatch{Refs: refs})
	}
}

func (f *assignRecordFn) FinishBundle(emit func(string, refBatch)) {
	f.batches.flush(func(key string, refs []recordRef) { emit(key, refBatch{Refs: refs}) })
}

// writeRecordsFn writes one shard, its records ordered by the seeded hash
// of their key (ties by key, then bytes), to a temporary name unique to the
// attempt, reading each record by offset as it writes it. Records whose key
// another record has (every one of them is in this shard: the shard is a
// hash of the key) are warned about or, with RejectDuplicateKeys, all but
// the first are rejected, as convert does.
type writeRecordsFn struct {
	Spec string // of the output
	// SourceSpec, when set, is the sources' spec, whose images are
	// re-encoded as Spec says (reencode.go).
	SourceSpec          string
	TempDir             string
	Compression         string
	Index               bool
	SHA256              bool
	RejectDuplicateKeys bool

	writer  *dataset.RecordWriter
	reenc   *reencoder
	written beam.Counter
}

func (f *writeRecordsFn) Setup() error {
	spec, err := parseSpec(f.Spec)
	if err != nil {
		return err
	}
	if f.SourceSpec != "" {
		source, err := parseSpec(f.SourceSpec)
		if err != nil {
			return err
		}
		if f.reenc, err = newReencoder(source, spec); err != nil {
			return err
		}
	}
	c, err := tfrecord.ParseCompression(f.Compression)
	if err != nil {
		return err
	}
	f.writer = &dataset.RecordWriter{Spec: spec, Compression: c, Index: f.Index, SHA256: f.SHA256}
	f.written = beam.NewCounter("tfprep", "records_written")
	return nil
}

func (f *writeRecordsFn) ProcessElement(ctx context.Context, _ string, iter func(*refBatch) bool, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) error {
	var refs []recordRef
	var batch refBatch
	for iter(&batch) {
		refs = append(refs, batch.Refs...)
		batch = refBatch{}
	}
	if len(refs) == 0 {
		return nil
	}
	slices.SortFunc(refs, func(a, b recordRef) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Key, b.Key), a.before(b))
	})
	refs = f.duplicateKeys(refs, reject, warn)
	files := &refReader{reenc: f.reenc}
	defer files.close()
	res, err := f.writer.WriteTempFrom(ctx, f.TempDir, refs[0].Split, refs[0].Shard, files.ordered(ctx, refs))
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	f.written.Inc(ctx, res.Records)
	emit(res)
	return nil
}

// duplicateKeys reports the records of refs (sorted: a key's records
// adjacent, in source order) whose key an earlier record has, and returns
// the references to write.
func (f *writeRecordsFn) duplicateKeys(refs []recordRef, reject func(dataset.ErrorRecord), warn func(dataset.Warning)) []recordRef {
	kept := refs[:0:0]
	var first recordRef
	for i, r := range refs {
		if i == 0 || r.Key == "" || r.Key != refs[i-1].Key {
			first = r
			kept = append(kept, r)
			continue
		}
		if f.RejectDuplicateKeys {
			reject(dataset.ErrorRecord{Key: r.Key, Stage: dataset.StageLabel,
				Reason: fmt.Sprintf("duplicate key %s: %s; first: %s (--duplicate-keys=reject)", r.Key, r, first)})
			continue
		}
		kept = append(kept, r)
		warn(dataset.Warning{Key: r.Key, Reason: fmt.Sprintf("duplicate key %s: %s; first: %s; both records are written", r.Key, r, first)})
	}
	return kept
}

// refReader reads records by reference, keeping their files open, and
// re-encodes their images when reenc is set.
type refReader struct {
	files map[string]dataset.File
	reenc *reencoder
}

// read returns the record ref points at, checksums verified.
func (r *refReader) read(ctx context.Context, ref recordRef) ([]byte, error) {
	f := r.files[ref.File]
	if f == nil {
		var err error
		if f, err = dataset.OpenFile(ctx, ref.File); err != nil {
			return nil, err
		}
		if r.files == nil {
			r.files = map[string]dataset.File{}
		}
		r.files[ref.File] = f
	}
	sr := tfrecord.NewSeekReader(f, []tfrecord.IndexEntry{{Offset: ref.Offset, Length: ref.Length}}, nil)
	data, err := sr.ReadRecord(0)
	if err != nil {
		return nil, fmt.Errorf("%s (read from %s at offset %d): %w", ref, ref.File, ref.Offset, err)
	}
	return data, nil
}

// ordered returns the records of refs, sorted by (Order, Key), one at a
// time: a run of references with the same hash and key (a repeated key)
// is read whole and ordered by the records' bytes, so that the order never
// depends on where the records came from.
func (r *refReader) ordered(ctx context.Context, refs []recordRef) func() ([]byte, error) {
	type read struct {
		ref  recordRef
		data []byte
	}
	var run []read
	return func() ([]byte, error) {
		if len(run) == 0 {
			if len(refs) == 0 {
				return nil, io.EOF
			}
			n := 1
			for n < len(refs) && refs[n].Order == refs[0].Order && refs[n].Key == refs[0].Key {
				n++
			}
			for _, ref := range refs[:n] {
				data, err := r.read(ctx, ref)
				if err != nil {
					return nil, err
				}
				run = append(run, read{ref, data})
			}
			refs = refs[n:]
			slices.SortFunc(run, func(a, b read) int { return bytes.Compare(a.data, b.data) })
		}
		next := run[0]
		run = run[1:]
		if r.reenc == nil {
			return next.data, nil
		}
		data, err := r.reenc.record(next.data)
		if err != nil {
			// The record is named after the cause: a runner's message
			// keeps what follows the last "pipeline: ".
			return nil, fmt.Errorf("re-encoding: %w (%s)", err, next.ref)
		}
		return data, nil
	}
}

func (r *refReader) close() {
	for _, f := range r.files {
		f.Close()
	}
}

// topLevelFields returns the top-level fields of a JSON object with their
// whole values as compact JSON text (specDifference compares them whole and
// shortens them only to display them).
func topLevelFields(js []byte) map[string]string {
	var fields map[string]json.RawMessage
	json.Unmarshal(js, &fields)
	out := make(map[string]string, len(fields))
	for name, raw := range fields {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			out[name] = string(raw)
			continue
		}
		out[name] = buf.String()
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

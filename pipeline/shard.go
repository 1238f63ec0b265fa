package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn6x1[context.Context, string, func(*rowBatch) bool, func(dataset.ShardResult), func(dataset.ErrorRecord), func(dataset.Warning), error](&writeShardFn{})
	register.Emitter1[dataset.ShardResult]()
}

// orderRows sorts a shard's rows by a seeded hash of their key (ties, from
// duplicate keys, by file and line): the write-time shuffle. The order depends only
// on the seed and the rows, never on how the runner delivered them.
func orderRows(seed int64, rows []splitRow) {
	hashes := make(map[string]uint64, len(rows))
	for _, r := range rows {
		hashes[r.Key] = keyHash(seed, "order", r.Key)
	}
	slices.SortFunc(rows, func(a, b splitRow) int {
		return cmp.Or(cmp.Compare(hashes[a.Key], hashes[b.Key]), cmp.Compare(a.Key, b.Key), cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
}

// duplicateKeys finds, in rows ordered by orderRows (rows of one key are
// adjacent, in file and line order), the rows whose key an earlier line has
// (files names the input files when there are several). With
// reject they are left out of kept and returned as rows rejected at stage
// label; otherwise every row is kept and each repeat gets a warning.
//
// No separate step counts keys: a row's split and shard are seeded hashes
// of its key, so every row of a key reaches the same shard, and the step
// that writes a shard sees all of them.
func duplicateKeys(rows []splitRow, files []string, reject bool) (kept []splitRow, rejected []dataset.ErrorRecord, warnings []dataset.Warning) {
	kept = rows[:0:0]
	first := ""
	for i, r := range rows {
		if i == 0 || r.Key != rows[i-1].Key {
			first = inFile(files, r.File, fmt.Sprintf("line %d", r.Line))
			kept = append(kept, r)
			continue
		}
		switch {
		case reject:
			rejected = append(rejected, dataset.ErrorRecord{Line: r.Line, Key: r.Key, Stage: dataset.StageLabel,
				Reason: inFile(files, r.File, fmt.Sprintf("duplicate key %s: first at %s (--duplicate-keys=reject)", r.Key, first))})
		default:
			kept = append(kept, r)
			warnings = append(warnings, dataset.Warning{Line: r.Line, Key: r.Key,
				Reason: inFile(files, r.File, fmt.Sprintf("duplicate key %s: first at %s; both rows are written", r.Key, first))})
		}
	}
	return kept, rejected, warnings
}

// lineKey finds a row of a shard by its line and key: rows of different
// files with the same line have different keys, except for duplicate keys,
// which the writer treats alike.
type lineKey struct {
	line int
	key  string
}

// datasetRows returns rows as the dataset writer takes them.
func datasetRows(rows []splitRow) []dataset.Row {
	out := make([]dataset.Row, len(rows))
	for i, r := range rows {
		out[i] = dataset.Row{Line: r.Line, Key: r.Key, Image: r.Image, Labels: r.Labels}
	}
	return out
}

// writeShards groups PCollection<KV<string, rowBatch>> (from assignShard)
// by shard and writes each shard with a dataset.ShardWriter to a temporary
// file under the temporary directory whose name is unique to the attempt, so
// a retried bundle never collides with an earlier attempt. Only the small
// rows are grouped; images are read by the per-shard step. It returns
// PCollection<dataset.ShardResult>, PCollection<dataset.ErrorRecord> of
// rows whose image could not be read (stage io) or decoded (stage image)
// or, with cfg.RejectDuplicateKeys, whose key an earlier line has (stage
// label), and PCollection<dataset.Warning> of repeated keys otherwise.
func writeShards(s beam.Scope, cfg shardConfig, keyed beam.PCollection) (results, rejected, warnings beam.PCollection) {
	s = s.Scope("WriteShards")
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo3(s, &writeShardFn{Config: cfg}, grouped)
}

// shardConfig configures writeShards; it is serialised to the workers.
type shardConfig struct {
	Spec        string // canonical spec JSON
	Images      string // images root
	TempDir     string // directory for temporary shard files
	Compression string // none, gzip or zlib
	Index       bool   // write DALI index sidecars
	SHA256      bool   // record each shard's SHA-256
	Seed        int64  // write-time shuffle seed
	Workers     int    // images decoded at once per DoFn instance; 0 = GOMAXPROCS
	// Files names the input files when there are several; reasons then
	// start with the row's file.
	Files []string
	// RejectDuplicateKeys rejects every row whose key an earlier line
	// has; otherwise they are written with a warning.
	RejectDuplicateKeys bool
	// FollowSymlinksOutside lets symbolic links under a local Images root
	// point outside it.
	FollowSymlinksOutside bool
}

type writeShardFn struct {
	Config shardConfig

	writer  *dataset.ShardWriter
	release func() error // of the image opener
	written beam.Counter
	bytes   beam.Counter
	badIO   beam.Counter
	badImg  beam.Counter
	dupKeys beam.Counter
	// running are the shards of this bundle being written: a shard is
	// written in the background while the next one's rows are gathered and
	// its first images fetched, so that neither the latency of the first
	// reads and the final upload of a shard nor the start and end of its
	// decoding leave the cores or the connections idle.
	running  int
	finished chan *shardJob // buffered: shardsInFlight, the most running
}

// shardsInFlight bounds the shards one DoFn instance writes at once into
// tempDir. They share the writer's decoders, reads in flight and fetch
// budget, so what each adds is its output stream and the latency it hides:
// its first reads and its final upload overlap the others' decoding. On a
// bucket, where each costs a round trip of tens of milliseconds, 8 (each
// upload buffers a chunk: 16 MiB on GCS); on local disk 2, enough to
// overlap one shard's start with another's end.
func shardsInFlight(tempDir string) int {
	if strings.Contains(tempDir, "://") {
		return 8
	}
	return 2
}

// shardJob is one shard written in the background, and what it found.
type shardJob struct {
	rows       []splitRow
	res        dataset.ShardResult
	rejected   []dataset.ErrorRecord
	duplicates []dataset.ErrorRecord
	warnings   []dataset.Warning
	err        error
}

func (f *writeShardFn) Setup(ctx context.Context) error {
	spec, err := parseSpec(f.Config.Spec)
	if err != nil {
		return err
	}
	c, err := tfrecord.ParseCompression(f.Config.Compression)
	if err != nil {
		return err
	}
	openImage, release, err := imageOpener(ctx, f.Config.Images, f.Config.FollowSymlinksOutside)
	if err != nil {
		return err
	}
	f.release = release
	f.writer = &dataset.ShardWriter{
		Spec:        spec,
		Images:      f.Config.Images,
		OpenImage:   openImage,
		Workers:     f.Config.Workers,
		Compression: c,
		Index:       f.Config.Index,
		SHA256:      f.Config.SHA256,
		Progress: func(written bool) {
			if written {
				progress.imagesWritten.Add(1)
			} else {
				progress.rejected.Add(1)
			}
		},
	}
	f.written = beam.NewCounter("tfprep", "records_written")
	f.bytes = beam.NewCounter("tfprep", "bytes_written")
	f.badIO = beam.NewCounter("tfprep", "rows_rejected_io")
	f.badImg = beam.NewCounter("tfprep", "rows_rejected_image")
	f.dupKeys = beam.NewCounter("tfprep", "rows_with_duplicate_keys")
	return nil
}

func (f *writeShardFn) Teardown() error {
	for ; f.running > 0; f.running-- { // a failed bundle's writes still use the opener
		<-f.finished
	}
	if f.release != nil {
		return f.release()
	}
	return nil
}

func (f *writeShardFn) StartBundle(ctx context.Context, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) {
	if f.finished == nil {
		f.finished = make(chan *shardJob, shardsInFlight(f.Config.TempDir))
	}
	// Writes a failed bundle left behind finish before this one starts;
	// their results were the failed bundle's.
	for ; f.running > 0; f.running-- {
		<-f.finished
	}
}

func (f *writeShardFn) ProcessElement(ctx context.Context, key string, batches func(*rowBatch) bool, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) error {
	var rows []splitRow
	var batch rowBatch
	for batches(&batch) {
		rows = append(rows, batch.Rows...)
		batch = rowBatch{}
	}
	if len(rows) == 0 {
		return nil
	}
	orderRows(f.Config.Seed, rows)
	split, shard := rows[0].Split, rows[0].Shard
	j := &shardJob{}
	j.rows, j.duplicates, j.warnings = duplicateKeys(rows, f.Config.Files, f.Config.RejectDuplicateKeys)
	for f.running >= cap(f.finished) {
		if err := f.reportNext(ctx, emit, reject, warn); err != nil {
			return err
		}
	}
	f.running++
	go func() {
		j.res, j.rejected, j.err = f.writer.WriteTemp(ctx, f.Config.TempDir, split, shard, datasetRows(j.rows))
		f.finished <- j
	}()
	return nil
}

// FinishBundle waits for the bundle's shards and reports them; a shard that
// could not be written fails the bundle.
func (f *writeShardFn) FinishBundle(ctx context.Context, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) error {
	var errs []error
	for f.running > 0 {
		errs = append(errs, f.reportNext(ctx, emit, reject, warn))
	}
	return errors.Join(errs...)
}

// reportNext waits for a running shard to finish and emits what it found.
func (f *writeShardFn) reportNext(ctx context.Context, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) error {
	j := <-f.finished
	f.running--
	if j.err != nil {
		return fmt.Errorf("pipeline: %w", j.err)
	}
	res, rows := j.res, j.rows
	for _, w := range j.warnings {
		f.dupKeys.Inc(ctx, 1)
		progress.warnings.Add(1)
		warn(w)
	}
	for _, r := range j.duplicates {
		f.dupKeys.Inc(ctx, 1)
		progress.rejected.Add(1)
		reject(r)
	}
	f.written.Inc(ctx, res.Records)
	f.bytes.Inc(ctx, res.Bytes)
	progress.addSplitTime(res.Split, res.Nanos)
	progress.bytesWritten.Add(res.Bytes)
	var fileOf map[lineKey]int // the file of a rejected row, when there are several
	if len(f.Config.Files) > 1 && len(j.rejected) > 0 {
		fileOf = make(map[lineKey]int, len(rows))
		for _, r := range rows {
			fileOf[lineKey{r.Line, r.Key}] = r.File
		}
	}
	for _, r := range j.rejected {
		if fileOf != nil {
			r.Reason = inFile(f.Config.Files, fileOf[lineKey{r.Line, r.Key}], r.Reason)
		}
		if r.Stage == dataset.StageIO {
			f.badIO.Inc(ctx, 1)
		} else {
			f.badImg.Inc(ctx, 1)
		}
		reject(r)
	}
	emit(res)
	return nil
}

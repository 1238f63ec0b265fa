package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn5x1[context.Context, string, func(*rowBatch) bool, func(dataset.ShardResult), func(dataset.ErrorRecord), error](&writeShardFn{})
	register.Emitter1[dataset.ShardResult]()
}

// orderRows sorts a shard's rows by a seeded hash of their key (ties, from
// duplicate keys, by line): the write-time shuffle. The order depends only
// on the seed and the rows, never on how the runner delivered them.
func orderRows(seed int64, rows []splitRow) {
	hashes := make(map[string]uint64, len(rows))
	for _, r := range rows {
		hashes[r.Key] = keyHash(seed, "order", r.Key)
	}
	slices.SortFunc(rows, func(a, b splitRow) int {
		return cmp.Or(cmp.Compare(hashes[a.Key], hashes[b.Key]), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Line, b.Line))
	})
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
// PCollection<dataset.ShardResult> and PCollection<dataset.ErrorRecord> of
// rows whose image could not be read (stage io) or decoded (stage image).
func writeShards(s beam.Scope, cfg shardConfig, keyed beam.PCollection) (results, rejected beam.PCollection) {
	s = s.Scope("WriteShards")
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo2(s, &writeShardFn{Config: cfg}, grouped)
}

// shardConfig configures writeShards; it is serialised to the workers.
type shardConfig struct {
	Spec        string // canonical spec JSON
	Images      string // images root
	TempDir     string // directory for temporary shard files
	Compression string // none, gzip or zlib
	Index       bool   // write DALI index sidecars
	Seed        int64  // write-time shuffle seed
	Workers     int    // image goroutines per shard; 0 = GOMAXPROCS
}

type writeShardFn struct {
	Config shardConfig

	writer  *dataset.ShardWriter
	written beam.Counter
	bytes   beam.Counter
	badIO   beam.Counter
	badImg  beam.Counter
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
	f.writer = &dataset.ShardWriter{
		Spec:        spec,
		Images:      f.Config.Images,
		Workers:     f.Config.Workers,
		Compression: c,
		Index:       f.Config.Index,
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
	return nil
}

func (f *writeShardFn) ProcessElement(ctx context.Context, key string, batches func(*rowBatch) bool, emit func(dataset.ShardResult), reject func(dataset.ErrorRecord)) error {
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
	res, rejected, err := f.writer.WriteTemp(ctx, f.Config.TempDir, rows[0].Split, rows[0].Shard, datasetRows(rows))
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	f.written.Inc(ctx, res.Records)
	f.bytes.Inc(ctx, res.Bytes)
	progress.addSplitTime(res.Split, res.Nanos)
	for _, r := range rejected {
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

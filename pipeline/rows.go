package pipeline

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
)

func init() {
	register.DoFn5x0[context.Context, csvRecord, func(splitRow), func(dataset.ErrorRecord), func(dataset.Warning)](&decodeFn{})
	register.Emitter1[dataset.Warning]()
	register.Emitter1[splitRow]()
	register.DoFn1x1[splitRow, splitRow](&assignSplitFn{})
	register.Function1x2[splitRow, string, int64](splitOfRow)
	register.Function2x1[string, int64, splitCount](toSplitCount)
	register.DoFn1x2[splitRow, string, splitRow](&assignFixedShardFn{})
	register.DoFn1x2[splitRow, string, splitRow](&bucketOfRowFn{})
	register.Function2x0[splitCount, func(string, splitCount)](bucketsOfCount)
	register.Emitter2[string, splitCount]()
	register.DoFn3x0[string, splitRow, func(string, rowBatch)](&batchRowsFn{})
	register.DoFn4x0[string, func(*rowBatch) bool, func(*splitCount) bool, func(string, rowBatch)](&assignShardFn{})
	register.Emitter2[string, rowBatch]()
	register.Iter1[rowBatch]()
	register.Iter1[splitCount]()
}

// splitRow is a decoded CSV row on its way to a shard: small (no pixels), so rows
// may be grouped and shuffled freely.
type splitRow struct {
	File   int         // position of the row's CSV file among the input files
	Line   int         // line of that file where the record starts
	Key    string      // the key column (image name)
	Image  string      // image path relative to the images root, slash separated, cleaned
	Labels [][]float32 // one vector per spec label, in spec order
	Split  string      // set by assignSplit
	Shard  int         // set by assignShard
}

// decodeRows reads PCollection<csvRecord> with the spec (as canonical JSON)
// and returns PCollection<splitRow>, PCollection<dataset.ErrorRecord> of rows
// whose cells are invalid (stage label): malformed labels, empty keys,
// image paths that escape the images root, and PCollection<dataset.Warning>
// of rows kept (they are also in rows) although a label is doubtful.
// With several input files, files names them, and reasons start with the
// file's name.
func decodeRows(s beam.Scope, specJSON string, header, files []string, records beam.PCollection) (rows, rejected, warnings beam.PCollection) {
	s = s.Scope("DecodeRows")
	return beam.ParDo3(s, &decodeFn{Spec: specJSON, Header: header, Files: files}, records)
}

type decodeFn struct {
	Spec   string   // canonical spec JSON
	Header []string // the CSV header
	Files  []string // the input files when there are several

	decoder        *schema.RowDecoder
	keyColumn      int // index of the key in a record, for rejected rows
	rowsBadLabel   beam.Counter
	labelsWarnings beam.Counter
}

func (f *decodeFn) Setup() error {
	spec, err := parseSpec(f.Spec)
	if err != nil {
		return err
	}
	if f.decoder, err = spec.NewRowDecoder(f.Header); err != nil {
		return err
	}
	f.keyColumn = slices.Index(f.Header, spec.CSV.KeyColumn)
	f.rowsBadLabel = beam.NewCounter("tfprep", "rows_rejected_label")
	f.labelsWarnings = beam.NewCounter("tfprep", "rows_with_label_warnings")
	return nil
}

func (f *decodeFn) ProcessElement(ctx context.Context, rec csvRecord, emit func(splitRow), reject func(dataset.ErrorRecord), warn func(dataset.Warning)) {
	row, warnings, err := f.decoder.Decode(rec.Line, rec.Fields)
	if err != nil {
		f.rowsBadLabel.Inc(ctx, 1)
		progress.rejected.Add(1)
		key := row.Key
		if key == "" && f.keyColumn >= 0 && f.keyColumn < len(rec.Fields) {
			key = rec.Fields[f.keyColumn]
		}
		reject(dataset.ErrorRecord{Line: rec.Line, Key: key, Stage: dataset.StageLabel, Reason: inFile(f.Files, rec.File, err.Error())})
		return
	}
	if len(warnings) > 0 {
		f.labelsWarnings.Inc(ctx, 1)
		progress.warnings.Add(1)
		reasons := make([]string, len(warnings))
		for i, w := range warnings {
			reasons[i] = w.Detail() // the line is Warning.Line
		}
		warn(dataset.Warning{Line: rec.Line, Key: row.Key, Reason: inFile(f.Files, rec.File, strings.Join(reasons, "; "))})
	}
	labels := make([][]float32, len(row.Labels))
	for i, l := range row.Labels {
		labels[i] = l.Values
	}
	emit(splitRow{File: rec.File, Line: rec.Line, Key: row.Key, Image: row.ImagePath, Labels: labels})
}

// inFile prefixes reason with the name of file number file when there are
// several files (files is nil for one): errors.csv's line is that file's.
func inFile(files []string, file int, reason string) string {
	if file < len(files) {
		return files[file] + ": " + reason
	}
	return reason
}

func parseSpec(specJSON string) (*schema.Spec, error) {
	spec, err := schema.Parse([]byte(specJSON), "json", "pipeline config")
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return spec, nil
}

// SplitWeight is one entry of --splits: a split name and its share.
type SplitWeight struct {
	Name   string
	Weight float64 // > 0; shares are Weight / sum of weights
}

// ParseSplits parses "train=0.9,validation=0.1". Weights need not sum to 1;
// each split gets Weight/sum of the keys. An empty string means one split,
// "train".
func ParseSplits(s string) ([]SplitWeight, error) {
	if strings.TrimSpace(s) == "" {
		return []SplitWeight{{Name: "train", Weight: 1}}, nil
	}
	var splits []SplitWeight
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q: want name=weight", ErrSplits, part)
		}
		if err := dataset.ValidSplitName(name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSplits, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: split %q given twice", ErrSplits, name)
		}
		seen[name] = true
		w, err := strconv.ParseFloat(value, 64)
		if err != nil || !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: split %q: weight %q is not a positive number", ErrSplits, name, value)
		}
		splits = append(splits, SplitWeight{Name: name, Weight: w})
	}
	return splits, nil
}

// Fractions returns each split's share of the keys, Weight / sum of the
// weights, rounded to 1e-9 so that the manifest records 0.125, not
// 0.12500000000000003; split assignment uses the weights themselves.
func Fractions(splits []SplitWeight) []float64 {
	var total float64
	for _, sp := range splits {
		total += sp.Weight
	}
	fractions := make([]float64, len(splits))
	for i, sp := range splits {
		fractions[i] = math.Round(sp.Weight/total*1e9) / 1e9
	}
	return fractions
}

// FractionsNote says which fractions of the keys the splits get when their
// weights do not sum to 1, for the command to show; "" when they do.
func FractionsNote(splits []SplitWeight) string {
	var sum float64
	for _, sp := range splits {
		sum += sp.Weight
	}
	if math.Abs(sum-1) < 1e-9 {
		return ""
	}
	parts := make([]string, len(splits))
	for i, f := range Fractions(splits) {
		parts[i] = fmt.Sprintf("%s=%g", splits[i].Name, f)
	}
	return fmt.Sprintf("--splits weights sum to %g, not 1; the splits get these fractions of the keys: %s", sum, strings.Join(parts, ","))
}

// keyHash is dataset.KeyHash with the pipeline's signed seed.
func keyHash(seed int64, purpose, key string) uint64 {
	return dataset.KeyHash(uint64(seed), purpose, key)
}

// splitBuckets converts weights to cumulative upper bounds over the 2^32
// hash buckets, TFX-style: a key's bucket is the top 32 bits of its hash, and
// it belongs to the first split whose bound exceeds the bucket. The last
// bound is 2^32, so every key lands somewhere.
func splitBuckets(splits []SplitWeight) []uint64 {
	var total float64
	for _, sp := range splits {
		total += sp.Weight
	}
	bounds := make([]uint64, len(splits))
	var cum float64
	for i, sp := range splits {
		cum += sp.Weight
		bounds[i] = uint64(math.Round(cum / total * (1 << 32)))
	}
	bounds[len(bounds)-1] = 1 << 32
	return bounds
}

// splitOf returns the split of key: the same key always lands in the same
// split for a given seed and weights, whatever else is in the dataset.
func splitOf(seed int64, splits []SplitWeight, bounds []uint64, key string) string {
	bucket := keyHash(seed, "split", key) >> 32
	for i, b := range bounds {
		if bucket < b {
			return splits[i].Name
		}
	}
	return splits[len(splits)-1].Name
}

// assignSplit sets splitRow.Split of every row of PCollection<splitRow> by a stable
// seeded hash of its key.
func assignSplit(s beam.Scope, seed int64, splits []SplitWeight, rows beam.PCollection) beam.PCollection {
	s = s.Scope("AssignSplit")
	return beam.ParDo(s, &assignSplitFn{Seed: seed, Splits: splits}, rows)
}

type assignSplitFn struct {
	Seed   int64
	Splits []SplitWeight

	bounds []uint64
}

func (f *assignSplitFn) Setup() { f.bounds = splitBuckets(f.Splits) }

func (f *assignSplitFn) ProcessElement(row splitRow) splitRow {
	row.Split = splitOf(f.Seed, f.Splits, f.bounds, row.Key)
	return row
}

// splitCount is the number of rows assigned to a split.
type splitCount struct {
	Split string
	Rows  int64
}

func splitOfRow(row splitRow) (string, int64) { return row.Split, 1 }

func toSplitCount(split string, rows int64) splitCount { return splitCount{Split: split, Rows: rows} }

// shardPlan says how many shards each split gets.
type shardPlan struct {
	// Shards per split; when 0, the count follows from ShardSize.
	Shards int
	// ShardSize is the target shard size in bytes when Shards is 0: a split
	// of n rows gets max(1, ceil(n * ExampleBytes / ShardSize)) shards.
	ShardSize int64
	// ExampleBytes is the (estimated) serialized size of one example.
	ExampleBytes int64
}

// Count returns the number of shards for a split of rows rows. A split with
// no rows still gets its shards (empty files), so that the layout does not
// depend on the data.
func (sh shardPlan) Count(rows int64) int {
	if sh.Shards > 0 {
		return sh.Shards
	}
	size := max(sh.ShardSize, 1)
	n := (rows*max(sh.ExampleBytes, 1) + size - 1) / size
	return int(max(n, 1))
}

// countRows returns PCollection<splitCount>: the rows of each split of
// PCollection<splitRow> (splits without rows are absent).
func countRows(s beam.Scope, rows beam.PCollection) beam.PCollection {
	s = s.Scope("CountRows")
	return beam.ParDo(s, toSplitCount, stats.SumPerKey(s, beam.ParDo(s, splitOfRow, rows)))
}

// rowBatch is rows travelling as one element: the rows of one shard (or,
// before shards are assigned, of one split).
type rowBatch struct {
	Rows []splitRow
}

// rowBatchSize is the most rows a rowBatch holds. A runner keeps every
// element of a GroupByKey until the consuming bundle finishes, and Prism
// spends about a kilobyte of bookkeeping per element on top of its bytes;
// in batches of 256 that overhead is a few bytes per row, while a batch
// stays small (about 30 KB of Planet rows).
const rowBatchSize = 256

// assignShard sets splitRow.Shard of every row of PCollection<splitRow> and returns
// the rows keyed by shard ("split/shard") in batches: PCollection<KV<string,
// rowBatch>>. Within a split, a row's shard is a seeded hash of its key
// modulo the split's shard count.
//
// With a fixed shard count (sharding.Shards > 0) each row is assigned on its
// own and counts is not read. When the count follows from the shard size,
// the rows of each split are spread, by another seeded hash of their key,
// over shardBuckets groups, and each group meets the split's splitCount
// from counts (PCollection<splitCount>, a combiner's output, copied to
// every group) in a CoGroupByKey: no group holds more than about
// 1/shardBuckets of a split, and the shards are those of one group per
// split. Neither form reads a side input: on Prism a stage with side inputs
// keeps the runner's scheduling loop spinning, without sleeping, while that
// stage's bundle waits or runs.
func assignShard(s beam.Scope, seed int64, sharding shardPlan, rows, counts beam.PCollection) beam.PCollection {
	s = s.Scope("AssignShard")
	if sharding.Shards > 0 {
		keyed := beam.ParDo(s, &assignFixedShardFn{Seed: seed, Shards: sharding.Shards}, rows)
		return beam.ParDo(s, &batchRowsFn{}, keyed)
	}
	byBucket := beam.ParDo(s, &batchRowsFn{}, beam.ParDo(s, &bucketOfRowFn{Seed: seed}, rows))
	grouped := beam.CoGroupByKey(s, byBucket, beam.ParDo(s, bucketsOfCount, counts))
	return beam.ParDo(s, &assignShardFn{Seed: seed, Sharding: sharding}, grouped)
}

// shardBuckets is the number of groups a split's rows are spread over while
// their shards are assigned by size: 1.3 million rows make groups of about
// 5,000 (0.25 MB of rows).
const shardBuckets = 256

// bucketKey names group bucket of split: "split/bucket".
func bucketKey(split string, bucket int) string { return fmt.Sprintf("%s/%03d", split, bucket) }

// bucketOfRowFn keys a row by its split and bucket.
type bucketOfRowFn struct {
	Seed int64
}

func (f *bucketOfRowFn) ProcessElement(row splitRow) (string, splitRow) {
	return bucketKey(row.Split, int(keyHash(f.Seed, "bucket", row.Key)%shardBuckets)), row
}

// bucketsOfCount sends a split's count to every bucket of the split.
func bucketsOfCount(c splitCount, emit func(string, splitCount)) {
	for b := range shardBuckets {
		emit(bucketKey(c.Split, b), c)
	}
}

// batchRowsFn gathers the KV<string, splitRow> of a bundle into RowBatches per
// key, emitting a batch when it is full and the rest when the bundle ends.
type batchRowsFn struct {
	batches keyedBatches[splitRow]
}

func (f *batchRowsFn) ProcessElement(key string, row splitRow, emit func(string, rowBatch)) {
	if rows := f.batches.add(key, row); rows != nil {
		emit(key, rowBatch{Rows: rows})
	}
}

func (f *batchRowsFn) FinishBundle(emit func(string, rowBatch)) {
	f.batches.flush(func(key string, rows []splitRow) { emit(key, rowBatch{Rows: rows}) })
}

// keyedBatches gathers a bundle's elements per key into batches of
// rowBatchSize, so that few, large elements cross a GroupByKey.
type keyedBatches[T any] map[string][]T

// add appends v to key's batch and returns the batch when it is full (it
// then starts anew), else nil.
func (b *keyedBatches[T]) add(key string, v T) []T {
	if *b == nil {
		*b = keyedBatches[T]{}
	}
	batch := append((*b)[key], v)
	if len(batch) == rowBatchSize {
		delete(*b, key)
		return batch
	}
	(*b)[key] = batch
	return nil
}

// flush hands every partial batch to emit and empties b.
func (b *keyedBatches[T]) flush(emit func(key string, batch []T)) {
	for key, batch := range *b {
		emit(key, batch)
	}
	*b = nil
}

// assignFixedShardFn assigns rows to one of Shards shards of their split.
type assignFixedShardFn struct {
	Seed   int64
	Shards int
}

func (f *assignFixedShardFn) ProcessElement(row splitRow) (string, splitRow) {
	row.Shard = int(keyHash(f.Seed, "shard", row.Key) % uint64(f.Shards))
	return shardKey(row.Split, row.Shard), row
}

// assignShardFn assigns the rows of one bucket of a split ("split/bucket"),
// whose shard count follows from the split's row count, and batches them by
// shard.
type assignShardFn struct {
	Seed     int64
	Sharding shardPlan
}

func (f *assignShardFn) ProcessElement(bucket string, batches func(*rowBatch) bool, counts func(*splitCount) bool, emit func(string, rowBatch)) {
	split := bucket[:strings.LastIndexByte(bucket, '/')]
	var total int64
	var c splitCount
	for counts(&c) {
		total += c.Rows
	}
	n := uint64(f.Sharding.Count(total))
	var byShard keyedBatches[splitRow]
	var batch rowBatch
	for batches(&batch) {
		for _, row := range batch.Rows {
			row.Shard = int(keyHash(f.Seed, "shard", row.Key) % n)
			key := shardKey(split, row.Shard)
			if rows := byShard.add(key, row); rows != nil {
				emit(key, rowBatch{Rows: rows})
			}
		}
		batch = rowBatch{}
	}
	byShard.flush(func(key string, rows []splitRow) { emit(key, rowBatch{Rows: rows}) })
}

func shardKey(split string, shard int) string { return fmt.Sprintf("%s/%05d", split, shard) }

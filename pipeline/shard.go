package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn5x1[context.Context, string, func(*RowBatch) bool, func(ShardResult), func(dataset.ErrorRecord), error](&writeShardFn{})
	register.Emitter1[ShardResult]()
}

// ShardResult describes a shard written to its temporary name.
type ShardResult struct {
	Split   string
	Shard   int
	Temp    string // full path of the temporary shard file
	Index   string // full path of the temporary index sidecar, or ""
	Records int64
	Bytes   int64
	SHA256  string
	Labels  [][]int64 // per label feature and index: records with that label set
	Nanos   int64     // time spent writing the shard
}

// ShardStats is what ShardWriter.Write reports about a written shard.
type ShardStats struct {
	Records int64
	Bytes   int64     // bytes written to dst (compressed size when compressed)
	SHA256  string    // hex SHA-256 of those bytes
	Labels  [][]int64 // per label feature and index: records with that label set
}

// ShardWriter does the per-shard work of a conversion — read each row's
// image, preprocess it, serialise the Example, write the record — with no
// Beam involved, so the same work runs inside the WriteShards DoFn or in a
// plain goroutine pool.
type ShardWriter struct {
	Spec *schema.Spec
	// Images is the images root; rows' Image paths are relative to it.
	Images string
	// FS opens images; it must serve Images' scheme.
	FS filesystem.Interface
	// Workers is the number of goroutines decoding images; 0 = GOMAXPROCS.
	Workers int
	// Compression of the written TFRecord stream.
	Compression tfrecord.Compression
}

// ordered is one row's outcome, handed from a worker to the writer loop.
type ordered struct {
	example *[]byte // serialized Example, from examplePool; nil when rejected
	reject  *dataset.ErrorRecord
}

var examplePool = sync.Pool{New: func() any { return new([]byte) }}

// Write writes rows, in order, as one TFRecord stream to dst, and, when
// index is not nil, a DALI index to index. Rows whose image cannot be read
// (stage io) or decoded (stage image) are left out and returned as rejected;
// an error is returned only when the shard itself cannot be written.
//
// Images are read and preprocessed by Workers goroutines, at most 2*Workers
// rows ahead of the writer, so memory stays bounded whatever the shard size.
func (w *ShardWriter) Write(ctx context.Context, rows []Row, dst io.Writer, index io.Writer) (ShardStats, []dataset.ErrorRecord, error) {
	out := newPipelinedWriter(dst)
	defer out.Close()
	tw, err := tfrecord.NewWriter(out, &tfrecord.WriterOptions{Compression: w.Compression, Index: index})
	if err != nil {
		return ShardStats{}, nil, fmt.Errorf("pipeline: %w", err)
	}
	finish := func(stats ShardStats) (ShardStats, error) {
		if err := tw.Close(); err != nil {
			return ShardStats{}, fmt.Errorf("pipeline: writing shard: %w", err)
		}
		if err := out.Close(); err != nil {
			return ShardStats{}, fmt.Errorf("pipeline: writing shard: %w", err)
		}
		stats.Records = tw.Records()
		stats.Bytes = out.n
		stats.SHA256 = hex.EncodeToString(out.h.Sum(nil))
		return stats, nil
	}
	if len(rows) == 0 {
		stats, err := finish(ShardStats{})
		return stats, nil, err
	}
	workers := w.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	opts := w.Spec.ImageOptions()
	procs := make([]*imageprep.Processor, workers)
	for i := range procs {
		p, err := imageprep.NewProcessor(opts)
		if err != nil {
			return ShardStats{}, nil, fmt.Errorf("pipeline: %w", err)
		}
		procs[i] = p
	}

	ctx, cancel := context.WithCancel(ctx)
	type job struct {
		row  *Row
		done chan<- ordered
	}
	jobs := make(chan job)
	queue := make(chan chan ordered, 2*workers)
	var wg sync.WaitGroup
	for _, proc := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var file bytes.Buffer
			var pixels []byte
			for j := range jobs {
				var res ordered
				pixels, res = w.prepare(ctx, proc, j.row, &file, pixels)
				j.done <- res
			}
		}()
	}
	go func() {
		defer close(jobs)
		defer close(queue)
		for i := range rows {
			done := make(chan ordered, 1)
			select {
			case queue <- done:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{&rows[i], done}:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel() // stops the feeder; workers finish their row and stop
		wg.Wait()
	}()

	stats := ShardStats{Labels: make([][]int64, len(w.Spec.Labels))}
	for i, l := range w.Spec.Labels {
		stats.Labels[i] = make([]int64, l.Size)
	}
	var rejected []dataset.ErrorRecord
	next := 0
	for done := range queue {
		row := &rows[next]
		next++
		res := <-done
		if res.reject != nil {
			rejected = append(rejected, *res.reject)
			progress.rejected.Add(1)
			continue
		}
		err := tw.Write(*res.example)
		examplePool.Put(res.example)
		if err != nil {
			return ShardStats{}, nil, fmt.Errorf("pipeline: writing shard: %w", err)
		}
		for i, values := range row.Labels {
			for j, v := range values {
				if v != 0 && j < len(stats.Labels[i]) {
					stats.Labels[i][j]++
				}
			}
		}
		progress.imagesWritten.Add(1)
	}
	if err := ctx.Err(); err != nil {
		return ShardStats{}, nil, err
	}
	stats, err = finish(stats)
	return stats, rejected, err
}

// prepare reads, decodes and serialises one row; file and pixels are the
// worker's reusable buffers.
func (w *ShardWriter) prepare(ctx context.Context, proc *imageprep.Processor, row *Row, file *bytes.Buffer, pixels []byte) ([]byte, ordered) {
	path := joinPath(w.Images, row.Image)
	reject := func(stage dataset.Stage, err error) ordered {
		return ordered{reject: &dataset.ErrorRecord{Line: row.Line, Key: row.Key, Stage: stage, Reason: err.Error()}}
	}
	file.Reset()
	r, err := w.FS.OpenRead(ctx, path)
	if err != nil {
		return pixels, reject(dataset.StageIO, err)
	}
	_, err = file.ReadFrom(r)
	r.Close()
	if err != nil {
		return pixels, reject(dataset.StageIO, fmt.Errorf("reading %s: %w", path, err))
	}
	pixels, err = proc.Process(path, file.Bytes(), pixels[:0])
	if err != nil {
		return pixels, reject(dataset.StageImage, err)
	}
	example := examplePool.Get().(*[]byte)
	*example = w.Spec.AppendExample((*example)[:0], row.schemaRow(w.Spec), pixels)
	return pixels, ordered{example: example}
}

// pipelinedWriter hands every write to two goroutines, one writing to dst
// and one computing the SHA-256, so that neither runs on the shard's
// single writer loop: hashing and writing 196 KB per Planet example were a
// third of the CPU time, done serially, and capped the image pool's
// speed-up. Write copies p; the error of a failed write to dst is returned by
// a later Write and by Close, which must always be called.
type pipelinedWriter struct {
	toFile, toHash chan *chunk
	wg             sync.WaitGroup
	h              hash.Hash
	n              int64
	closeOnce      sync.Once

	mu  sync.Mutex
	err error
}

// chunk is one write, shared by both goroutines; the last to finish with it
// recycles it.
type chunk struct {
	buf  []byte
	refs atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

func newPipelinedWriter(dst io.Writer) *pipelinedWriter {
	pw := &pipelinedWriter{toFile: make(chan *chunk, 4), toHash: make(chan *chunk, 4), h: sha256.New()}
	pw.wg.Add(2)
	go func() {
		defer pw.wg.Done()
		for c := range pw.toFile {
			if pw.failed() == nil {
				if _, err := dst.Write(c.buf); err != nil {
					pw.mu.Lock()
					pw.err = err
					pw.mu.Unlock()
				}
			}
			pw.release(c)
		}
	}()
	go func() {
		defer pw.wg.Done()
		for c := range pw.toHash {
			pw.h.Write(c.buf)
			pw.release(c)
		}
	}()
	return pw
}

func (pw *pipelinedWriter) Write(p []byte) (int, error) {
	if err := pw.failed(); err != nil {
		return 0, err
	}
	c := chunkPool.Get().(*chunk)
	c.buf = append(c.buf[:0], p...)
	c.refs.Store(2)
	pw.n += int64(len(p))
	pw.toFile <- c
	pw.toHash <- c
	return len(p), nil
}

func (pw *pipelinedWriter) release(c *chunk) {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

func (pw *pipelinedWriter) failed() error {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.err
}

// Close waits until every write reached dst and the hash; it returns the
// first write error. Later calls do nothing more.
func (pw *pipelinedWriter) Close() error {
	pw.closeOnce.Do(func() {
		close(pw.toFile)
		close(pw.toHash)
		pw.wg.Wait()
	})
	return pw.failed()
}

// orderRows sorts a shard's rows by a seeded hash of their key (ties, from
// duplicate keys, by line): the write-time shuffle. The order depends only
// on the seed and the rows, never on how the runner delivered them.
func orderRows(seed int64, rows []Row) {
	hashes := make(map[string]uint64, len(rows))
	for _, r := range rows {
		hashes[r.Key] = keyHash(seed, "order", r.Key)
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(hashes[a.Key], hashes[b.Key]), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Line, b.Line))
	})
}

// WriteShards groups PCollection<KV<string, RowBatch>> (from AssignShard) by
// shard and writes each shard with a ShardWriter to a temporary file under
// tempDir whose name is unique to the attempt, so a retried bundle never
// collides with an earlier attempt. Only the small rows are grouped; images
// are read by the per-shard step. It returns PCollection<ShardResult> and
// PCollection<dataset.ErrorRecord> of rows whose image could not be read
// (stage io) or decoded (stage image).
func WriteShards(s beam.Scope, cfg ShardConfig, keyed beam.PCollection) (results, rejected beam.PCollection) {
	s = s.Scope("WriteShards")
	grouped := beam.GroupByKey(s, keyed)
	return beam.ParDo2(s, &writeShardFn{Config: cfg}, grouped)
}

// ShardConfig configures WriteShards; it is serialised to the workers.
type ShardConfig struct {
	Spec        string // canonical spec JSON
	Images      string // images root
	TempDir     string // directory for temporary shard files
	Compression string // none, gzip or zlib
	Index       bool   // write DALI index sidecars
	Seed        int64  // write-time shuffle seed
	Workers     int    // image goroutines per shard; 0 = GOMAXPROCS
}

type writeShardFn struct {
	Config ShardConfig

	writer  *ShardWriter
	out     filesystem.Interface
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
	images, err := filesystem.New(ctx, f.Config.Images)
	if err != nil {
		return err
	}
	if f.out, err = filesystem.New(ctx, f.Config.TempDir); err != nil {
		return err
	}
	f.writer = &ShardWriter{Spec: spec, Images: f.Config.Images, FS: images, Workers: f.Config.Workers, Compression: c}
	f.written = beam.NewCounter("tfprep", "records_written")
	f.bytes = beam.NewCounter("tfprep", "bytes_written")
	f.badIO = beam.NewCounter("tfprep", "rows_rejected_io")
	f.badImg = beam.NewCounter("tfprep", "rows_rejected_image")
	return nil
}

func (f *writeShardFn) Teardown() error {
	if f.writer != nil {
		f.writer.FS.Close()
		return f.out.Close()
	}
	return nil
}

func (f *writeShardFn) ProcessElement(ctx context.Context, key string, batches func(*RowBatch) bool, emit func(ShardResult), reject func(dataset.ErrorRecord)) error {
	var rows []Row
	var batch RowBatch
	for batches(&batch) {
		rows = append(rows, batch.Rows...)
		batch = RowBatch{}
	}
	if len(rows) == 0 {
		return nil
	}
	orderRows(f.Config.Seed, rows)
	start := time.Now()
	base := fmt.Sprintf("%s-%05d.%s.tfrecord%s", rows[0].Split, rows[0].Shard, randomID(), f.writer.Compression.Suffix())
	res := ShardResult{Split: rows[0].Split, Shard: rows[0].Shard, Temp: joinPath(f.Config.TempDir, base)}
	if f.Config.Index {
		res.Index = res.Temp + ".idx"
	}
	stats, rejected, err := writeShardFile(ctx, f.out, f.writer, rows, res.Temp, res.Index)
	if err != nil {
		removeQuietly(ctx, f.out, res.Temp, res.Index)
		return fmt.Errorf("pipeline: shard %s: %w", key, err)
	}
	res.Records, res.Bytes, res.SHA256, res.Labels = stats.Records, stats.Bytes, stats.SHA256, stats.Labels
	res.Nanos = time.Since(start).Nanoseconds()
	f.written.Inc(ctx, stats.Records)
	f.bytes.Inc(ctx, stats.Bytes)
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

// writeShardFile writes rows with w to path on out and, when indexPath is
// not empty, the index sidecar.
func writeShardFile(ctx context.Context, out filesystem.Interface, w *ShardWriter, rows []Row, path, indexPath string) (ShardStats, []dataset.ErrorRecord, error) {
	file, err := out.OpenWrite(ctx, path)
	if err != nil {
		return ShardStats{}, nil, err
	}
	var index io.WriteCloser
	var indexW io.Writer
	if indexPath != "" {
		if index, err = out.OpenWrite(ctx, indexPath); err != nil {
			file.Close()
			return ShardStats{}, nil, err
		}
		indexW = index
	}
	stats, rejected, err := w.Write(ctx, rows, file, indexW)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if index != nil {
		if cerr := index.Close(); err == nil {
			err = cerr
		}
	}
	return stats, rejected, err
}

// joinPath joins a path relative to root, slash separated, to root, which
// may be local or a URL such as gs://bucket/dir.
func joinPath(root, rel string) string {
	if strings.Contains(root, "://") {
		return strings.TrimSuffix(root, "/") + "/" + rel
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// removeQuietly removes files (empty names are skipped), ignoring errors:
// it cleans up after a failure that is already being reported.
func removeQuietly(ctx context.Context, fsys filesystem.Interface, paths ...string) {
	rm, ok := fsys.(filesystem.Remover)
	if !ok {
		return
	}
	for _, p := range paths {
		if p != "" {
			_ = rm.Remove(ctx, p)
		}
	}
}

// randomID names one attempt's temporary files.
func randomID() string { return rand.Text()[:12] }

package tfrecordio

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.Function1x1(framedSize)
	register.DoFn3x0[[]byte, func(*int64) bool, func(int)](&countShardsFn{})
	register.DoFn1x2[[]byte, int, []byte](&assignFixedFn{})
	register.DoFn2x2[[]byte, int, int, []byte](&assignSizedFn{})
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func(ShardFile), error](&writeShardFn{})
	register.DoFn5x1[context.Context, int, func(*int) bool, func(*ShardFile) bool, func(string), error](&commitFn{})
	register.Emitter1[ShardFile]()
	register.Emitter1[int]()
	register.Iter1[ShardFile]()
	register.Iter1[[]byte]()
	register.Iter1[int]()
	register.Iter1[int64]()
}

// DefaultShardSize is the target shard size when neither Shards nor
// ShardSize is set: TensorFlow's guide recommends 100-200 MB per file.
const DefaultShardSize = 128 << 20

// WriteOptions configures Write.
type WriteOptions struct {
	// Shards is the number of files. When 0, it follows from ShardSize.
	Shards int
	// ShardSize is the target size of a file in bytes of framed records
	// (before compression) when Shards is 0; 0 means DefaultShardSize. The
	// count is then max(1, ceil(total / ShardSize)), which needs the total
	// size first: the records are counted before any is written.
	ShardSize int64
	// Compression of the files: tfrecord.None (also the zero value, Auto),
	// GZIP or ZLIB.
	Compression tfrecord.Compression
	// Seed of the hash that assigns records to shards and orders them in a
	// shard.
	Seed int64
}

// ShardFile is a shard written to its temporary name.
type ShardFile struct {
	Shard   int
	Temp    string // full temporary name, unique to the attempt
	Records int64
	Bytes   int64 // size of the file
}

// shardName is the final name of shard i of n.
func shardName(prefix string, i, n int, c tfrecord.Compression) string {
	return fmt.Sprintf("%s-%05d-of-%05d.tfrecord%s", prefix, i, n, c.Suffix())
}

// Write writes the records of PCollection<[]byte> as TFRecord files named
// shardName(prefix, i, n, compression): "{prefix}-00000-of-00004.tfrecord"
// and so on, ".gz" or ".zz" appended when compressed. prefix is a path or
// URL whose last element starts the file names; its directory receives a
// temporary directory while the pipeline runs. It returns the
// PCollection<string> of the final file names, which exist once its elements
// are produced. Shard numbers that receive no record get an empty file, so
// there are always n files. Files an earlier write left under the same
// prefix with another shard count are not removed.
//
// A shard is sorted in memory before it is written: a worker needs about
// the shard's size in memory per shard it writes at a time.
func Write(s beam.Scope, prefix string, records beam.PCollection, opts WriteOptions) beam.PCollection {
	s = s.Scope("tfrecordio.Write")
	if opts.Shards < 0 || opts.ShardSize < 0 {
		panic(fmt.Sprintf("tfrecordio.Write: negative Shards (%d) or ShardSize (%d)", opts.Shards, opts.ShardSize))
	}
	c := opts.Compression
	if c == tfrecord.Auto {
		c = tfrecord.None
	}
	dir := "."
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = prefix[:i]
	}
	cfg := writeConfig{Prefix: prefix, TempDir: dir + "/.tfrecordio-tmp-" + rand.Text()[:12], Compression: c, Seed: opts.Seed}

	var layout, keyed beam.PCollection
	if opts.Shards > 0 {
		layout = beam.Create(s, opts.Shards)
		keyed = beam.ParDo(s, &assignFixedFn{Seed: opts.Seed, Shards: opts.Shards}, records)
	} else {
		size := cmp.Or(opts.ShardSize, DefaultShardSize)
		total := stats.Sum(s, beam.ParDo(s, framedSize, records))
		layout = beam.ParDo(s, &countShardsFn{ShardSize: size}, beam.Impulse(s), beam.SideInput{Input: total})
		keyed = beam.ParDo(s, &assignSizedFn{Seed: opts.Seed}, records, beam.SideInput{Input: layout})
	}
	files := beam.ParDo(s, &writeShardFn{Config: cfg}, beam.GroupByKey(s, keyed))
	grouped := beam.CoGroupByKey(s, beam.AddFixedKey(s, layout), beam.AddFixedKey(s, files))
	return beam.ParDo(s, &commitFn{Config: cfg}, grouped)
}

// writeConfig is what the writing and committing steps share; it is
// serialised to the workers.
type writeConfig struct {
	Prefix      string
	TempDir     string
	Compression tfrecord.Compression
	Seed        int64
}

// recordHash is the seeded hash that places a record: FNV-1a over the seed
// and the record, mixed by splitmix64's finaliser so that every bit depends
// on every input bit.
func recordHash(seed int64, record []byte) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	h.Write(b[:])
	h.Write(record)
	z := h.Sum64()
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// framedSize is a record's size in a TFRecord stream: 12 bytes of length
// and its checksum, the data, 4 bytes of the data's checksum.
func framedSize(record []byte) int64 { return int64(len(record)) + 16 }

// countShardsFn turns the total size (absent when there are no records)
// into the shard count, emitted once under key 0.
type countShardsFn struct {
	ShardSize int64
}

func (f *countShardsFn) ProcessElement(_ []byte, total func(*int64) bool, emit func(int)) {
	var bytes, t int64
	for total(&t) {
		bytes += t
	}
	emit(int(max(1, (bytes+f.ShardSize-1)/f.ShardSize)))
}

type assignFixedFn struct {
	Seed   int64
	Shards int
}

func (f *assignFixedFn) ProcessElement(record []byte) (int, []byte) {
	return int(recordHash(f.Seed, record) % uint64(f.Shards)), record
}

type assignSizedFn struct {
	Seed int64
}

func (f *assignSizedFn) ProcessElement(record []byte, shards int) (int, []byte) {
	return int(recordHash(f.Seed, record) % uint64(shards)), record
}

// writeShardFn writes one shard, its records in hash order (ties, which
// are equal records, in byte order), to a temporary file.
type writeShardFn struct {
	Config writeConfig

	written beam.Counter
}

func (f *writeShardFn) Setup() { f.written = beam.NewCounter("tfrecordio", "records_written") }

func (f *writeShardFn) ProcessElement(ctx context.Context, shard int, iter func(*[]byte) bool, emit func(ShardFile)) error {
	type placed struct {
		hash   uint64
		record []byte
	}
	var records []placed
	var record []byte
	for iter(&record) {
		records = append(records, placed{recordHash(f.Config.Seed, record), record})
		record = nil
	}
	slices.SortFunc(records, func(a, b placed) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), bytes.Compare(a.record, b.record))
	})
	temp := fmt.Sprintf("%s/shard-%05d.%s.tfrecord", f.Config.TempDir, shard, rand.Text()[:12])
	n, err := writeFile(ctx, temp, f.Config.Compression, func(w *tfrecord.Writer) error {
		for _, r := range records {
			if err := w.Write(r.record); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.written.Inc(ctx, int64(len(records)))
	emit(ShardFile{Shard: shard, Temp: temp, Records: int64(len(records)), Bytes: n})
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeFile creates path, writes records to it with fill and returns the
// file's size; on an error the file is removed.
func writeFile(ctx context.Context, path string, c tfrecord.Compression, fill func(*tfrecord.Writer) error) (int64, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("tfrecordio: %s: %w", path, err)
	}
	defer fs.Close()
	file, err := fs.OpenWrite(ctx, path)
	if err != nil {
		return 0, fmt.Errorf("tfrecordio: %w", err)
	}
	cw := &countingWriter{w: file}
	tw, err := tfrecord.NewWriter(cw, &tfrecord.WriterOptions{Compression: c})
	if err == nil {
		err = fill(tw)
		if cerr := tw.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if rm, ok := fs.(filesystem.Remover); ok {
			rm.Remove(ctx, path)
		}
		return 0, fmt.Errorf("tfrecordio: writing %s: %w", path, err)
	}
	return cw.n, nil
}

// commitFn is the single step after every shard is written: it renames the
// temporary files of the attempts the runner kept to their final names,
// writes empty files for shard numbers without records and removes the
// temporary directory. A retried commit finds its renames done and goes on.
type commitFn struct {
	Config writeConfig
}

func (f *commitFn) ProcessElement(ctx context.Context, _ int, layout func(*int) bool, files func(*ShardFile) bool, emit func(string)) error {
	var n int
	layout(&n)
	byShard := map[int]ShardFile{}
	var sf ShardFile
	for files(&sf) {
		if _, dup := byShard[sf.Shard]; dup {
			return fmt.Errorf("tfrecordio: shard %d written twice", sf.Shard)
		}
		byShard[sf.Shard] = sf
		sf = ShardFile{}
	}
	fs, err := filesystem.New(ctx, f.Config.TempDir)
	if err != nil {
		return fmt.Errorf("tfrecordio: %w", err)
	}
	defer fs.Close()
	finals := make([]string, n)
	for i := range n {
		finals[i] = shardName(f.Config.Prefix, i, n, f.Config.Compression)
		sf, ok := byShard[i]
		if !ok {
			sf.Temp = fmt.Sprintf("%s/shard-%05d.empty.tfrecord", f.Config.TempDir, i)
			if sf.Bytes, err = writeFile(ctx, sf.Temp, f.Config.Compression, func(*tfrecord.Writer) error { return nil }); err != nil {
				return err
			}
		}
		if err := commitFile(ctx, fs, sf.Temp, finals[i], sf.Bytes); err != nil {
			return err
		}
	}
	if err := removeDir(ctx, fs, f.Config.TempDir); err != nil {
		return err
	}
	for _, name := range finals {
		emit(name)
	}
	return nil
}

// commitFile renames temp to final, or finds that an earlier attempt of the
// commit did: temp gone and final of the expected size.
func commitFile(ctx context.Context, fs filesystem.Interface, temp, final string, size int64) error {
	err := filesystem.Rename(ctx, fs, temp, final)
	if err == nil {
		return nil
	}
	if got, serr := fs.Size(ctx, final); serr == nil && got == size {
		if _, terr := fs.Size(ctx, temp); terr != nil {
			return nil
		}
	}
	return fmt.Errorf("tfrecordio: renaming %s to %s: %w", temp, final, err)
}

// removeDir removes the files under dir, then dir itself where directories
// exist (an object store has none to remove).
func removeDir(ctx context.Context, fs filesystem.Interface, dir string) error {
	rm, ok := fs.(filesystem.Remover)
	if !ok {
		return nil
	}
	leftovers, err := fs.List(ctx, dir+"/*")
	if err != nil {
		return fmt.Errorf("tfrecordio: listing %s: %w", dir, err)
	}
	for _, name := range leftovers {
		if err := rm.Remove(ctx, name); err != nil {
			return fmt.Errorf("tfrecordio: removing %s: %w", name, err)
		}
	}
	rm.Remove(ctx, dir) // a directory, where the file system has them
	return nil
}

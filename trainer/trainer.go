// Package trainer streams a converted dataset back for training: tfprep's
// equivalent of tf.data.TFRecordDataset(files).interleave(...).shuffle(n).
// batch(b).repeat(e), plus what tf.data users keep asking for: exact
// resumption from a checkpoint and per-worker sharding.
//
// A [Dataset] comes from a converted directory ([Open], which reads
// the manifest with dataset.Open and the spec embedded in it), from shard files and a spec
// ([FromFiles], [Glob]), or straight from a CSV and a folder of images
// ([FromCSV], the seed's Keras Sequence approach: same batches, slower).
// [Dataset.Iter] returns an [Iterator] of [Batch] values: images as a dense
// [B,H,W,C] tensor of float32 or uint8, each label feature as [B,K] float32,
// and the keys.
//
// # Order
//
// The order of examples is a pure function of the dataset, the options and the
// seed; parallelism only changes how fast it is produced. Epoch e proceeds as
// follows:
//
//  1. The worker's shards (worker i of n takes shards i, i+n, i+2n, ... of the
//     sorted list) are put in a random order seeded by (Seed, e) when Shuffle
//     is set, otherwise kept in file order.
//  2. Interleave: CycleLength shards are read at once, taking BlockLength
//     records from each in turn; a finished shard's place in the cycle goes
//     to the next shard in order. Each shard is read ahead by its own
//     goroutine, but records are always taken in this round-robin order.
//  3. Shuffle: a buffer of Shuffle examples; each incoming example replaces a
//     uniformly chosen buffered one, which is emitted (tf.data's algorithm,
//     random stream seeded by (Seed, e)). At the end of the epoch the buffer
//     drains in random order, so every example is delivered exactly once per
//     epoch.
//  4. Batch: BatchSize consecutive examples; the last, smaller batch of an
//     epoch is delivered unless DropRemainder is set. Batches never span
//     epochs.
//
// With GlobalShuffle, steps 1-3 are replaced by one uniform permutation of all
// of the worker's records per epoch, read by offset: this needs uncompressed
// shards, and uses their DALI index sidecars (shard + ".idx") when present,
// otherwise scans each shard once when the iterator starts. A CSV dataset is
// always read this way (shuffled when Shuffle or GlobalShuffle is set).
//
// # Checkpoints
//
// [Iterator.State] returns, after any batch, a small binary snapshot: the
// epoch, the position of every shard in the interleave cycle, the identity
// (shard, offset) of each example in the shuffle buffer and the random
// generator's state: about 10 bytes per buffered example (10 KB for a
// shuffle buffer of 1024), under 40 bytes in GlobalShuffle mode. [Dataset.Resume] with the same options continues with
// exactly the batches the interrupted iterator would have produced. It reads
// the buffered examples back by offset (an uncompressed shard) or by
// rescanning (a compressed one). A state refuses to resume with options or
// shards that would change the order.
//
// # Memory
//
// Memory is bounded and does not grow with the dataset: the shuffle buffer
// (Shuffle examples), per open shard ReadAhead examples, and Prefetch +
// Parallelism + 1 batches. [Iterator.MemoryBound] states the bound in bytes
// for the dataset's example size; for 128x128x3 float32 Planet examples
// (196,608 image bytes) with Shuffle 1024, batch 32 and the defaults on two
// cores it is 259 MB (247 MiB), 80% of it the shuffle buffer. Every buffer is
// reused for the life of the iterator, so a training job that repeats epochs
// allocates nothing per example.
//
// # Errors
//
// A damaged record stops the iterator with a *tfrecord.RecordError naming
// the file, the byte offset and the record number (errors.Is matches
// tfrecord.ErrCorrupt and friends, or the schema's errors for an Example that
// does not match the spec). With SkipCorrupt, damaged byte ranges and
// mismatching Examples are skipped instead, and counted in [Stats].
package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// Sentinel errors.
var (
	// ErrOptions reports options that cannot be used with the dataset.
	ErrOptions = errors.New("trainer: invalid options")
	// ErrState reports a checkpoint that is malformed or belongs to other
	// options or files.
	ErrState = errors.New("trainer: cannot resume from this state")
	// ErrDataset reports a dataset that cannot be read: no shards, missing
	// files, a spec without an image feature.
	ErrDataset = errors.New("trainer: unusable dataset")
)

// Shard is one TFRecord file of a dataset.
type Shard struct {
	Path        string
	Split       string               // from the manifest; "" for FromFiles
	Records     int64                // from the manifest; -1 when unknown
	Compression tfrecord.Compression // detected from the file's first bytes
}

// Dataset is a set of examples that can be iterated many times, with
// different options, concurrently.
type Dataset struct {
	spec   *schema.Spec
	shards []Shard
	csv    *csvSource
	layout layout
	parts  []part // hold-out parts the dataset is restricted to (Holdout)
}

// Spec returns the dataset's spec.
func (d *Dataset) Spec() *schema.Spec { return d.spec }

// Shards returns the dataset's shard files in sorted order; nil for a CSV
// dataset.
func (d *Dataset) Shards() []Shard { return slices.Clone(d.shards) }

// Examples returns the number of examples when it is known without reading
// (a manifest, or a CSV), else -1.
func (d *Dataset) Examples() int64 {
	if d.csv != nil {
		return int64(len(d.csv.rows))
	}
	if len(d.parts) > 0 {
		return -1
	}
	var n int64
	for _, sh := range d.shards {
		if sh.Records < 0 {
			return -1
		}
		n += sh.Records
	}
	return n
}

// Open opens a dataset written by "tfprep convert": it opens dir with dataset.Open
// and the spec embedded in it, and takes the shards of the named splits, or of
// every split when none is named. Each shard must exist with the size the
// manifest records.
func Open(dir string, splits ...string) (*Dataset, error) {
	ctx := context.Background()
	ds, err := dataset.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	files, err := ds.Shards(splits...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	if err := ds.CheckSizes(ctx, splits...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	shards := make([]Shard, len(files))
	for i, sh := range files {
		shards[i] = Shard{Path: sh.Path, Split: sh.Split, Records: sh.Records}
	}
	return newDataset(ds.Spec, shards)
}

// OpenSplits opens each named split of the converted dataset in dir as a
// Dataset of its own (every split, in manifest order, when none is named),
// as Open opens one, and returns the split names with them.
func OpenSplits(dir string, splits ...string) ([]string, []*Dataset, error) {
	if len(splits) == 0 {
		m, err := dataset.ReadManifest(dir)
		if err != nil {
			return nil, nil, err
		}
		splits = m.SplitNames()
	}
	sets := make([]*Dataset, len(splits))
	for i, name := range splits {
		var err error
		if sets[i], err = Open(dir, name); err != nil {
			return nil, nil, err
		}
	}
	return splits, sets, nil
}

// FromFiles makes a dataset of TFRecord files whose Examples follow spec.
func FromFiles(spec *schema.Spec, paths ...string) (*Dataset, error) {
	shards := make([]Shard, len(paths))
	for i, p := range paths {
		shards[i] = Shard{Path: p, Records: -1}
	}
	return newDataset(spec, shards)
}

// Glob makes a dataset of the TFRecord files matching pattern, local or in
// a bucket (filepath.Match syntax, e.g. "out/train-*.tfrecord*" or
// "gs://bucket/out/train-*"; see dataset.Glob).
func Glob(spec *schema.Spec, pattern string) (*Dataset, error) {
	paths, err := dataset.Glob(context.Background(), []string{pattern})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDataset, err)
	}
	return FromFiles(spec, paths...)
}

func newDataset(spec *schema.Spec, shards []Shard) (*Dataset, error) {
	if len(shards) == 0 {
		return nil, fmt.Errorf("%w: no shards", ErrDataset)
	}
	lay, err := newLayout(spec)
	if err != nil {
		return nil, err
	}
	shards = slices.Clone(shards)
	slices.SortFunc(shards, func(a, b Shard) int { return strings.Compare(a.Path, b.Path) })
	for i := range shards {
		if i > 0 && shards[i].Path == shards[i-1].Path {
			return nil, fmt.Errorf("%w: %s listed twice", ErrDataset, shards[i].Path)
		}
		c, err := detectCompression(shards[i].Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrDataset, err)
		}
		shards[i].Compression = c
	}
	return &Dataset{spec: spec, shards: shards, layout: lay}, nil
}

// detectCompression sniffs a file's first bytes, which is more reliable than
// its name.
func detectCompression(path string) (tfrecord.Compression, error) {
	f, err := dataset.OpenFile(context.Background(), path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := tfrecord.NewReader(f, &tfrecord.ReaderOptions{ReuseBuffer: true})
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return r.Compression(), nil
}

// ImageType is the element type of Batch.Images.
type ImageType int

const (
	Float32 ImageType = iota // pixels as stored by the float32 encoding, or uint8/255
	Uint8                    // 0..255
)

// ParseImageType parses "float32" or "uint8".
func ParseImageType(s string) (ImageType, error) {
	switch strings.ToLower(s) {
	case "float32", "":
		return Float32, nil
	case "uint8":
		return Uint8, nil
	}
	return 0, fmt.Errorf("%w: image type %q (want float32 or uint8)", ErrOptions, s)
}

func (t ImageType) String() string {
	if t == Uint8 {
		return "uint8"
	}
	return "float32"
}

// Options control iteration. The zero value reads every example once, in
// file order, in batches of 32.
type Options struct {
	BatchSize     int  // examples per batch; 0 = 32
	DropRemainder bool // drop each epoch's last batch when it is smaller
	Epochs        int  // passes over the data; 0 = 1, negative = forever

	Shuffle       int    // shuffle buffer in examples (also shuffles shard order); 0 or 1 = none
	GlobalShuffle bool   // one exact uniform permutation per epoch, read by offset
	Seed          uint64 // seeds shard order, shuffle and permutations

	CycleLength int // shards read at once; 0 = min(4, shards)
	BlockLength int // consecutive records taken from a shard; 0 = 1
	ReadAhead   int // records each open shard reads ahead; 0 = 8

	Prefetch    int // batches assembled ahead of Next; 0 = 2
	Parallelism int // goroutines assembling batches (and decoding images); 0 = GOMAXPROCS

	NumWorkers  int // worker sharding: total workers; 0 = 1
	WorkerIndex int // this worker, in [0, NumWorkers)

	SkipChecksums bool      // do not verify CRCs
	SkipCorrupt   bool      // skip and count damaged records instead of failing
	ImageType     ImageType // element type of Batch.Images
}

func (o Options) withDefaults(shards int) Options {
	if o.BatchSize == 0 {
		o.BatchSize = 32
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.NumWorkers == 0 {
		o.NumWorkers = 1
	}
	if o.CycleLength == 0 {
		o.CycleLength = 4
	}
	o.CycleLength = max(1, min(o.CycleLength, (shards+o.NumWorkers-1)/max(o.NumWorkers, 1)))
	if o.BlockLength == 0 {
		o.BlockLength = 1
	}
	if o.ReadAhead == 0 {
		o.ReadAhead = 8
	}
	if o.Prefetch == 0 {
		o.Prefetch = 2
	}
	if o.Parallelism == 0 {
		o.Parallelism = defaultParallelism()
	}
	return o
}

func (o Options) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrOptions}, args...)...)
	}
	switch {
	case o.BatchSize < 1:
		return bad("batch size %d < 1", o.BatchSize)
	case o.Shuffle < 0:
		return bad("shuffle buffer %d < 0", o.Shuffle)
	case o.CycleLength < 1, o.BlockLength < 1, o.ReadAhead < 1, o.Prefetch < 1, o.Parallelism < 1:
		return bad("cycle length, block length, read-ahead, prefetch and parallelism must be positive")
	case o.NumWorkers < 1 || o.WorkerIndex < 0 || o.WorkerIndex >= o.NumWorkers:
		return bad("worker index %d of %d workers", o.WorkerIndex, o.NumWorkers)
	case o.ImageType != Float32 && o.ImageType != Uint8:
		return bad("image type %d", int(o.ImageType))
	}
	return nil
}

// Batch is a batch of examples. Its slices are valid until the next call to
// Iterator.Next; copy what must outlive it.
type Batch struct {
	Epoch  int      // zero-based epoch the examples belong to
	Keys   []string // [B]; empty strings when the spec stores no key
	Images Images
	Labels []Labels // one per label feature, in spec order
}

// Len returns the number of examples in the batch.
func (b *Batch) Len() int { return len(b.Keys) }

// Images is a dense image tensor. Exactly one of Float32 and Uint8 holds the
// values, as Iterator options asked.
type Images struct {
	Shape   [4]int // B, H, W, C
	Float32 []float32
	Uint8   []uint8
}

// Labels is one label feature as a dense [B,K] tensor.
type Labels struct {
	Feature string
	Shape   [2]int // B, K
	Values  []float32
}

// Stats count what an iterator has read.
type Stats struct {
	Examples int64 // delivered in batches
	Batches  int64
	Bytes    int64 // record bytes read from shards (uncompressed), or image bytes from a CSV dataset
	// Skipped lists what SkipCorrupt skipped: damaged byte ranges and records
	// that are not valid Examples of the spec.
	Skipped []error
}

var _ io.Closer = (*Iterator)(nil)

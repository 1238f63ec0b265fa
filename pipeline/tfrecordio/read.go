// Package tfrecordio reads and writes TFRecord files in Beam Go pipelines:
// the counterpart of Beam Java's TFRecordIO and Python's ReadFromTFRecord /
// WriteToTFRecord, which the Go SDK lacks. It works on any Beam runner and
// on any file system Beam knows (local paths, gs://, s3://, memfs://: import
// the file system's package for its side effect, as for textio).
//
// Read turns a PCollection<string> of file patterns into the
// PCollection<[]byte> of the records of every file they match. Files are
// the unit of parallelism: the matched files are redistributed (a Reshuffle)
// so that different workers read different files; a single file is read by
// one worker from start to end, since neither a TFRecord stream nor a
// compressed one can be entered in the middle. Compression (none, GZIP,
// ZLIB) is detected per file from its first bytes.
//
// Write turns a PCollection<[]byte> into sharded files
// "{prefix}-{SSSSS}-of-{NNNNN}.tfrecord[.gz|.zz]", the shard naming of
// tfprep's datasets, with a fixed number of shards or a target shard size,
// and returns the PCollection<string> of the files written, complete once
// they all have their final names. Each shard is written under a temporary
// name unique to the attempt, so a retried bundle never collides with the
// attempt it replaces and never adds records twice: only the file of the
// attempt whose output the runner kept is renamed into place, by one final
// step that runs after every shard is written, and which then deletes the
// temporary directory with whatever failed attempts left in it.
//
// Which shard a record goes to, and its place in the shard, follow a seeded
// hash of its bytes: the files are a function of the records, the options
// and the seed only, whatever the runner, the parallelism or the order the
// records arrived in, so a rerun writes byte-identical files.
//
// The framing and compression are package tfrecord's, the same code that
// writes and reads tfprep's datasets.
package tfrecordio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn3x1[context.Context, string, func(string), error](&expandFn{})
	register.DoFn3x1[context.Context, string, func([]byte), error](&readFn{})
	register.Emitter1[string]()
	register.Emitter1[[]byte]()
}

// ErrNoMatch: a file pattern without wildcards names no file.
var ErrNoMatch = errors.New("tfrecordio: no such file")

// ReadOptions configures Read. The zero value reads every record of every
// file, verifying each checksum, and fails on the first damaged record.
type ReadOptions struct {
	// MaxRecordSize is the largest record accepted; 0 means
	// tfrecord.DefaultMaxRecordSize (256 MiB).
	MaxRecordSize int64
}

// Read reads the records of the TFRecord files matched by the file
// patterns of PCollection<string> (globs as the file system's List takes
// them) and returns them as PCollection<[]byte>. A pattern with wildcards
// may match nothing; a plain file name that does not exist fails the
// pipeline (ErrNoMatch). A damaged record fails the bundle with an error
// naming the file and the byte offset (see tfrecord.RecordError).
func Read(s beam.Scope, patterns beam.PCollection, opts ReadOptions) beam.PCollection {
	s = s.Scope("tfrecordio.Read")
	files := beam.ParDo(s, &expandFn{}, patterns)
	files = beam.Reshuffle(s, files)
	return beam.ParDo(s, &readFn{MaxRecordSize: opts.MaxRecordSize}, files)
}

// expandFn expands a file pattern to the names of the files it matches.
type expandFn struct{}

func (f *expandFn) ProcessElement(ctx context.Context, pattern string, emit func(string)) error {
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		return fmt.Errorf("tfrecordio: %s: %w", pattern, err)
	}
	defer fs.Close()
	files, err := fs.List(ctx, pattern)
	if err != nil {
		return fmt.Errorf("tfrecordio: listing %s: %w", pattern, err)
	}
	if len(files) == 0 && !strings.ContainsAny(pattern, "*?[") {
		return fmt.Errorf("%w: %s", ErrNoMatch, pattern)
	}
	for _, file := range files {
		emit(file)
	}
	return nil
}

// readFn reads every record of one file.
type readFn struct {
	MaxRecordSize int64

	records beam.Counter
}

func (f *readFn) Setup() { f.records = beam.NewCounter("tfrecordio", "records_read") }

func (f *readFn) ProcessElement(ctx context.Context, file string, emit func([]byte)) error {
	fs, err := filesystem.New(ctx, file)
	if err != nil {
		return fmt.Errorf("tfrecordio: %s: %w", file, err)
	}
	defer fs.Close()
	r, err := fs.OpenRead(ctx, file)
	if err != nil {
		return fmt.Errorf("tfrecordio: %w", err)
	}
	defer r.Close()
	tr, err := tfrecord.NewReader(r, &tfrecord.ReaderOptions{MaxRecordSize: f.MaxRecordSize})
	if err != nil {
		return fmt.Errorf("tfrecordio: %s: %w", file, err)
	}
	var n int64
	defer func() { f.records.Inc(ctx, n) }()
	for {
		record, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tfrecordio: %s: %w", file, err)
		}
		emit(record)
		n++
	}
}

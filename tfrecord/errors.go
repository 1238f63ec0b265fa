package tfrecord

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

var (
	// ErrCorrupt reports a record whose length or data does not match its CRC, or a
	// compressed stream the decompressor rejects.
	ErrCorrupt = errors.New("tfrecord: corrupt record")
	// ErrTruncated reports a stream that ends inside a record. It wraps
	// io.ErrUnexpectedEOF, so errors.Is(err, io.ErrUnexpectedEOF) holds as well.
	ErrTruncated = fmt.Errorf("tfrecord: truncated record: %w", io.ErrUnexpectedEOF)
	// ErrTooLarge reports a record whose checksummed length exceeds the reader's
	// MaxRecordSize. It is returned before any memory is allocated for the record.
	ErrTooLarge = errors.New("tfrecord: record too large")
	// ErrIndex reports a malformed index sidecar or index entry.
	ErrIndex = errors.New("tfrecord: bad index")
)

// RecordError describes a problem with one record. Err wraps one of the package's sentinel
// errors or an error of the underlying reader.
type RecordError struct {
	Path   string // file name when the reader came from Open; empty otherwise
	Offset int64  // where the record starts in the uncompressed stream
	Record int64  // zero-based index of the record
	Err    error
}

func (e *RecordError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "tfrecord: ")
	if e.Path != "" {
		return fmt.Sprintf("tfrecord: %s: record %d at offset %d: %s", e.Path, e.Record, e.Offset, msg)
	}
	return fmt.Sprintf("tfrecord: record %d at offset %d: %s", e.Record, e.Offset, msg)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Damage is a byte range of the uncompressed stream that a recovering Reader skipped.
type Damage struct {
	Offset int64 // first skipped byte
	Length int64 // number of skipped bytes
	Err    error // why the record at Offset could not be read; a *RecordError
}

func (d Damage) String() string {
	return fmt.Sprintf("bytes %d..%d (%d bytes): %v", d.Offset, d.Offset+d.Length, d.Length, d.Err)
}

// IndexError describes a bad line of an index sidecar.
type IndexError struct {
	Line int // one-based line number
	Err  error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("tfrecord: index line %d: %s", e.Line, strings.TrimPrefix(e.Err.Error(), "tfrecord: "))
}

func (e *IndexError) Unwrap() error { return e.Err }

package tfrecord

import (
	"fmt"
	"io"
)

var (
	// ErrCorrupt reports a record whose length or data does not match its CRC, or a
	// compressed stream the decompressor rejects.
	ErrCorrupt error = errCorrupt
	// ErrTruncated reports a stream that ends inside a record. It wraps
	// io.ErrUnexpectedEOF, so errors.Is(err, io.ErrUnexpectedEOF) holds as well.
	ErrTruncated error = errTruncated
	// ErrTooLarge reports a record whose checksummed length exceeds the reader's
	// MaxRecordSize. It is returned before any memory is allocated for the record.
	ErrTooLarge error = errTooLarge
	// ErrIndex reports a malformed index sidecar or index entry.
	ErrIndex error = errIndex
)

var (
	errCorrupt   = &formatError{reason: "corrupt record"}
	errTruncated = &formatError{reason: "truncated record: " + io.ErrUnexpectedEOF.Error(), err: io.ErrUnexpectedEOF}
	errTooLarge  = &formatError{reason: "record too large"}
	errIndex     = &formatError{reason: "bad index"}
)

// formatError is a sentinel of the package. Its reason is its text without the package
// name, so that RecordError and IndexError can put a position between the two.
type formatError struct {
	reason string
	err    error // what the sentinel also matches, or nil
}

func (e *formatError) Error() string { return "tfrecord: " + e.reason }
func (e *formatError) Unwrap() error { return e.err }

// problem is a sentinel plus what was found: "corrupt record: data checksum mismatch ...".
type problem struct {
	kind   *formatError
	detail string
	cause  error // the underlying reader's or decompressor's error, or nil
}

func newProblem(kind *formatError, cause error, format string, args ...any) error {
	return &problem{kind: kind, detail: fmt.Sprintf(format, args...), cause: cause}
}

func (p *problem) Error() string  { return "tfrecord: " + p.reason() }
func (p *problem) reason() string { return p.kind.reason + ": " + p.detail }

func (p *problem) Unwrap() []error {
	if p.cause == nil {
		return []error{p.kind}
	}
	return []error{p.kind, p.cause}
}

// reason is err's message without the package name: the words of a sentinel or problem of
// this package, or another error's message as it is.
func reason(err error) string {
	switch e := err.(type) {
	case *problem:
		return e.reason()
	case *formatError:
		return e.reason
	}
	return err.Error()
}

// RecordError describes a problem with one record. Err wraps one of the package's sentinel
// errors or an error of the underlying reader.
type RecordError struct {
	Path   string // file name when the reader came from Open; empty otherwise
	Offset int64  // where the record starts in the uncompressed stream
	Record int64  // zero-based index of the record
	Err    error
}

func (e *RecordError) Error() string {
	msg := e.Reason()
	if e.Path != "" {
		return fmt.Sprintf("tfrecord: %s: record %d at offset %d: %s", e.Path, e.Record, e.Offset, msg)
	}
	return fmt.Sprintf("tfrecord: record %d at offset %d: %s", e.Record, e.Offset, msg)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Reason says what is wrong with the record, without the package name and the position:
// "corrupt record: data checksum mismatch: ...". It is for callers that print the position
// in their own way.
func (e *RecordError) Reason() string { return reason(e.Err) }

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
	return fmt.Sprintf("tfrecord: index line %d: %s", e.Line, reason(e.Err))
}

func (e *IndexError) Unwrap() error { return e.Err }

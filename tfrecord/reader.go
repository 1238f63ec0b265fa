package tfrecord

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
)

const (
	// readBufferSize is small on purpose: a record larger than the buffer is read straight
	// into its own slice, and only the part the buffer prefetched is copied twice.
	readBufferSize = 16 << 10
	// growChunk bounds the memory committed to a record before its bytes arrive: records
	// larger than this are read into a buffer that doubles as data comes in, so a forged
	// or truncated length cannot make the Reader allocate far more than the stream holds.
	growChunk = 1 << 20
	// maxRecordSizeLimit keeps frame arithmetic (length + 16 + scan position) within int.
	maxRecordSizeLimit = math.MaxInt / 4
)

// ReaderOptions configures a Reader or SeekReader. The zero value detects compression,
// verifies every checksum, allocates a fresh slice per record and stops at the first damage.
type ReaderOptions struct {
	// Compression is the stream's compression; Auto, the zero value, detects it.
	// SeekReader ignores it: indexed files are uncompressed.
	Compression Compression
	// MaxRecordSize is the largest record data length accepted; 0 means
	// DefaultMaxRecordSize (256 MiB).
	MaxRecordSize int64
	// ReuseBuffer makes Next (and SeekReader.ReadRecord) return a slice that is valid only
	// until the next call, so that reading allocates nothing in steady state.
	ReuseBuffer bool
	// SkipChecksums skips CRC verification of well-formed streams. Recovery, when enabled,
	// still uses CRCs to find where records resume.
	SkipChecksums bool
	// Recover skips damaged byte ranges instead of failing; see Reader.Skipped.
	// SeekReader ignores it.
	Recover bool
}

func (o *ReaderOptions) normalize() (ReaderOptions, error) {
	var n ReaderOptions
	if o != nil {
		n = *o
	}
	if !n.Compression.valid() {
		return n, fmt.Errorf("tfrecord: invalid compression %d", int(n.Compression))
	}
	switch {
	case n.MaxRecordSize < 0 || n.MaxRecordSize > maxRecordSizeLimit:
		return n, fmt.Errorf("tfrecord: MaxRecordSize %d out of range [0, %d]", n.MaxRecordSize, int64(maxRecordSizeLimit))
	case n.MaxRecordSize == 0:
		n.MaxRecordSize = DefaultMaxRecordSize
	}
	return n, nil
}

// source is the Reader's byte stream: bytes that recovery put back, then the (decompressed)
// input. It remembers the first error of the input that is not io.EOF, so that a failed
// decompressor is not mistaken for a stream that merely ends.
type source struct {
	pending []byte
	in      io.Reader
	err     error
	eof     bool
}

func (s *source) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	if s.err != nil {
		return 0, s.err
	}
	if s.eof {
		return 0, io.EOF
	}
	n, err := s.in.Read(p)
	switch {
	case err == io.EOF:
		s.eof = true
	case err != nil:
		s.err = err
	}
	return n, err
}

// Reader reads records from a TFRecord stream. It is not safe for concurrent use.
type Reader struct {
	opts        ReaderOptions
	compression Compression
	path        string
	src         source
	hdr         [headerSize]byte
	buf         []byte // the reused record buffer (ReuseBuffer)
	offset      int64
	index       int64
	skipped     []Damage
	err         error
	// failed holds what the record that just failed consumed, for recovery to rescan.
	failedHeader, failedBody []byte
}

// NewReader returns a Reader of the records in r. opts may be nil. With Compression Auto it
// reads the first bytes of r to detect the compression. It returns an error only for invalid
// options; problems with the stream itself are reported by Next.
func NewReader(r io.Reader, opts *ReaderOptions) (*Reader, error) {
	return newReader(r, opts, "")
}

func newReader(r io.Reader, opts *ReaderOptions, path string) (*Reader, error) {
	o, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	rd := &Reader{opts: o, path: path, compression: o.Compression}
	in := bufio.NewReaderSize(r, readBufferSize)
	if rd.compression == Auto {
		head, err := in.Peek(headerSize)
		if err != nil && err != io.EOF {
			rd.err = rd.recordError(streamError(None, err))
			return rd, nil
		}
		rd.compression = detect(head)
	}
	if rd.compression == None {
		rd.src.in = in
		return rd, nil
	}
	// An empty input holds no records, whatever its compression (zlib would call it
	// truncated, gzip would not).
	if _, err := in.Peek(1); err == io.EOF {
		rd.err = io.EOF
		return rd, nil
	}
	var dec io.Reader
	if rd.compression == GZIP {
		dec, err = gzip.NewReader(in)
	} else {
		dec, err = zlib.NewReader(in)
	}
	if err != nil {
		rd.err = rd.recordError(streamError(rd.compression, err))
		return rd, nil
	}
	rd.src.in = bufio.NewReaderSize(dec, readBufferSize)
	return rd, nil
}

// File is a TFRecord file opened for reading: a Reader of its records that also closes the
// file.
type File struct {
	*Reader
	file *os.File
}

// Close closes the file.
func (f *File) Close() error { return f.file.Close() }

// Open opens the TFRecord file at path for reading, as os.Open opens a file. With Compression
// Auto the compression is detected from the content, which is more reliable than the name (see
// CompressionFromName). A file that cannot be opened gives os.Open's error (a *fs.PathError,
// naming the file); reading errors name the file too. The caller closes the File when done.
func Open(path string, opts *ReaderOptions) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := newReader(f, opts, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (opening %s)", err, path)
	}
	return &File{Reader: r, file: f}, nil
}

// Compression returns the stream's compression: the one given in the options, or the one
// detected.
func (r *Reader) Compression() Compression { return r.compression }

// Offset returns the offset, in the uncompressed stream, of the next record.
func (r *Reader) Offset() int64 { return r.offset }

// Index returns the number of records Next has returned.
func (r *Reader) Index() int64 { return r.index }

// Skipped returns the byte ranges a recovering Reader has skipped so far, in stream order.
func (r *Reader) Skipped() []Damage { return slices.Clone(r.skipped) }

// Next returns the next record's data. It returns io.EOF when the stream ends cleanly
// at a record boundary, and otherwise a *RecordError (see the package documentation);
// with Recover, damaged ranges are skipped and listed by Skipped instead. Errors are
// sticky. Unless ReuseBuffer is set, the returned slice belongs to the caller.
func (r *Reader) Next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		record, err := r.readRecord()
		if err == nil {
			r.index++
			return record, nil
		}
		if err == io.EOF {
			r.err = io.EOF
			return nil, io.EOF
		}
		rerr := r.recordError(err)
		if !r.opts.Recover || r.src.err != nil {
			r.err = rerr
			return nil, rerr
		}
		if err := r.resync(rerr); err != nil {
			r.err = err
			return nil, err
		}
	}
}

func (r *Reader) recordError(err error) *RecordError {
	return &RecordError{Path: r.path, Offset: r.offset, Record: r.index, Err: err}
}

// readRecord reads one record at r.offset and advances past it. On failure it leaves what
// the record consumed in r.failedHeader and r.failedBody.
func (r *Reader) readRecord() ([]byte, error) {
	n, err := io.ReadFull(&r.src, r.hdr[:])
	if err != nil {
		r.failedHeader, r.failedBody = r.hdr[:n], nil
		switch {
		case r.src.err != nil:
			return nil, streamError(r.compression, r.src.err)
		case n == 0:
			return nil, io.EOF
		}
		return nil, newProblem(errTruncated, nil, "header ends after %d of %d bytes", n, headerSize)
	}
	length, ok := headerLength(r.hdr[:])
	if !ok && !r.opts.SkipChecksums {
		r.failedHeader, r.failedBody = r.hdr[:], nil
		return nil, newProblem(errCorrupt, nil, "length checksum mismatch: stored %#08x, computed %#08x", binary.LittleEndian.Uint32(r.hdr[8:]), maskedCRC(r.hdr[:8]))
	}
	if length > uint64(r.opts.MaxRecordSize) {
		r.failedHeader, r.failedBody = r.hdr[:], nil
		return nil, newProblem(errTooLarge, nil, "length %d exceeds the limit of %d bytes", length, r.opts.MaxRecordSize)
	}
	size := int(length)
	var buf []byte
	if r.opts.ReuseBuffer {
		buf = r.buf[:0]
	}
	buf, err = readGrow(&r.src, buf, size+footerSize)
	if r.opts.ReuseBuffer {
		r.buf = buf[:0]
	}
	if err != nil {
		r.failedHeader, r.failedBody = r.hdr[:], buf
		if r.src.err != nil {
			return nil, streamError(r.compression, r.src.err)
		}
		return nil, newProblem(errTruncated, nil, "data ends after %d of %d bytes (including the 4-byte data checksum)", len(buf), size+footerSize)
	}
	data := buf[:size:size]
	if !r.opts.SkipChecksums {
		stored, computed := binary.LittleEndian.Uint32(buf[size:]), maskedCRC(data)
		if stored != computed {
			r.failedHeader, r.failedBody = r.hdr[:], buf
			return nil, newProblem(errCorrupt, nil, "data checksum mismatch: stored %#08x, computed %#08x over %d bytes", stored, computed, size)
		}
	}
	r.offset += int64(size + FrameOverhead)
	return data, nil
}

// readGrow reads exactly total bytes from src into buf's backing array, returning the bytes
// read. Memory beyond growChunk is committed only as bytes arrive.
func readGrow(src io.Reader, buf []byte, total int) ([]byte, error) {
	if cap(buf) >= total || total <= growChunk {
		if cap(buf) < total {
			buf = make([]byte, total)
		}
		n, err := io.ReadFull(src, buf[:total])
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return buf[:n], err
	}
	buf = buf[:0]
	for len(buf) < total {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(max(2*cap(buf), growChunk), total))
			copy(grown, buf)
			buf = grown
		}
		n, err := src.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF && len(buf) < total {
			return buf, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return buf, err
		}
	}
	return buf, nil
}

// streamError classifies an error of the underlying reader or decompressor.
func streamError(c Compression, err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return newProblem(errTruncated, nil, "%v stream ends early", c)
	case errors.As(err, &corrupt), errors.Is(err, gzip.ErrHeader), errors.Is(err, gzip.ErrChecksum),
		errors.Is(err, zlib.ErrHeader), errors.Is(err, zlib.ErrChecksum), errors.Is(err, zlib.ErrDictionary):
		return newProblem(errCorrupt, err, "%v stream: %v", c, err)
	}
	return err
}

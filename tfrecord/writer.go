package tfrecord

import (
	"bufio"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// writeBufferSize is the Writer's buffer for headers, footers and small records. Records of
// at least half of it go to the destination without being copied.
const writeBufferSize = 64 << 10

// WriterOptions configures a Writer. The zero value writes an uncompressed stream.
type WriterOptions struct {
	Compression Compression // None (Auto counts as None), GZIP or ZLIB
	// Level is the compress/flate level for GZIP and ZLIB: 0 means the default level,
	// otherwise -2 (Huffman only) to 9. It is ignored when nothing is compressed.
	Level int
	// Index, if set, receives a DALI index sidecar: "offset length\n" per record. Only
	// uncompressed streams can be indexed; NewWriter rejects Index with compression.
	Index io.Writer
}

// compressor is what gzip.Writer and zlib.Writer have in common.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
}

// Writer writes records in TFRecord framing. It is not safe for concurrent use.
type Writer struct {
	dst     io.Writer  // the destination or the compressor in front of it
	comp    compressor // nil when uncompressed
	buf     []byte     // pending bytes for dst, at most writeBufferSize
	index   *bufio.Writer
	line    []byte // scratch for index lines
	hdr     [headerSize]byte
	ftr     [footerSize]byte
	offset  int64
	records int64
	err     error
	closed  bool
}

var errClosed = errors.New("tfrecord: writer is closed")

// NewWriter returns a Writer that writes to w. opts may be nil.
func NewWriter(w io.Writer, opts *WriterOptions) (*Writer, error) {
	var o WriterOptions
	if opts != nil {
		o = *opts
	}
	if !o.Compression.valid() {
		return nil, fmt.Errorf("tfrecord: invalid compression %d", int(o.Compression))
	}
	tw := &Writer{dst: w, buf: make([]byte, 0, writeBufferSize)}
	level := o.Level
	if level == 0 {
		level = gzip.DefaultCompression
	}
	var err error
	switch o.Compression {
	case GZIP:
		tw.comp, err = gzip.NewWriterLevel(w, level)
	case ZLIB:
		tw.comp, err = zlib.NewWriterLevel(w, level)
	}
	if err != nil {
		return nil, fmt.Errorf("tfrecord: %v level %d: %w", o.Compression, o.Level, err)
	}
	if tw.comp != nil {
		if o.Index != nil {
			return nil, fmt.Errorf("tfrecord: an index sidecar needs an uncompressed stream, not %v", o.Compression)
		}
		tw.dst = tw.comp
	}
	if o.Index != nil {
		tw.index = bufio.NewWriter(o.Index)
	}
	return tw, nil
}

// Write writes record as the next record. It does not retain record. Small records are
// buffered; large ones go to the destination directly between their buffered header and
// footer. After an error every call returns the same error.
func (w *Writer) Write(record []byte) error {
	if w.err != nil {
		return w.err
	}
	// hdr and ftr live in the Writer: CRC computation would otherwise move them to the heap.
	hdr, ftr := w.hdr[:], w.ftr[:]
	putHeader(&w.hdr, len(record))
	putFooter(&w.ftr, record)

	frame := len(record) + FrameOverhead
	switch {
	case frame <= cap(w.buf)-len(w.buf):
		w.buf = append(append(append(w.buf, hdr...), record...), ftr...)
	case len(record) < writeBufferSize/2:
		if err := w.flushBuffer(); err != nil {
			return err
		}
		w.buf = append(append(append(w.buf, hdr...), record...), ftr...)
	default:
		if cap(w.buf)-len(w.buf) < headerSize {
			if err := w.flushBuffer(); err != nil {
				return err
			}
		}
		w.buf = append(w.buf, hdr...)
		if err := w.flushBuffer(); err != nil {
			return err
		}
		if err := w.write(record); err != nil {
			return err
		}
		w.buf = append(w.buf, ftr...)
	}

	if w.index != nil {
		w.line = strconv.AppendInt(w.line[:0], w.offset, 10)
		w.line = append(w.line, ' ')
		w.line = strconv.AppendInt(w.line, int64(frame), 10)
		w.line = append(w.line, '\n')
		if _, err := w.index.Write(w.line); err != nil {
			w.err = fmt.Errorf("tfrecord: writing index: %w", err)
			return w.err
		}
	}
	w.offset += int64(frame)
	w.records++
	return nil
}

func putFooter(ftr *[footerSize]byte, record []byte) {
	crc := maskedCRC(record)
	ftr[0], ftr[1], ftr[2], ftr[3] = byte(crc), byte(crc>>8), byte(crc>>16), byte(crc>>24)
}

// write sends p to the destination, making a short write an error.
func (w *Writer) write(p []byte) error {
	n, err := w.dst.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("tfrecord: writing record %d: %w", w.records, err)
		return w.err
	}
	return nil
}

func (w *Writer) flushBuffer() error {
	if len(w.buf) == 0 {
		return nil
	}
	err := w.write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Flush writes buffered records and index lines to their destinations. For compressed
// output it also flushes the compressor (a deflate sync flush), so that what has been written
// so far can be decompressed.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flushBuffer(); err != nil {
		return err
	}
	if w.comp != nil {
		if err := w.comp.Flush(); err != nil {
			w.err = fmt.Errorf("tfrecord: flushing compressor: %w", err)
			return w.err
		}
	}
	return w.flushIndex()
}

func (w *Writer) flushIndex() error {
	if w.index == nil {
		return nil
	}
	if err := w.index.Flush(); err != nil {
		w.err = fmt.Errorf("tfrecord: writing index: %w", err)
		return w.err
	}
	return nil
}

// Close writes everything still buffered, ends the compressed stream if there is one, and
// flushes the index. It does not close the underlying writers. Closing twice is harmless;
// writing after Close is an error.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if err := w.flushBuffer(); err != nil {
		return err
	}
	if w.comp != nil {
		if err := w.comp.Close(); err != nil {
			w.err = fmt.Errorf("tfrecord: closing compressor: %w", err)
			return w.err
		}
	}
	if err := w.flushIndex(); err != nil {
		return err
	}
	w.err = errClosed
	return nil
}

// Records returns the number of records written so far.
func (w *Writer) Records() int64 { return w.records }

// Offset returns the number of bytes of uncompressed framed stream written so far, which is
// also the offset at which the next record will start.
func (w *Writer) Offset() int64 { return w.offset }

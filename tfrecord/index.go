package tfrecord

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// IndexEntry locates one record of an uncompressed TFRecord file, as a line of a DALI index
// sidecar does.
type IndexEntry struct {
	Offset int64 // where the record's header starts
	Length int64 // the whole framed record: data length + FrameOverhead
}

// ReadIndex parses a DALI index sidecar: one "offset length" line per record, decimal
// numbers separated by spaces or tabs. Blank lines are ignored. An error is an
// *IndexError naming the line and wrapping ErrIndex.
func ReadIndex(r io.Reader) ([]IndexEntry, error) {
	var entries []IndexEntry
	scanner := bufio.NewScanner(r)
	line := 0
	for scanner.Scan() {
		line++
		fields := strings.Fields(scanner.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, &IndexError{Line: line, Err: newProblem(errIndex, nil, "want \"offset length\", got %q", scanner.Text())}
		}
		offset, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil || offset < 0 {
			return nil, &IndexError{Line: line, Err: newProblem(errIndex, nil, "offset %q is not a non-negative integer", fields[0])}
		}
		length, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || length < FrameOverhead {
			return nil, &IndexError{Line: line, Err: newProblem(errIndex, nil, "length %q is not an integer of at least %d", fields[1], FrameOverhead)}
		}
		entries = append(entries, IndexEntry{Offset: offset, Length: length})
	}
	if err := scanner.Err(); err != nil {
		return nil, &IndexError{Line: line + 1, Err: newProblem(errIndex, err, "%v", err)}
	}
	return entries, nil
}

// WriteIndex writes entries as a DALI index sidecar.
func WriteIndex(w io.Writer, entries []IndexEntry) error {
	bw := bufio.NewWriter(w)
	var line []byte
	for _, e := range entries {
		line = strconv.AppendInt(line[:0], e.Offset, 10)
		line = append(line, ' ')
		line = strconv.AppendInt(line, e.Length, 10)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("tfrecord: writing index: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tfrecord: writing index: %w", err)
	}
	return nil
}

// BuildIndex reads an uncompressed TFRecord stream to its end, verifying every record, and
// returns its index. A compressed stream is an error wrapping ErrIndex, since DALI indexes
// address bytes of the file itself.
func BuildIndex(r io.Reader) ([]IndexEntry, error) {
	rd, err := NewReader(r, &ReaderOptions{ReuseBuffer: true})
	if err != nil {
		return nil, err
	}
	if c := rd.Compression(); c != None {
		return nil, newProblem(errIndex, nil, "cannot index a %v-compressed stream", c)
	}
	var entries []IndexEntry
	for {
		offset := rd.Offset()
		if _, err := rd.Next(); err == io.EOF {
			return entries, nil
		} else if err != nil {
			return nil, err
		}
		entries = append(entries, IndexEntry{Offset: offset, Length: rd.Offset() - offset})
	}
}

// SeekReader reads records of an uncompressed TFRecord file by number, using its index.
// Without ReuseBuffer it keeps no state between calls and is safe for concurrent use
// (as safe as the underlying io.ReaderAt, which os.File is).
type SeekReader struct {
	r     io.ReaderAt
	index []IndexEntry
	opts  ReaderOptions
	buf   []byte
	err   error // invalid options, reported by every ReadRecord
}

// NewSeekReader returns a SeekReader of the records index describes in r. Of opts it uses
// MaxRecordSize, ReuseBuffer and SkipChecksums; opts may be nil. Invalid options are
// reported by every ReadRecord.
func NewSeekReader(r io.ReaderAt, index []IndexEntry, opts *ReaderOptions) *SeekReader {
	o, err := opts.normalize()
	return &SeekReader{r: r, index: index, opts: o, err: err}
}

// Len returns the number of records in the index.
func (s *SeekReader) Len() int { return len(s.index) }

// ReadRecord reads and verifies record i. Errors are *RecordError values as from
// Reader.Next: ErrTruncated when the file ends inside the record, ErrCorrupt when a CRC
// fails or the header's length disagrees with the index, ErrTooLarge before allocating.
func (s *SeekReader) ReadRecord(i int) ([]byte, error) {
	if s.err != nil {
		return nil, s.err
	}
	if i < 0 || i >= len(s.index) {
		return nil, fmt.Errorf("tfrecord: record %d out of range: the index has %d records", i, len(s.index))
	}
	e := s.index[i]
	fail := func(err error) ([]byte, error) {
		return nil, &RecordError{Offset: e.Offset, Record: int64(i), Err: err}
	}
	if e.Offset < 0 || e.Length < FrameOverhead {
		return fail(newProblem(errIndex, nil, "entry {Offset: %d, Length: %d}", e.Offset, e.Length))
	}
	size := e.Length - FrameOverhead
	if size > s.opts.MaxRecordSize {
		return fail(newProblem(errTooLarge, nil, "length %d exceeds the limit of %d bytes", size, s.opts.MaxRecordSize))
	}
	var frame []byte
	if s.opts.ReuseBuffer && int64(cap(s.buf)) >= e.Length {
		frame = s.buf[:e.Length]
	} else {
		frame = make([]byte, e.Length)
		if s.opts.ReuseBuffer {
			s.buf = frame
		}
	}
	n, err := s.r.ReadAt(frame, e.Offset)
	if n < len(frame) {
		if err == io.EOF || err == nil {
			return fail(newProblem(errTruncated, nil, "the file ends after %d of the record's %d bytes", n, e.Length))
		}
		return fail(err)
	}
	length, ok := headerLength(frame)
	if !ok && !s.opts.SkipChecksums {
		return fail(newProblem(errCorrupt, nil, "length checksum mismatch: stored %#08x, computed %#08x", binary.LittleEndian.Uint32(frame[8:]), maskedCRC(frame[:8])))
	}
	if length != uint64(size) {
		return fail(newProblem(errCorrupt, nil, "header says %d data bytes, the index %d", length, size))
	}
	data := frame[headerSize : headerSize+size : headerSize+size]
	if !s.opts.SkipChecksums {
		stored, computed := binary.LittleEndian.Uint32(frame[headerSize+size:]), maskedCRC(data)
		if stored != computed {
			return fail(newProblem(errCorrupt, nil, "data checksum mismatch: stored %#08x, computed %#08x over %d bytes", stored, computed, size))
		}
	}
	return data, nil
}

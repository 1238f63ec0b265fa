package tfrecord

import (
	"encoding/binary"
	"io"
)

// scanChunk is how much input the recovery scan reads at a time.
const scanChunk = 64 << 10

// resync finds where records resume after the record at r.offset failed with cause. It
// rescans everything that record consumed (except its first byte) and then the rest of the
// stream, one offset at a time, for a header whose length CRC verifies followed by data
// whose CRC verifies. It records the skipped range and leaves the Reader positioned at the
// record it found, or returns io.EOF (after recording the damaged tail) if there is none.
func (r *Reader) resync(cause *RecordError) error {
	start := r.offset
	// The failed record consumed at least one header byte; the scan starts just after it.
	window := make([]byte, 0, len(r.failedHeader)+len(r.failedBody)+len(r.src.pending)+scanChunk)
	window = append(window, r.failedHeader[1:]...)
	window = append(window, r.failedBody...)
	window = append(window, r.src.pending...)
	r.src.pending = nil
	r.failedHeader, r.failedBody = nil, nil
	base := start + 1 // stream offset of window[0]

	limit := uint64(r.opts.MaxRecordSize)
	for pos := 0; ; {
		if pos > scanChunk && pos > len(window)/2 {
			// Drop what has been scanned; halving keeps the copying linear overall.
			window = append(window[:0], window[pos:]...)
			base += int64(pos)
			pos = 0
		}
		if !r.fill(&window, pos+headerSize) {
			end := base + int64(len(window))
			r.skipped = append(r.skipped, Damage{Offset: start, Length: end - start, Err: cause})
			r.offset = end
			if r.src.err != nil {
				return &RecordError{Path: r.path, Offset: end, Record: r.index, Err: streamError(r.compression, r.src.err)}
			}
			return io.EOF
		}
		// Every offset whose header lies in the window. The length test comes first
		// because it is cheaper than the CRC and rejects most offsets of most data.
		for ; pos+headerSize <= len(window); pos++ {
			if binary.LittleEndian.Uint64(window[pos:]) <= limit && r.recordAt(&window, pos) {
				r.skipped = append(r.skipped, Damage{Offset: start, Length: base + int64(pos) - start, Err: cause})
				r.offset = base + int64(pos)
				r.src.pending = window[pos:]
				return nil
			}
		}
	}
}

// recordAt reports whether a whole, verified record starts at (*window)[pos], reading more of
// the stream into the window when a verified header calls for it.
func (r *Reader) recordAt(window *[]byte, pos int) bool {
	length, ok := headerLength((*window)[pos : pos+headerSize])
	if !ok || length > uint64(r.opts.MaxRecordSize) {
		return false
	}
	end := pos + headerSize + int(length) + footerSize
	if !r.fill(window, end) {
		return false
	}
	data := (*window)[pos+headerSize : end-footerSize]
	return maskedCRC(data) == binary.LittleEndian.Uint32((*window)[end-footerSize:end])
}

// fill reads from the stream until the window holds at least need bytes, and reports
// whether it does. It stops early at the end of the stream or at a stream error.
func (r *Reader) fill(window *[]byte, need int) bool {
	w := *window
	for len(w) < need {
		if cap(w)-len(w) < scanChunk {
			grown := make([]byte, len(w), max(2*cap(w), len(w)+scanChunk))
			copy(grown, w)
			w = grown
		}
		n, err := r.src.Read(w[len(w):cap(w)])
		w = w[:len(w)+n]
		if err != nil {
			break
		}
	}
	*window = w
	return len(w) >= need
}

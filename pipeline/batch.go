package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	beam.RegisterCoder(reflect.TypeFor[rowBatch](), encodeRowBatch, decodeRowBatch)
}

// errRowBatch: bytes that are not an encoded rowBatch reached a decoder.
var errRowBatch = errors.New("pipeline: malformed row batch")

// The rowBatch coder. A runner holds everything that goes through a
// GroupByKey, often in several copies (Prism: the producing bundle's output,
// the pending elements, the consuming bundle's input), so the encoding is
// what the conversion's memory grows with per row. Beam's schema coder
// spends 4 bytes on every label value; here labels, which are mostly 0 or 1,
// are stored sparsely:
//
//	batch  = uvarint(rows) row*
//	row    = uvarint(file) uvarint(line) string(key) string(image) string(split)
//	         uvarint(shard) uvarint(vectors) vector*
//	vector = uvarint(len) uvarint(nonzero) entry*
//	entry  = uvarint(gap<<1 | one) [float32 bits, little endian, unless one]
//	string = uvarint(len) bytes
//
// gap is the index of a non-zero value minus the index after the previous
// one. A value is zero when its bits are zero (so -0 and NaN keep their bits).
// A Planet row takes about 50 bytes, against about 110 with the schema coder.

func encodeRowBatch(b rowBatch) []byte {
	buf := binary.AppendUvarint(nil, uint64(len(b.Rows)))
	for _, r := range b.Rows {
		buf = binary.AppendUvarint(buf, uint64(r.File))
		buf = binary.AppendUvarint(buf, uint64(r.Line))
		buf = appendString(buf, r.Key)
		buf = appendString(buf, r.Image)
		buf = appendString(buf, r.Split)
		buf = binary.AppendUvarint(buf, uint64(r.Shard))
		buf = binary.AppendUvarint(buf, uint64(len(r.Labels)))
		for _, values := range r.Labels {
			buf = binary.AppendUvarint(buf, uint64(len(values)))
			nonzero := 0
			for _, v := range values {
				if math.Float32bits(v) != 0 {
					nonzero++
				}
			}
			buf = binary.AppendUvarint(buf, uint64(nonzero))
			next := 0
			for i, v := range values {
				bits := math.Float32bits(v)
				if bits == 0 {
					continue
				}
				gap := uint64(i-next) << 1
				if v == 1 {
					buf = binary.AppendUvarint(buf, gap|1)
				} else {
					buf = binary.AppendUvarint(buf, gap)
					buf = binary.LittleEndian.AppendUint32(buf, bits)
				}
				next = i + 1
			}
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// batchDecoder reads an encoded rowBatch; the first error sticks.
type batchDecoder struct {
	data []byte
	off  int
	err  error
}

func (d *batchDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d of %d", errRowBatch, what, d.off, len(d.data))
	}
}

// uvarint reads a uvarint no larger than limit.
func (d *batchDecoder) uvarint(what string, limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.off:])
	if n <= 0 || v > limit {
		d.fail("bad " + what)
		return 0
	}
	d.off += n
	return v
}

func (d *batchDecoder) string(what string) string {
	n := d.uvarint(what+" length", uint64(len(d.data)-d.off))
	if d.err == nil && n > uint64(len(d.data)-d.off) {
		d.fail("truncated " + what)
	}
	if d.err != nil {
		return ""
	}
	s := string(d.data[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

func decodeRowBatch(data []byte) (rowBatch, error) {
	d := &batchDecoder{data: data}
	// Every row takes at least 7 bytes and every non-zero entry one, which
	// bounds the counts by the input's length before anything is allocated.
	// Zeros take no bytes at all, so label values in total are capped at
	// 1024 per input byte (a one-hot vector of 10,000 classes is ~5 bytes).
	remaining := func() uint64 { return uint64(len(data) - d.off) }
	valueBudget := 1<<16 + 1024*uint64(len(data))
	n := d.uvarint("row count", remaining()/7)
	rows := make([]splitRow, 0, n)
	for range n {
		var r splitRow
		r.File = int(d.uvarint("file", math.MaxInt32))
		r.Line = int(d.uvarint("line", math.MaxInt32))
		r.Key = d.string("key")
		r.Image = d.string("image")
		r.Split = d.string("split")
		r.Shard = int(d.uvarint("shard", math.MaxInt32))
		vectors := d.uvarint("label vector count", remaining())
		if vectors > 0 {
			r.Labels = make([][]float32, vectors)
		}
		for i := range r.Labels {
			size := d.uvarint("label vector length", valueBudget)
			valueBudget -= size
			nonzero := d.uvarint("non-zero count", min(size, remaining()))
			if d.err != nil {
				return rowBatch{}, d.err
			}
			values := make([]float32, size)
			next := uint64(0)
			for range nonzero {
				entry := d.uvarint("label entry", math.MaxUint64)
				index := next + entry>>1
				if d.err == nil && index >= size {
					d.fail("label index")
				}
				if d.err != nil {
					return rowBatch{}, d.err
				}
				if entry&1 == 1 {
					values[index] = 1
				} else {
					if remaining() < 4 {
						d.fail("truncated label value")
						return rowBatch{}, d.err
					}
					bits := binary.LittleEndian.Uint32(data[d.off:])
					if bits == 0 {
						d.fail("zero stored as a non-zero label value")
						return rowBatch{}, d.err
					}
					values[index] = math.Float32frombits(bits)
					d.off += 4
				}
				next = index + 1
			}
			r.Labels[i] = values
		}
		if d.err != nil {
			return rowBatch{}, d.err
		}
		rows = append(rows, r)
	}
	if d.err == nil && d.off != len(data) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return rowBatch{}, d.err
	}
	return rowBatch{Rows: rows}, nil
}

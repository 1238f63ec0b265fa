package tfrecord_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// planetRecordSize is the size of one Planet example's image feature: 128x128x3 float32.
const planetRecordSize = 128 * 128 * 3 * 4

// benchRecord returns a record of planetRecordSize bytes that compresses roughly like float32
// pixels do (random low mantissa bytes, repetitive exponents).
func benchRecord() []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	record := make([]byte, planetRecordSize)
	for i := 0; i < len(record); i += 4 {
		record[i], record[i+1] = byte(rng.Uint32()), byte(rng.Uint32())
		record[i+2], record[i+3] = byte(rng.IntN(128)), 0x3f
	}
	return record
}

func BenchmarkWrite(b *testing.B) {
	record := benchRecord()
	for _, c := range []tfrecord.Compression{tfrecord.None, tfrecord.GZIP} {
		b.Run(c.String(), func(b *testing.B) {
			w, err := tfrecord.NewWriter(io.Discard, &tfrecord.WriterOptions{Compression: c})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(record)))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.Write(record); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// loopReader repeats data forever, so one Reader runs for the whole benchmark. Whole records
// repeated are a valid stream, and so is a gzip file repeated (gzip members concatenate).
type loopReader struct {
	data []byte
	pos  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.pos:])
	l.pos = (l.pos + n) % len(l.data)
	return n, nil
}

func BenchmarkRead(b *testing.B) {
	record := benchRecord()
	for _, tc := range []struct {
		name    string
		c       tfrecord.Compression
		reuse   bool
		records int // per repeated stream: 8 records (1.5 MB) stay in cache, 64 (12.5 MB) do not
	}{
		{"none", tfrecord.None, false, 8},
		{"none-reuse", tfrecord.None, true, 8},
		{"none-reuse-12MB", tfrecord.None, true, 64},
		{"gzip-reuse", tfrecord.GZIP, true, 8},
	} {
		b.Run(tc.name, func(b *testing.B) {
			records := make([][]byte, tc.records)
			for i := range records {
				records[i] = record
			}
			stream := encode(b, &tfrecord.WriterOptions{Compression: tc.c}, records...)
			r, err := tfrecord.NewReader(&loopReader{data: stream}, &tfrecord.ReaderOptions{ReuseBuffer: tc.reuse})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(record)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Next(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSeekReader(b *testing.B) {
	record := benchRecord()
	records := [][]byte{record, record, record, record}
	stream := encode(b, nil, records...)
	index, err := tfrecord.BuildIndex(bytes.NewReader(stream))
	if err != nil {
		b.Fatal(err)
	}
	sr := tfrecord.NewSeekReader(bytes.NewReader(stream), index, &tfrecord.ReaderOptions{ReuseBuffer: true})
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := sr.ReadRecord(i % len(records)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRecoverScan measures the recovery scan over a damaged region: a 196 KB record
// whose data CRC fails, followed by an intact one.
func BenchmarkRecoverScan(b *testing.B) {
	record := benchRecord()
	stream := encode(b, nil, record, record)
	stream[100] ^= 1
	b.SetBytes(int64(len(record)))
	b.ReportAllocs()
	for b.Loop() {
		r, _ := tfrecord.NewReader(bytes.NewReader(stream), &tfrecord.ReaderOptions{Recover: true, ReuseBuffer: true})
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
		if len(r.Skipped()) != 1 {
			b.Fatal("no damage found")
		}
	}
}

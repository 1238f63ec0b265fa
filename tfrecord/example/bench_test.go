package example

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tfprep/tfprep/tfrecord/example/examplepb"
)

// The benchmarks use the Planet seed's Example: a 196,608-byte image and
// 16- and 52-byte label vectors, all bytes features. SetBytes is the
// encoded size, so MB/s compare directly with TFRecord framing speeds.

func BenchmarkEncode(b *testing.B) {
	fs := seedFeatures()
	b.Run("AppendExample", func(b *testing.B) {
		dst := make([]byte, 0, EncodedSize(fs))
		b.SetBytes(int64(cap(dst)))
		b.ReportAllocs()
		for b.Loop() {
			dst = AppendExample(dst[:0], fs)
		}
		reportExamplesPerSecond(b)
	})
	// The floor: AppendExample must copy the image once, so it cannot beat
	// one copy of the image into a warm buffer.
	b.Run("baseline/copy", func(b *testing.B) {
		dst := make([]byte, EncodedSize(fs))
		b.SetBytes(int64(len(dst)))
		b.ReportAllocs()
		for b.Loop() {
			copy(dst, fs[1].Bytes[0])
		}
	})
	b.Run("proto.Marshal", func(b *testing.B) {
		ex := New(fs...)
		opts := proto.MarshalOptions{Deterministic: true}
		dst := make([]byte, 0, EncodedSize(fs))
		b.SetBytes(int64(cap(dst)))
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if dst, err = opts.MarshalAppend(dst[:0], ex); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	buf := AppendExample(nil, seedFeatures())
	b.Run("Parse/noCopy", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(buf, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ParseInto/noCopy", func(b *testing.B) {
		var p Parsed
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if err := ParseInto(&p, buf, true); err != nil {
				b.Fatal(err)
			}
		}
		reportExamplesPerSecond(b)
	})
	b.Run("Parse/copy", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(buf, false); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What Parse/copy costs beyond Parse/noCopy is this: one fresh heap
	// allocation of the record's size (zeroed, and a GC cycle every few
	// hundred kilobytes on a small heap).
	b.Run("baseline/bytes.Clone", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			sink = bytes.Clone(buf)
		}
	})
	b.Run("proto.Unmarshal", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			var ex examplepb.Example
			if err := proto.Unmarshal(buf, &ex); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var sink []byte

func reportExamplesPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

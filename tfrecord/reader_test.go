package tfrecord_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tfprep/tfprep/tfrecord"
)

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var records [][]byte
	for _, size := range []int{0, 1, 15, 16, 17, 1000, 32767, 32768, 40000, 196608, 1<<20 + 3, 5} {
		record := make([]byte, size)
		for i := range record {
			record[i] = byte(rng.Uint32())
		}
		records = append(records, record)
	}
	for _, compression := range []tfrecord.Compression{tfrecord.Auto, tfrecord.None, tfrecord.GZIP, tfrecord.ZLIB} {
		for _, level := range []int{0, 1, 9} {
			stream := encode(t, &tfrecord.WriterOptions{Compression: compression, Level: level}, records...)
			for _, readAs := range []tfrecord.Compression{tfrecord.Auto, compression} {
				for _, reuse := range []bool{false, true} {
					name := fmt.Sprintf("%v/level%d/read-%v/reuse=%v", compression, level, readAs, reuse)
					t.Run(name, func(t *testing.T) {
						got, r, err := readAll(t, stream, &tfrecord.ReaderOptions{Compression: readAs, ReuseBuffer: reuse})
						if err != io.EOF {
							t.Fatalf("got error %v, want io.EOF", err)
						}
						if len(got) != len(records) {
							t.Fatalf("got %d records, want %d", len(got), len(records))
						}
						for i := range records {
							if !bytes.Equal(got[i], records[i]) {
								t.Errorf("record %d (%d bytes) differs", i, len(records[i]))
							}
						}
						wantCompression := compression
						if wantCompression == tfrecord.Auto {
							wantCompression = tfrecord.None
						}
						if got := r.Compression(); got != wantCompression {
							t.Errorf("got compression %v, want %v", got, wantCompression)
						}
						if got, want := r.Index(), int64(len(records)); got != want {
							t.Errorf("got Index() %d, want %d", got, want)
						}
					})
				}
			}
		}
	}
}

// Whatever the compression, the uncompressed content must be the same framed stream, and
// standard decompressors must read it (they are what TensorFlow's GZIP and ZLIB use).
func TestCompressedStreamsAreStandard(t *testing.T) {
	records := numbered(50)
	plain := encode(t, nil, records...)
	for _, tc := range []struct {
		compression tfrecord.Compression
		decompress  func(io.Reader) (io.Reader, error)
	}{
		{tfrecord.GZIP, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{tfrecord.ZLIB, func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }},
	} {
		t.Run(tc.compression.String(), func(t *testing.T) {
			var w bytes.Buffer
			tw, err := tfrecord.NewWriter(&w, &tfrecord.WriterOptions{Compression: tc.compression})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range records {
				if err := tw.Write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := tw.Offset(), int64(len(plain)); got != want {
				t.Errorf("got Offset() %d, want %d (uncompressed bytes)", got, want)
			}
			dr, err := tc.decompress(&w)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(dr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Errorf("decompressed %v stream differs from the uncompressed encoding", tc.compression)
			}
		})
	}
}

func TestDetection(t *testing.T) {
	// A first record of 376 bytes starts with 78 01, a zlib header; one of 35615 bytes
	// starts with 1f 8b, the gzip magic. Both must still be read as uncompressed.
	zlibLike := make([]byte, 0x0178)
	gzipLike := make([]byte, 0x8b1f)
	gz := encode(t, &tfrecord.WriterOptions{Compression: tfrecord.GZIP}, []byte("x"))
	zz := encode(t, &tfrecord.WriterOptions{Compression: tfrecord.ZLIB}, []byte("x"))
	tests := []struct {
		name   string
		stream []byte
		want   tfrecord.Compression
	}{
		{"empty", nil, tfrecord.None},
		{"plain", encode(t, nil, []byte("x")), tfrecord.None},
		{"record looks like zlib", encode(t, nil, zlibLike), tfrecord.None},
		{"record looks like gzip", encode(t, nil, gzipLike), tfrecord.None},
		{"gzip", gz, tfrecord.GZIP},
		{"zlib", zz, tfrecord.ZLIB},
		{"zlib best speed", encode(t, &tfrecord.WriterOptions{Compression: tfrecord.ZLIB, Level: 1}, []byte("x")), tfrecord.ZLIB},
		{"zlib best compression", encode(t, &tfrecord.WriterOptions{Compression: tfrecord.ZLIB, Level: 9}, []byte("x")), tfrecord.ZLIB},
		{"gzip magic only", []byte{0x1f, 0x8b}, tfrecord.GZIP},
		{"78 with bad FCHECK", []byte{0x78, 0x02, 0, 0}, tfrecord.None},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tfrecord.NewReader(bytes.NewReader(tc.stream), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Compression(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEmptyStream(t *testing.T) {
	for _, c := range []tfrecord.Compression{tfrecord.Auto, tfrecord.None, tfrecord.GZIP, tfrecord.ZLIB} {
		t.Run(c.String(), func(t *testing.T) {
			got, _, err := readAll(t, nil, &tfrecord.ReaderOptions{Compression: c})
			if err != io.EOF || len(got) != 0 {
				t.Errorf("got %d records and %v, want 0 and io.EOF", len(got), err)
			}
		})
	}
}

// frameOffsets returns the offset of every record in an uncompressed stream of records,
// plus the end offset.
func frameOffsets(records [][]byte) []int64 {
	offsets := []int64{0}
	for _, r := range records {
		offsets = append(offsets, offsets[len(offsets)-1]+int64(len(r))+tfrecord.FrameOverhead)
	}
	return offsets
}

// recordAt returns the index of the record containing byte b.
func recordAt(offsets []int64, b int64) int {
	for i := 1; i < len(offsets); i++ {
		if b < offsets[i] {
			return i - 1
		}
	}
	return len(offsets) - 1
}

func TestEveryByteFlip(t *testing.T) {
	records := [][]byte{[]byte("alpha"), {}, []byte("a longer third record"), []byte("z")}
	stream := encode(t, nil, records...)
	offsets := frameOffsets(records)
	for _, mask := range []byte{0x01, 0x80, 0xff} {
		for pos := range stream {
			damaged := bytes.Clone(stream)
			damaged[pos] ^= mask
			bad := recordAt(offsets, int64(pos))
			got, _, err := readAll(t, damaged, nil)
			if !errors.Is(err, tfrecord.ErrCorrupt) && !errors.Is(err, tfrecord.ErrTruncated) && !errors.Is(err, tfrecord.ErrTooLarge) {
				t.Errorf("flip %#x at byte %d: got error %v, want ErrCorrupt, ErrTruncated or ErrTooLarge", mask, pos, err)
				continue
			}
			var rerr *tfrecord.RecordError
			if !errors.As(err, &rerr) {
				t.Errorf("flip %#x at byte %d: got %T, want *RecordError", mask, pos, err)
				continue
			}
			if rerr.Offset != offsets[bad] || rerr.Record != int64(bad) {
				t.Errorf("flip %#x at byte %d: got record %d at offset %d, want record %d at offset %d",
					mask, pos, rerr.Record, rerr.Offset, bad, offsets[bad])
			}
			if diff := cmp.Diff(records[:bad], got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("flip %#x at byte %d: records before the damage (-want +got):\n%s", mask, pos, diff)
			}
		}
	}
}

func TestEveryCut(t *testing.T) {
	records := [][]byte{[]byte("alpha"), {}, []byte("a longer third record")}
	stream := encode(t, nil, records...)
	offsets := frameOffsets(records)
	for cut := 0; cut <= len(stream); cut++ {
		got, r, err := readAll(t, stream[:cut], nil)
		complete := recordAt(offsets, int64(cut))
		if offsets[complete] == int64(cut) {
			if err != io.EOF {
				t.Errorf("cut at boundary %d: got %v, want io.EOF", cut, err)
			}
		} else {
			var rerr *tfrecord.RecordError
			switch {
			case !errors.Is(err, tfrecord.ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("cut at %d: got %v, want ErrTruncated (and io.ErrUnexpectedEOF)", cut, err)
			case !errors.As(err, &rerr) || rerr.Offset != offsets[complete] || rerr.Record != int64(complete):
				t.Errorf("cut at %d: got %v, want record %d at offset %d", cut, err, complete, offsets[complete])
			}
		}
		if diff := cmp.Diff(records[:complete], got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("cut at %d: records (-want +got):\n%s", cut, diff)
		}
		if got, want := r.Offset(), offsets[complete]; got != want {
			t.Errorf("cut at %d: got Offset() %d, want %d", cut, got, want)
		}
	}
}

func TestErrorsAreSticky(t *testing.T) {
	stream := encode(t, nil, numbered(3)...)
	stream[len(stream)-1] ^= 1
	r, err := tfrecord.NewReader(bytes.NewReader(stream), nil)
	if err != nil {
		t.Fatal(err)
	}
	var first error
	for first == nil {
		_, first = r.Next()
	}
	for i := range 3 {
		if _, err := r.Next(); err != first {
			t.Fatalf("call %d after the error: got %v, want the same %v", i, err, first)
		}
	}
	if _, err := r.Next(); !errors.Is(err, tfrecord.ErrCorrupt) {
		t.Errorf("got %v, want ErrCorrupt", err)
	}
}

func TestErrorMessages(t *testing.T) {
	records := numbered(3)
	stream := encode(t, nil, records...)
	second := len(records[0]) + tfrecord.FrameOverhead
	dataStart, dataEnd := second+12, second+12+len(records[1])
	// The CRCs in the messages are re-derived with the independent implementation.
	masked := func(b []byte) uint32 { return independentMask(independentCRC32C(b)) }
	stored := func(b []byte, at int) uint32 { return binary.LittleEndian.Uint32(b[at:]) }
	tests := []struct {
		name   string
		damage func([]byte) []byte
		want   func(damaged []byte) string
	}{
		{"data crc", func(b []byte) []byte { b[dataStart] ^= 1; return b }, func(b []byte) string {
			return fmt.Sprintf("tfrecord: record 1 at offset %d: corrupt record: data checksum mismatch: stored %#08x, computed %#08x over %d bytes",
				second, stored(b, dataEnd), masked(b[dataStart:dataEnd]), len(records[1]))
		}},
		{"length crc", func(b []byte) []byte { b[second] ^= 1; return b }, func(b []byte) string {
			return fmt.Sprintf("tfrecord: record 1 at offset %d: corrupt record: length checksum mismatch: stored %#08x, computed %#08x",
				second, stored(b, second+8), masked(b[second:second+8]))
		}},
		{"truncated header", func(b []byte) []byte { return b[:second+5] }, func([]byte) string {
			return fmt.Sprintf("tfrecord: record 1 at offset %d: truncated record: unexpected EOF: header ends after 5 of 12 bytes", second)
		}},
		{"truncated data", func(b []byte) []byte { return b[:second+20] }, func([]byte) string {
			return fmt.Sprintf("tfrecord: record 1 at offset %d: truncated record: unexpected EOF: data ends after 8 of %d bytes (including the 4-byte data checksum)",
				second, len(records[1])+4)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			damaged := tc.damage(bytes.Clone(stream))
			_, _, err := readAll(t, damaged, nil)
			if want := tc.want(damaged); err == nil || err.Error() != want {
				t.Errorf("got %q, want %q", err, want)
			}
		})
	}
}

// lengthHeader returns a header claiming n data bytes, with a valid length CRC.
func lengthHeader(n uint64) []byte {
	hdr := binary.LittleEndian.AppendUint64(nil, n)
	crc := crc32.Checksum(hdr, crc32.MakeTable(crc32.Castagnoli))
	return binary.LittleEndian.AppendUint32(hdr, (crc>>15|crc<<17)+0xa282ead8)
}

func TestTooLarge(t *testing.T) {
	tests := []struct {
		name   string
		length uint64
		max    int64
	}{
		{"above default", tfrecord.DefaultMaxRecordSize + 1, 0},
		{"2^63", 1 << 63, 0},
		{"all ones", ^uint64(0), 0},
		{"above custom", 1001, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := append(lengthHeader(tc.length), "short"...)
			_, _, err := readAll(t, stream, &tfrecord.ReaderOptions{MaxRecordSize: tc.max})
			if !errors.Is(err, tfrecord.ErrTooLarge) {
				t.Errorf("got %v, want ErrTooLarge", err)
			}
		})
	}
	t.Run("at custom limit", func(t *testing.T) {
		stream := encode(t, nil, make([]byte, 1000))
		if _, _, err := readAll(t, stream, &tfrecord.ReaderOptions{MaxRecordSize: 1000}); err != io.EOF {
			t.Errorf("got %v, want io.EOF", err)
		}
	})
}

// A header with a valid CRC may still lie about a length the stream cannot hold; the
// Reader must not commit the whole claimed length up front.
func TestTruncatedHugeRecordAllocatesLittle(t *testing.T) {
	stream := append(lengthHeader(200<<20), make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := readAll(t, stream, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, tfrecord.ErrTruncated) {
		t.Fatalf("got %v, want ErrTruncated", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 8<<20 {
		t.Errorf("reading a 112-byte stream claiming a 200 MiB record allocated %d bytes, want under 8 MiB", allocated)
	}
}

func TestSkipChecksums(t *testing.T) {
	records := numbered(3)
	stream := encode(t, nil, records...)
	stream[len(stream)-1] ^= 1 // the last data CRC
	got, _, err := readAll(t, stream, &tfrecord.ReaderOptions{SkipChecksums: true})
	if err != io.EOF {
		t.Fatalf("got %v, want io.EOF", err)
	}
	if diff := cmp.Diff(records, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestReuseBuffer(t *testing.T) {
	records := [][]byte{[]byte("the first"), []byte("second")}
	r, err := tfrecord.NewReader(bytes.NewReader(encode(t, nil, records...)), &tfrecord.ReaderOptions{ReuseBuffer: true})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Next()
	firstCopy := string(first)
	second, _ := r.Next()
	if firstCopy != "the first" || string(second) != "second" {
		t.Fatalf("got %q, %q, want first, second", firstCopy, second)
	}
	if &first[0] != &second[0] {
		t.Errorf("ReuseBuffer: the second record does not reuse the first one's memory")
	}
}

func TestAllocationsPerRecord(t *testing.T) {
	record := make([]byte, 196608)
	records := make([][]byte, 300)
	for i := range records {
		records[i] = record
	}
	stream := encode(t, nil, records...)
	for _, tc := range []struct {
		reuse bool
		want  float64
	}{{true, 0}, {false, 1}} {
		t.Run(fmt.Sprintf("reuse=%v", tc.reuse), func(t *testing.T) {
			r, err := tfrecord.NewReader(bytes.NewReader(stream), &tfrecord.ReaderOptions{ReuseBuffer: tc.reuse})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			got := testing.AllocsPerRun(200, func() {
				if _, err := r.Next(); err != nil {
					t.Fatal(err)
				}
			})
			if got != tc.want {
				t.Errorf("got %v allocations per record, want %v", got, tc.want)
			}
		})
	}
	t.Run("writer", func(t *testing.T) {
		w, err := tfrecord.NewWriter(io.Discard, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := testing.AllocsPerRun(100, func() { w.Write(record) }); got != 0 {
			t.Errorf("got %v allocations per written record, want 0", got)
		}
	})
}

// failingReader returns data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestStreamErrors(t *testing.T) {
	records := numbered(20)
	plain := encode(t, nil, records...)
	gz := encode(t, &tfrecord.WriterOptions{Compression: tfrecord.GZIP}, records...)
	zz := encode(t, &tfrecord.WriterOptions{Compression: tfrecord.ZLIB}, records...)
	diskError := errors.New("disk on fire")
	flip := func(b []byte, pos int) []byte { b = bytes.Clone(b); b[pos] ^= 0x55; return b }
	tests := []struct {
		name    string
		input   io.Reader
		opts    tfrecord.ReaderOptions
		wantErr []error
	}{
		{"gzip truncated", bytes.NewReader(gz[:len(gz)-10]), tfrecord.ReaderOptions{}, []error{tfrecord.ErrTruncated}},
		{"gzip truncated recover", bytes.NewReader(gz[:len(gz)-10]), tfrecord.ReaderOptions{Recover: true}, []error{tfrecord.ErrTruncated}},
		{"gzip bad trailer crc", bytes.NewReader(flip(gz, len(gz)-6)), tfrecord.ReaderOptions{}, []error{tfrecord.ErrCorrupt, gzip.ErrChecksum}},
		{"gzip bad header", bytes.NewReader(flip(gz, 0)), tfrecord.ReaderOptions{Compression: tfrecord.GZIP}, []error{tfrecord.ErrCorrupt}},
		{"zlib bad adler", bytes.NewReader(flip(zz, len(zz)-1)), tfrecord.ReaderOptions{}, []error{tfrecord.ErrCorrupt, zlib.ErrChecksum}},
		{"plain told gzip", bytes.NewReader(plain), tfrecord.ReaderOptions{Compression: tfrecord.GZIP}, []error{tfrecord.ErrCorrupt, gzip.ErrHeader}},
		{"read error", &failingReader{plain[:40], diskError}, tfrecord.ReaderOptions{}, []error{diskError}},
		{"read error recover", &failingReader{plain[:40], diskError}, tfrecord.ReaderOptions{Recover: true}, []error{diskError}},
		{"read error at start", &failingReader{nil, diskError}, tfrecord.ReaderOptions{}, []error{diskError}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tfrecord.NewReader(tc.input, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for err == nil {
				_, err = r.Next()
			}
			var rerr *tfrecord.RecordError
			if !errors.As(err, &rerr) {
				t.Fatalf("got %T %v, want a *RecordError", err, err)
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("got %v, want errors.Is %v", err, want)
				}
			}
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, opts := range []tfrecord.ReaderOptions{{MaxRecordSize: -1}, {Compression: 7}} {
		if _, err := tfrecord.NewReader(bytes.NewReader(nil), &opts); err == nil {
			t.Errorf("NewReader(%+v) succeeded, want an error", opts)
		}
	}
	for _, opts := range []tfrecord.WriterOptions{
		{Compression: 7},
		{Compression: tfrecord.GZIP, Level: 11},
		{Compression: tfrecord.ZLIB, Level: -3},
		{Compression: tfrecord.GZIP, Index: io.Discard},
		{Compression: tfrecord.ZLIB, Index: io.Discard},
	} {
		if _, err := tfrecord.NewWriter(io.Discard, &opts); err == nil {
			t.Errorf("NewWriter(%+v) succeeded, want an error", opts)
		}
	}
}

// errWriter fails every write after the first limit bytes.
type errWriter struct {
	limit int
	err   error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n := w.limit
		w.limit = 0
		return n, w.err
	}
	w.limit -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	full := errors.New("disk full")
	t.Run("large record", func(t *testing.T) {
		w, err := tfrecord.NewWriter(&errWriter{limit: 100, err: full}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = w.Write(make([]byte, 1<<20))
		if !errors.Is(err, full) {
			t.Fatalf("got %v, want %v", err, full)
		}
		if err2 := w.Write([]byte("x")); err2 != err {
			t.Errorf("got %v after the error, want the same %v", err2, err)
		}
		if err2 := w.Close(); err2 != err {
			t.Errorf("Close: got %v, want %v", err2, err)
		}
	})
	t.Run("small records at close", func(t *testing.T) {
		w, _ := tfrecord.NewWriter(&errWriter{limit: 10, err: full}, nil)
		if err := w.Write([]byte("buffered")); err != nil {
			t.Fatalf("a buffered write failed: %v", err)
		}
		if err := w.Close(); !errors.Is(err, full) {
			t.Errorf("Close: got %v, want %v", err, full)
		}
	})
	t.Run("index", func(t *testing.T) {
		w, _ := tfrecord.NewWriter(io.Discard, &tfrecord.WriterOptions{Index: &errWriter{limit: 0, err: full}})
		w.Write([]byte("x"))
		if err := w.Close(); !errors.Is(err, full) {
			t.Errorf("Close: got %v, want %v", err, full)
		}
	})
	t.Run("after close", func(t *testing.T) {
		w, _ := tfrecord.NewWriter(io.Discard, nil)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Errorf("second Close: got %v, want nil", err)
		}
		if err := w.Write([]byte("x")); err == nil {
			t.Error("Write after Close succeeded, want an error")
		}
	})
}

func TestWriterCounters(t *testing.T) {
	var buf bytes.Buffer
	w, _ := tfrecord.NewWriter(&buf, nil)
	records := [][]byte{make([]byte, 10), make([]byte, 100000), {}}
	for _, r := range records {
		w.Write(r)
	}
	if got, want := w.Records(), int64(3); got != want {
		t.Errorf("got Records() %d, want %d", got, want)
	}
	if got, want := w.Offset(), frameOffsets(records)[3]; got != want {
		t.Errorf("got Offset() %d, want %d", got, want)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := int64(buf.Len()), w.Offset(); got != want {
		t.Errorf("after Flush the destination holds %d bytes, want %d", got, want)
	}
}

func TestFlushMakesCompressedPrefixReadable(t *testing.T) {
	var buf bytes.Buffer
	w, _ := tfrecord.NewWriter(&buf, &tfrecord.WriterOptions{Compression: tfrecord.GZIP})
	w.Write([]byte("before flush"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// The gzip stream is not finished, so the reader must report truncation, but only after
	// returning the flushed record.
	got, _, err := readAll(t, buf.Bytes(), nil)
	if len(got) != 1 || string(got[0]) != "before flush" {
		t.Errorf("got records %q, want [before flush]", got)
	}
	if !errors.Is(err, tfrecord.ErrTruncated) {
		t.Errorf("got %v, want ErrTruncated", err)
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	records := numbered(4)
	for _, c := range []tfrecord.Compression{tfrecord.None, tfrecord.GZIP, tfrecord.ZLIB} {
		t.Run(c.String(), func(t *testing.T) {
			// Deliberately misnamed: the content decides.
			path := filepath.Join(dir, "data"+c.Suffix()+".tfrecord")
			if err := os.WriteFile(path, encode(t, &tfrecord.WriterOptions{Compression: c}, records...), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := tfrecord.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got [][]byte
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rec)
			}
			if diff := cmp.Diff(records, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("error names the file", func(t *testing.T) {
		path := filepath.Join(dir, "bad.tfrecord")
		stream := encode(t, nil, records...)
		stream[20] ^= 1
		os.WriteFile(path, stream, 0o644)
		r, err := tfrecord.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = r.Next()
		var rerr *tfrecord.RecordError
		if !errors.As(err, &rerr) || rerr.Path != path {
			t.Fatalf("got %v, want a *RecordError with Path %s", err, path)
		}
		if want := fmt.Sprintf("tfrecord: %s: record 0 at offset 0: corrupt record: ", path); !bytes.HasPrefix([]byte(err.Error()), []byte(want)) {
			t.Errorf("got %q, want prefix %q", err, want)
		}
		if want := "corrupt record: data checksum mismatch: "; !strings.HasPrefix(rerr.Reason(), want) {
			t.Errorf("Reason: got %q, want prefix %q", rerr.Reason(), want)
		}
	})
	t.Run("missing", func(t *testing.T) {
		missing := filepath.Join(dir, "missing")
		_, err := tfrecord.Open(missing, nil)
		var perr *fs.PathError
		if !errors.Is(err, os.ErrNotExist) || !errors.As(err, &perr) || perr.Path != missing {
			t.Errorf("got %v, want an *fs.PathError for %s wrapping os.ErrNotExist", err, missing)
		}
	})
	t.Run("close closes the file", func(t *testing.T) {
		path := filepath.Join(dir, "close.tfrecord")
		os.WriteFile(path, encode(t, nil, records...), 0o644)
		f, err := tfrecord.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("second Close: got %v, want os.ErrClosed", err)
		}
	})
}

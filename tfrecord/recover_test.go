package tfrecord_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tfprep/tfprep/tfrecord"
)

// mixedRecords returns n records of varied sizes, some above the Reader's and the recovery
// scan's buffer sizes.
func mixedRecords(n int) [][]byte {
	var records [][]byte
	for i := range n {
		size := []int{3, 0, 70000, 200, 150000, 1}[i%6]
		record := make([]byte, size)
		for j := range record {
			record[j] = byte(i*31 + j*7)
		}
		records = append(records, record)
	}
	return records
}

// summarize describes records by length and hash, so that cmp.Diff stays fast on large
// records and its report stays readable.
func summarize(records [][]byte) []string {
	out := []string{}
	for _, r := range records {
		out = append(out, fmt.Sprintf("%d bytes, sha256 %x", len(r), sha256.Sum256(r)))
	}
	return out
}

type damageSpan struct{ Offset, Length int64 }

func spans(ds []tfrecord.Damage) []damageSpan {
	var out []damageSpan
	for _, d := range ds {
		out = append(out, damageSpan{d.Offset, d.Length})
	}
	return out
}

func without(records [][]byte, drop ...int) [][]byte {
	var out [][]byte
	for i, r := range records {
		if !slices.Contains(drop, i) {
			out = append(out, r)
		}
	}
	return out
}

func TestRecoverOneFlipInMiddleRecord(t *testing.T) {
	for _, n := range []int{3, 7, 12} {
		records := mixedRecords(n)
		stream := encode(t, nil, records...)
		offsets := frameOffsets(records)
		middle := n / 2
		frame := offsets[middle+1] - offsets[middle]
		// Flip a byte in each part of the middle record: length, length CRC, data (if any)
		// and data CRC.
		for _, pos := range []int64{0, 9, 12, frame/2 + 6, frame - 1} {
			if pos >= frame || (pos >= 12 && pos < frame-4 && frame == tfrecord.FrameOverhead) {
				continue
			}
			t.Run(fmt.Sprintf("n=%d/byte%d", n, pos), func(t *testing.T) {
				damaged := bytes.Clone(stream)
				damaged[offsets[middle]+pos] ^= 0x20
				got, r, err := readAll(t, damaged, &tfrecord.ReaderOptions{Recover: true})
				if err != io.EOF {
					t.Fatalf("got %v, want io.EOF", err)
				}
				if diff := cmp.Diff(summarize(without(records, middle)), summarize(got)); diff != "" {
					t.Errorf("records (-want +got):\n%s", diff)
				}
				skipped := r.Skipped()
				if diff := cmp.Diff([]damageSpan{{offsets[middle], frame}}, spans(skipped)); diff != "" {
					t.Errorf("damage (-want +got):\n%s", diff)
				}
				var rerr *tfrecord.RecordError
				if len(skipped) == 1 && (!errors.As(skipped[0].Err, &rerr) || !errors.Is(rerr, tfrecord.ErrCorrupt) ||
					rerr.Offset != offsets[middle] || rerr.Record != int64(middle)) {
					t.Errorf("damage error %v, want ErrCorrupt for record %d at offset %d", skipped[0].Err, middle, offsets[middle])
				}
				if got, want := r.Offset(), int64(len(stream)); got != want {
					t.Errorf("got Offset() %d at the end, want %d", got, want)
				}
			})
		}
	}
}

func TestRecoverDamageKinds(t *testing.T) {
	records := mixedRecords(6)
	stream := encode(t, nil, records...)
	offsets := frameOffsets(records)
	end := int64(len(stream))
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0}, 20000)
	splice := func(at int64, insert []byte, cut int64) []byte {
		out := append(bytes.Clone(stream[:at]), insert...)
		return append(out, stream[at+cut:]...)
	}
	tests := []struct {
		name    string
		stream  []byte
		want    [][]byte
		damage  []damageSpan
		wantErr error
	}{
		{"intact", stream, records, nil, nil},
		{"garbage before the first record", append(bytes.Clone(garbage[:999]), stream...),
			records, []damageSpan{{0, 999}}, tfrecord.ErrCorrupt},
		{"garbage between records", splice(offsets[2], garbage, 0),
			records, []damageSpan{{offsets[2], int64(len(garbage))}}, tfrecord.ErrCorrupt},
		{"bytes missing from a record", splice(offsets[2]+100, nil, 50),
			without(records, 2), []damageSpan{{offsets[2], offsets[3] - offsets[2] - 50}}, tfrecord.ErrCorrupt},
		{"bytes missing from a header", splice(offsets[4]+3, nil, 4),
			without(records, 4), []damageSpan{{offsets[4], offsets[5] - offsets[4] - 4}}, tfrecord.ErrCorrupt},
		{"truncated in the last record", stream[:end-2],
			records[:5], []damageSpan{{offsets[5], end - 2 - offsets[5]}}, tfrecord.ErrTruncated},
		{"truncated in a large record", stream[:offsets[4]+5000],
			records[:4], []damageSpan{{offsets[4], 5000}}, tfrecord.ErrTruncated},
		{"truncated in a header", stream[:offsets[3]+7],
			records[:3], []damageSpan{{offsets[3], 7}}, tfrecord.ErrTruncated},
		{"only garbage", garbage, nil, []damageSpan{{0, int64(len(garbage))}}, tfrecord.ErrCorrupt},
		{"two damaged records", func() []byte {
			b := bytes.Clone(stream)
			b[offsets[1]+5] ^= 1
			b[offsets[4]+500] ^= 1
			return b
		}(), without(records, 1, 4), []damageSpan{{offsets[1], offsets[2] - offsets[1]}, {offsets[4], offsets[5] - offsets[4]}}, tfrecord.ErrCorrupt},
		{"length too large but checksummed", append(append(bytes.Clone(stream[:offsets[2]]), lengthHeader(1<<40)...), stream[offsets[2]:]...),
			records, []damageSpan{{offsets[2], 12}}, tfrecord.ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, r, err := readAll(t, tc.stream, &tfrecord.ReaderOptions{Recover: true})
			if err != io.EOF {
				t.Fatalf("got %v, want io.EOF", err)
			}
			if diff := cmp.Diff(summarize(tc.want), summarize(got)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			skipped := r.Skipped()
			if diff := cmp.Diff(tc.damage, spans(skipped)); diff != "" {
				t.Errorf("damage (-want +got):\n%s", diff)
			}
			if len(skipped) > 0 && !errors.Is(skipped[0].Err, tc.wantErr) {
				t.Errorf("first damage error %v, want %v", skipped[0].Err, tc.wantErr)
			}
		})
	}
}

// In a compressed stream the damage is found in the decompressed content, and its offsets
// are offsets of that content.
func TestRecoverCompressed(t *testing.T) {
	records := mixedRecords(6)
	plain := encode(t, nil, records...)
	offsets := frameOffsets(records)
	plain[offsets[3]+20] ^= 1
	for _, c := range []tfrecord.Compression{tfrecord.GZIP, tfrecord.ZLIB} {
		t.Run(c.String(), func(t *testing.T) {
			// The Writer cannot produce damage, so the damaged stream is compressed directly.
			got, r, err := readAll(t, compress(t, c, plain), &tfrecord.ReaderOptions{Recover: true})
			if err != io.EOF {
				t.Fatalf("got %v, want io.EOF", err)
			}
			if diff := cmp.Diff(summarize(without(records, 3)), summarize(got)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]damageSpan{{offsets[3], offsets[4] - offsets[3]}}, spans(r.Skipped())); diff != "" {
				t.Errorf("damage (-want +got):\n%s", diff)
			}
		})
	}
}

// Recovery must account for every byte: the frames of the records returned plus the damaged
// ranges cover the stream exactly, in order.
func TestRecoverAccountsForEveryByte(t *testing.T) {
	records := mixedRecords(8)
	stream := encode(t, nil, records...)
	for pos := 0; pos < len(stream); pos += 997 {
		damaged := bytes.Clone(stream)
		damaged[pos] ^= 0xff
		checkCoverage(t, damaged)
	}
}

// checkCoverage reads data with Recover and fails if the records and damage do not tile it.
func checkCoverage(t *testing.T, data []byte) {
	t.Helper()
	r, err := tfrecord.NewReader(bytes.NewReader(data), &tfrecord.ReaderOptions{Recover: true, Compression: tfrecord.None, MaxRecordSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	var covered int64
	seen := 0
	for {
		start := r.Offset()
		record, err := r.Next()
		skipped := r.Skipped()
		for _, d := range skipped[seen:] {
			if d.Offset != covered || d.Length <= 0 {
				t.Fatalf("damage %v does not start where the previous range ended (%d)", d, covered)
			}
			covered += d.Length
		}
		seen = len(skipped)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Recover returned %v", err)
		}
		if recordStart := r.Offset() - int64(len(record)) - tfrecord.FrameOverhead; recordStart != covered || (seen == 0 && start != covered) {
			t.Fatalf("record of %d bytes starts at %d, want %d", len(record), recordStart, covered)
		}
		covered += int64(len(record)) + tfrecord.FrameOverhead
	}
	if covered != int64(len(data)) {
		t.Fatalf("records and damage cover %d bytes, want %d", covered, len(data))
	}
}

// compress compresses data as a whole stream, the way TensorFlow's GZIP and ZLIB options do.
func compress(t testing.TB, c tfrecord.Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	switch c {
	case tfrecord.GZIP:
		w = gzip.NewWriter(&buf)
	case tfrecord.ZLIB:
		w = zlib.NewWriter(&buf)
	default:
		t.Fatalf("compress: %v", c)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

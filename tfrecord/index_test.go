package tfrecord_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tfprep/tfprep/tfrecord"
)

func TestWriterIndexMatchesBuildIndex(t *testing.T) {
	records := mixedRecords(9)
	var stream, index bytes.Buffer
	w, err := tfrecord.NewWriter(&stream, &tfrecord.WriterOptions{Index: &index})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	offsets := frameOffsets(records)
	var want []tfrecord.IndexEntry
	var wantText strings.Builder
	for i := range records {
		want = append(want, tfrecord.IndexEntry{Offset: offsets[i], Length: offsets[i+1] - offsets[i]})
		fmt.Fprintf(&wantText, "%d %d\n", offsets[i], offsets[i+1]-offsets[i])
	}
	if diff := cmp.Diff(wantText.String(), index.String()); diff != "" {
		t.Errorf("index sidecar text (-want +got):\n%s", diff)
	}
	parsed, err := tfrecord.ReadIndex(bytes.NewReader(index.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, parsed); diff != "" {
		t.Errorf("ReadIndex (-want +got):\n%s", diff)
	}
	built, err := tfrecord.BuildIndex(bytes.NewReader(stream.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, built); diff != "" {
		t.Errorf("BuildIndex (-want +got):\n%s", diff)
	}
	var rewritten bytes.Buffer
	if err := tfrecord.WriteIndex(&rewritten, built); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rewritten.Bytes(), index.Bytes()) {
		t.Errorf("WriteIndex output differs from the Writer's sidecar:\n%s\nvs\n%s", rewritten.Bytes(), index.Bytes())
	}

	for _, reuse := range []bool{false, true} {
		t.Run(fmt.Sprintf("SeekReader/reuse=%v", reuse), func(t *testing.T) {
			sr := tfrecord.NewSeekReader(bytes.NewReader(stream.Bytes()), parsed, &tfrecord.ReaderOptions{ReuseBuffer: reuse})
			if got, want := sr.Len(), len(records); got != want {
				t.Fatalf("got Len() %d, want %d", got, want)
			}
			// Backwards, so that every read seeks.
			for i := len(records) - 1; i >= 0; i-- {
				got, err := sr.ReadRecord(i)
				if err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if !bytes.Equal(got, records[i]) {
					t.Errorf("record %d: got %d bytes, want %d bytes %q...", i, len(got), len(records[i]), records[i][:min(8, len(records[i]))])
				}
			}
		})
	}
}

func TestSeekReaderConcurrent(t *testing.T) {
	records := mixedRecords(12)
	stream := encode(t, nil, records...)
	index, err := tfrecord.BuildIndex(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	sr := tfrecord.NewSeekReader(bytes.NewReader(stream), index, nil)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range records {
				j := (i + g*3) % len(records)
				got, err := sr.ReadRecord(j)
				if err != nil || !bytes.Equal(got, records[j]) {
					t.Errorf("goroutine %d record %d: %v, equal=%v", g, j, err, bytes.Equal(got, records[j]))
				}
			}
		})
	}
	wg.Wait()
}

func TestSeekReaderErrors(t *testing.T) {
	records := numbered(4)
	stream := encode(t, nil, records...)
	offsets := frameOffsets(records)
	index, err := tfrecord.BuildIndex(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	flipped := func(pos int64) []byte { b := bytes.Clone(stream); b[pos] ^= 1; return b }
	withEntry := func(i int, e tfrecord.IndexEntry) []tfrecord.IndexEntry {
		idx := append([]tfrecord.IndexEntry(nil), index...)
		idx[i] = e
		return idx
	}
	tests := []struct {
		name   string
		stream []byte
		index  []tfrecord.IndexEntry
		opts   *tfrecord.ReaderOptions
		record int
		want   error
	}{
		{"data crc", flipped(offsets[2] + 14), index, nil, 2, tfrecord.ErrCorrupt},
		{"length crc", flipped(offsets[2] + 1), index, nil, 2, tfrecord.ErrCorrupt},
		{"index length disagrees", stream, withEntry(1, tfrecord.IndexEntry{Offset: offsets[1], Length: offsets[2] - offsets[1] + 1}), nil, 1, tfrecord.ErrCorrupt},
		{"index offset wrong", stream, withEntry(1, tfrecord.IndexEntry{Offset: offsets[1] + 1, Length: offsets[2] - offsets[1]}), nil, 1, tfrecord.ErrCorrupt},
		{"truncated file", stream[:offsets[3]+10], index, nil, 3, tfrecord.ErrTruncated},
		{"too large", stream, withEntry(0, tfrecord.IndexEntry{Offset: 0, Length: 1 << 40}), nil, 0, tfrecord.ErrTooLarge},
		{"custom limit", stream, index, &tfrecord.ReaderOptions{MaxRecordSize: 5}, 0, tfrecord.ErrTooLarge},
		{"negative offset", stream, withEntry(0, tfrecord.IndexEntry{Offset: -1, Length: 20}), nil, 0, tfrecord.ErrIndex},
		{"short length", stream, withEntry(0, tfrecord.IndexEntry{Offset: 0, Length: 15}), nil, 0, tfrecord.ErrIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sr := tfrecord.NewSeekReader(bytes.NewReader(tc.stream), tc.index, tc.opts)
			_, err := sr.ReadRecord(tc.record)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var rerr *tfrecord.RecordError
			if !errors.As(err, &rerr) || rerr.Record != int64(tc.record) || rerr.Offset != tc.index[tc.record].Offset {
				t.Errorf("got %v, want a *RecordError for record %d at offset %d", err, tc.record, tc.index[tc.record].Offset)
			}
		})
	}
	t.Run("skip checksums", func(t *testing.T) {
		sr := tfrecord.NewSeekReader(bytes.NewReader(flipped(offsets[2]+14)), index, &tfrecord.ReaderOptions{SkipChecksums: true})
		if _, err := sr.ReadRecord(2); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
	t.Run("out of range", func(t *testing.T) {
		sr := tfrecord.NewSeekReader(bytes.NewReader(stream), index, nil)
		for _, i := range []int{-1, len(index)} {
			if _, err := sr.ReadRecord(i); err == nil {
				t.Errorf("ReadRecord(%d) succeeded, want an error", i)
			}
		}
	})
	t.Run("invalid options", func(t *testing.T) {
		sr := tfrecord.NewSeekReader(bytes.NewReader(stream), index, &tfrecord.ReaderOptions{MaxRecordSize: -5})
		if _, err := sr.ReadRecord(0); err == nil {
			t.Error("ReadRecord with MaxRecordSize -5 succeeded, want an error")
		}
	})
}

func TestReadIndex(t *testing.T) {
	tests := []struct {
		name     string
		text     string
		want     []tfrecord.IndexEntry
		wantLine int // 0: no error
	}{
		{"empty", "", nil, 0},
		{"one", "0 19\n", []tfrecord.IndexEntry{{0, 19}}, 0},
		{"no final newline", "0 19\n19 19", []tfrecord.IndexEntry{{0, 19}, {19, 19}}, 0},
		{"tabs, CRLF, blank lines", "0\t19\r\n\n19  25 \r\n", []tfrecord.IndexEntry{{0, 19}, {19, 25}}, 0},
		{"one field", "0 19\n38\n", nil, 2},
		{"three fields", "0 19 4\n", nil, 1},
		{"negative offset", "0 19\n19 19\n-1 19\n", nil, 3},
		{"length below 16", "0 15\n", nil, 1},
		{"not a number", "0 19\nx 19\n", nil, 2},
		{"hex", "0x10 19\n", nil, 1},
		{"overflow", "0 99999999999999999999\n", nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tfrecord.ReadIndex(strings.NewReader(tc.text))
			if tc.wantLine == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			var ierr *tfrecord.IndexError
			if !errors.As(err, &ierr) || ierr.Line != tc.wantLine || !errors.Is(err, tfrecord.ErrIndex) {
				t.Fatalf("got %v, want an ErrIndex on line %d", err, tc.wantLine)
			}
			if want := fmt.Sprintf("tfrecord: index line %d: bad index: ", tc.wantLine); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("got %q, want prefix %q", err, want)
			}
		})
	}
}

func TestBuildIndexErrors(t *testing.T) {
	records := numbered(3)
	gz := encode(t, &tfrecord.WriterOptions{Compression: tfrecord.GZIP}, records...)
	if _, err := tfrecord.BuildIndex(bytes.NewReader(gz)); !errors.Is(err, tfrecord.ErrIndex) {
		t.Errorf("BuildIndex of a gzip stream: got %v, want ErrIndex", err)
	}
	damaged := encode(t, nil, records...)
	damaged[40] ^= 1
	if _, err := tfrecord.BuildIndex(bytes.NewReader(damaged)); !errors.Is(err, tfrecord.ErrCorrupt) {
		t.Errorf("BuildIndex of a damaged stream: got %v, want ErrCorrupt", err)
	}
	if got, err := tfrecord.BuildIndex(bytes.NewReader(nil)); err != nil || len(got) != 0 {
		t.Errorf("BuildIndex of an empty stream: got %v, %v, want no entries", got, err)
	}
}

func TestWriteIndexError(t *testing.T) {
	full := errors.New("disk full")
	err := tfrecord.WriteIndex(&errWriter{limit: 3, err: full}, []tfrecord.IndexEntry{{0, 19}})
	if !errors.Is(err, full) {
		t.Errorf("got %v, want %v", err, full)
	}
	if err := tfrecord.WriteIndex(io.Discard, nil); err != nil {
		t.Errorf("empty index: got %v", err)
	}
}

package tfrecord_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

// fuzzSeeds are the inputs committed in testdata/fuzz/FuzzReader: the Writer's output for
// each compression, and damaged copies of it.
func fuzzSeeds(t testing.TB) map[string][]byte {
	varied := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("tfrecord "), 40), []byte("end")}
	plain := encode(t, nil, varied...)
	flipped := bytes.Clone(plain)
	flipped[30] ^= 0x40
	return map[string][]byte{
		"writer-empty":        encode(t, nil),
		"writer-empty-record": encode(t, nil, []byte{}),
		"writer-one":          encode(t, nil, []byte("foo")),
		"writer-varied":       plain,
		"writer-varied-gzip":  encode(t, &tfrecord.WriterOptions{Compression: tfrecord.GZIP}, varied...),
		"writer-varied-zlib":  encode(t, &tfrecord.WriterOptions{Compression: tfrecord.ZLIB}, varied...),
		"writer-flipped":      flipped,
		"writer-truncated":    plain[:len(plain)-7],
		"writer-index":        []byte("0 17\n17 16\n33 376\n"),
	}
}

// TestFuzzSeeds checks that the committed seed corpus is what the Writer produces today;
// -update rewrites it.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range fuzzSeeds(t) {
		checkGolden(t, filepath.Join(dir, name), []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)))
	}
}

// FuzzReader feeds arbitrary bytes to every reading path. Beyond not panicking:
// a stream read without error must re-encode to exactly its input; recovery must account
// for every input byte; an index built from the input must read back the same records.
func FuzzReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxSize = 1 << 20
		records, r, err := readAll(t, data, &tfrecord.ReaderOptions{MaxRecordSize: maxSize})
		if err == nil {
			t.Fatal("Next stopped without an error")
		}
		if err != io.EOF {
			var rerr *tfrecord.RecordError
			if !errors.As(err, &rerr) {
				t.Fatalf("error %v is %T, want *RecordError", err, err)
			}
		} else if r.Compression() == tfrecord.None {
			if got := encode(t, nil, records...); !bytes.Equal(got, data) {
				t.Fatalf("read %d records cleanly, but they re-encode to different bytes", len(records))
			}
		}

		checkCoverage(t, data)

		if index, err := tfrecord.BuildIndex(bytes.NewReader(data)); err == nil {
			plain, _, _ := readAll(t, data, &tfrecord.ReaderOptions{Compression: tfrecord.None})
			sr := tfrecord.NewSeekReader(bytes.NewReader(data), index, nil)
			for i := range index {
				got, err := sr.ReadRecord(i)
				if err != nil || !bytes.Equal(got, plain[i]) {
					t.Fatalf("SeekReader record %d: %v", i, err)
				}
			}
		}

		if entries, err := tfrecord.ReadIndex(bytes.NewReader(data)); err == nil {
			sr := tfrecord.NewSeekReader(bytes.NewReader(data), entries, &tfrecord.ReaderOptions{MaxRecordSize: maxSize})
			for i := range entries {
				sr.ReadRecord(i)
			}
		}
	})
}

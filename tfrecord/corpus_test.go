package tfrecord_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tfprep/tfprep/tfrecord"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

const corpusDir = "testdata/corpus"

// manifestEntry is the part of testdata/corpus/manifest.json that describes framing.
type manifestEntry struct {
	File               string   `json:"file"`
	FileSize           int64    `json:"file_size"`
	FileSHA256         string   `json:"file_sha256"`
	Compression        string   `json:"compression"`
	RecordCount        int      `json:"record_count"`
	PayloadBytesTotal  int64    `json:"record_payload_bytes_total"`
	FirstRecordSHA256  string   `json:"record_sha256_first"`
	LastRecordSHA256   string   `json:"record_sha256_last"`
	FirstRecordLengths []int    `json:"record_lengths_first5"`
	RawRecords         []string `json:"records"` // only for files of raw (non-Example) records
}

func readManifest(t *testing.T) []manifestEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []manifestEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	return entries
}

// readFile reads every record of a corpus file through Open, with compression detected.
func readFile(t *testing.T, path string) ([][]byte, []tfrecord.IndexEntry, tfrecord.Compression) {
	t.Helper()
	r, err := tfrecord.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var records [][]byte
	var index []tfrecord.IndexEntry
	for {
		offset := r.Offset()
		record, err := r.Next()
		if err == io.EOF {
			return records, index, r.Compression()
		}
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, record)
		index = append(index, tfrecord.IndexEntry{Offset: offset, Length: r.Offset() - offset})
	}
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestCorpusManifest reads every TFRecord file of the corpus (written by TensorFlow, the
// TensorFlow ecosystem's Java writer and Apache Beam) and checks it against manifest.json.
func TestCorpusManifest(t *testing.T) {
	manifest := readManifest(t)
	listed := map[string]bool{}
	for _, m := range manifest {
		listed[m.File] = true
	}
	dir, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range dir {
		if name := e.Name(); name != "manifest.json" && !listed[name] {
			t.Errorf("%s is in %s but not in its manifest", name, corpusDir)
		}
	}
	for _, m := range manifest {
		t.Run(m.File, func(t *testing.T) {
			path := filepath.Join(corpusDir, m.File)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := sha(data); got != m.FileSHA256 || int64(len(data)) != m.FileSize {
				t.Fatalf("the copy differs from the manifest's file: %d bytes sha256 %s, want %d bytes %s", len(data), got, m.FileSize, m.FileSHA256)
			}
			records, _, compression := readFile(t, path)
			wantCompression, err := tfrecord.ParseCompression(m.Compression)
			if err != nil {
				t.Fatal(err)
			}
			if compression != wantCompression {
				t.Errorf("detected %v, want %v", compression, wantCompression)
			}
			if got := len(records); got != m.RecordCount {
				t.Fatalf("got %d records, want %d", got, m.RecordCount)
			}
			var total int64
			var lengths []int
			for _, r := range records {
				total += int64(len(r))
				lengths = append(lengths, len(r))
			}
			if total != m.PayloadBytesTotal {
				t.Errorf("got %d payload bytes, want %d", total, m.PayloadBytesTotal)
			}
			if diff := cmp.Diff(m.FirstRecordLengths, lengths[:min(5, len(lengths))]); diff != "" {
				t.Errorf("first record lengths (-want +got):\n%s", diff)
			}
			if got := sha(records[0]); got != m.FirstRecordSHA256 {
				t.Errorf("first record sha256 %s, want %s", got, m.FirstRecordSHA256)
			}
			if got := sha(records[len(records)-1]); got != m.LastRecordSHA256 {
				t.Errorf("last record sha256 %s, want %s", got, m.LastRecordSHA256)
			}
			if m.RawRecords != nil {
				var got []string
				for _, r := range records {
					got = append(got, string(r))
				}
				if diff := cmp.Diff(m.RawRecords, got); diff != "" {
					t.Errorf("raw records (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestCorpusRewriteIsByteIdentical re-encodes the records of every corpus file with the
// Writer. The uncompressed stream must come out byte for byte as TensorFlow (or the other
// writer) produced it, which shows that files this package writes have exactly the framing
// those implementations read. For GZIP files the comparison is with the decompressed
// content, since compressed bytes depend on the compressor's choices.
func TestCorpusRewriteIsByteIdentical(t *testing.T) {
	for _, m := range readManifest(t) {
		t.Run(m.File, func(t *testing.T) {
			path := filepath.Join(corpusDir, m.File)
			original, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			records, _, compression := readFile(t, path)
			if compression == tfrecord.GZIP {
				zr, err := gzip.NewReader(bytes.NewReader(original))
				if err != nil {
					t.Fatal(err)
				}
				if original, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			rewritten := encode(t, nil, records...)
			if !bytes.Equal(rewritten, original) {
				t.Fatalf("rewritten stream (%d bytes) differs from the original (%d bytes)", len(rewritten), len(original))
			}
			// And the compressed rewrite must decode to the same records.
			again, _, err := readAll(t, encode(t, &tfrecord.WriterOptions{Compression: compression}, records...), nil)
			if err != io.EOF || len(again) != len(records) {
				t.Fatalf("reading the %v rewrite: %d records, %v; want %d records, io.EOF", compression, len(again), err, len(records))
			}
		})
	}
}

// TestCorpusSeekReader reads every record of the uncompressed corpus files by number.
func TestCorpusSeekReader(t *testing.T) {
	for _, m := range readManifest(t) {
		if m.Compression != "NONE" {
			continue
		}
		t.Run(m.File, func(t *testing.T) {
			path := filepath.Join(corpusDir, m.File)
			records, sequentialIndex, _ := readFile(t, path)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			index, err := tfrecord.BuildIndex(f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(sequentialIndex, index); diff != "" {
				t.Fatalf("BuildIndex disagrees with the Reader's offsets (-reader +BuildIndex):\n%s", diff)
			}
			sr := tfrecord.NewSeekReader(f, index, &tfrecord.ReaderOptions{ReuseBuffer: true})
			for i := len(records) - 1; i >= 0; i-- {
				got, err := sr.ReadRecord(i)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, records[i]) {
					t.Fatalf("record %d differs", i)
				}
			}
		})
	}
}

// TestCorpusGolden compares a readable dump of every corpus file — compression, then per
// record its offset, framed length (the DALI index line) and payload sha256 — with
// testdata/corpus.golden. Run with -update to rewrite it.
func TestCorpusGolden(t *testing.T) {
	var dump strings.Builder
	manifest := readManifest(t)
	slices.SortFunc(manifest, func(a, b manifestEntry) int { return strings.Compare(a.File, b.File) })
	for _, m := range manifest {
		records, index, compression := readFile(t, filepath.Join(corpusDir, m.File))
		fmt.Fprintf(&dump, "== %s: %v, %d records\n", m.File, compression, len(records))
		for i, r := range records {
			fmt.Fprintf(&dump, "%d %d %s\n", index[i].Offset, index[i].Length, sha(r)[:16])
		}
	}
	checkGolden(t, "testdata/corpus.golden", []byte(dump.String()))
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The tests run commands from inside the directory of their input files
// (t.Chdir), so that the output names them briefly; these are absolute.
var (
	// The TFRecord files written by TensorFlow (and Beam and Java) that the
	// tfrecord package keeps, with the manifest that says what they hold;
	// see ../../tfrecord/testdata/PROVENANCE.md.
	corpusDir = mustAbs("../../tfrecord/testdata/corpus")
	// Golden files of this file's tests and of verify_test.go, cat_test.go.
	goldenDir = mustAbs("testdata/files")
)

func mustAbs(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		panic(err)
	}
	return abs
}

// corpusEntry is the part of manifest.json these tests check against.
type corpusEntry struct {
	File         string `json:"file"`
	Compression  string `json:"compression"` // NONE, GZIP
	RecordCount  int64  `json:"record_count"`
	PayloadBytes int64  `json:"record_payload_bytes_total"`
	Lengths      []int  `json:"record_lengths_first5"`
	Message      string `json:"message"`
	Records      []string
	Features     map[string]struct {
		Types     []string `json:"types"`
		PresentIn int      `json:"present_in"`
		MinLen    int      `json:"min_len"`
		MaxLen    int      `json:"max_len"`
	} `json:"features"`
	KeyOrder      []string                   `json:"serialized_feature_key_order_first_record"`
	First         map[string]manifestFeature `json:"first_record"`
	Last          map[string]manifestFeature `json:"last_record"`
	Labels        map[string]int             `json:"label_distribution"`
	ImageClasses  map[string]int             `json:"image_class_distribution"`
	Species       map[string]int             `json:"species_distribution"`
	IDsFirst10    []string                   `json:"ids_first10"`
	Filenames     []string                   `json:"filenames"`
	HeightsWidths [][2]int64                 `json:"per_record_height_width"`
}

type manifestFeature struct {
	Type   string            `json:"type"` // int64, float, bytes, empty
	Values []json.RawMessage `json:"values"`
}

func readCorpusManifest(t *testing.T) []corpusEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []corpusEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 11 {
		t.Fatalf("manifest lists %d files, want the 11 of the corpus", len(entries))
	}
	return entries
}

// runTool runs a tfprep command line and returns its exit code and output.
func runTool(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// checkGolden compares got with testdata/files/name; go test -update
// rewrites it.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func corpusNames(entries []corpusEntry) []string {
	var names []string
	for _, e := range entries {
		names = append(names, e.File)
	}
	return names
}

func TestCountCorpus(t *testing.T) {
	entries := readCorpusManifest(t)
	t.Chdir(corpusDir)
	code, stdout, stderr := runTool(t, append([]string{"count"}, corpusNames(entries)...)...)
	if code != ExitOK {
		t.Fatalf("count: exit %d, stderr %s", code, stderr)
	}
	checkGolden(t, "count.golden", stdout)

	code, stdout, stderr = runTool(t, append([]string{"count", "--json"}, corpusNames(entries)...)...)
	if code != ExitOK {
		t.Fatalf("count --json: exit %d, stderr %s", code, stderr)
	}
	var got struct {
		Files []struct {
			File    string
			Records int64
		}
		Records int64
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("count --json output: %v\n%s", err, stdout)
	}
	var total int64
	for i, e := range entries {
		if got.Files[i].File != e.File || got.Files[i].Records != e.RecordCount {
			t.Errorf("got %s: %d records, want %s: %d as the manifest says", got.Files[i].File, got.Files[i].Records, e.File, e.RecordCount)
		}
		total += e.RecordCount
	}
	if got.Records != total {
		t.Errorf("total: got %d, want %d", got.Records, total)
	}
}

func TestCountGlobs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout, or stderr when the command fails
	}{
		{"glob", []string{"beam_python_foo*"}, ExitOK,
			"1  beam_python_foo.tfrecord\n2  beam_python_foo_bar.tfrecord\n3  total\n"},
		{"glob matching nothing", []string{"nothing*"}, ExitError, `no files match "nothing*"`},
		{"missing file", []string{"absent.tfrecord"}, ExitError, "absent.tfrecord: no such file"},
		{"directory", []string{"."}, ExitError, ". is a directory"},
		{"not a TFRecord file", []string{"manifest.json"}, ExitError, "manifest.json:0 (record 0): corrupt record: length checksum mismatch"},
		{"no arguments", nil, ExitUsage, "no files given"},
	}
	t.Chdir(corpusDir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, append([]string{"count"}, tt.args...)...)
			out := stdout
			if tt.wantCode != ExitOK {
				out = stderr
			}
			if code != tt.wantCode || !strings.Contains(out, tt.want) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit %d and %q", code, stdout, stderr, tt.wantCode, tt.want)
			}
		})
	}
}

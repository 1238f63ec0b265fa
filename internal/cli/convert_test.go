package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

// TestMain initialises Beam as main does: convert runs Beam pipelines, and
// the Dataflow runner refuses to build a job without beam.Init.
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

// convertData is the pipeline package's small test set: 14 good rows, and a
// CSV with 8 bad rows of every stage among 3 good ones.
var convertData = filepath.Join("..", "..", "pipeline", "testdata")

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// resetGlobalFlags sets Beam's global flags to their defaults now and
// again when the test ends: a test sets some through the command line, and
// an in-process Prism run sets --endpoint and --environment_type for the
// rest of the process.
func resetGlobalFlags(t *testing.T, names ...string) {
	reset := func() {
		for _, name := range names {
			if f := flag.Lookup(name); f != nil {
				f.Value.Set(f.DefValue)
			}
		}
	}
	reset()
	t.Cleanup(reset)
}

func TestConvertExitCodes(t *testing.T) {
	csv := func(name string) string { return filepath.Join(convertData, name) }
	images := filepath.Join(convertData, "images")
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
		manifest   bool
	}{
		{"clean", []string{"--csv", csv("good.csv"), "--splits", "train=0.8,validation=0.2", "--shards", "2"}, ExitOK, "", true},
		{"rejected rows", []string{"--csv", csv("bad.csv"), "--compression", "gzip"}, ExitPartial, "8 of 11 rows rejected", true},
		{"max errors", []string{"--csv", csv("bad.csv"), "--max-errors", "50%"}, ExitError, "too many rejected rows", false},
		{"no csv", []string{}, ExitUsage, "--csv, --images and --out are required", false},
		{"bad splits", []string{"--csv", csv("good.csv"), "--splits", "train=0.9,val-1=0.1"}, ExitUsage, "bad split name", false},
		{"bad size", []string{"--csv", csv("good.csv"), "--shard-size", "lots"}, ExitUsage, "--shard-size", false},
		{"index needs uncompressed", []string{"--csv", csv("good.csv"), "--index", "--compression", "zlib"}, ExitUsage, "--index", false},
		{"bad max errors", []string{"--csv", csv("good.csv"), "--max-errors", "x"}, ExitUsage, "--max-errors", false},
		{"bad filter", []string{"--csv", csv("good.csv"), "--resize", "sharpest"}, ExitUsage, "sharpest", false},
		{"missing csv", []string{"--csv", csv("nope.csv")}, ExitError, "nope.csv", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{"convert", "--spec", "planet", "--images", images, "--out", out, "--seed", "3"}, tt.args...)
			if tt.name == "no csv" {
				args = []string{"convert", "--images", images, "--out", out}
			}
			code, _, stderr := runCLI(t, args...)
			if code != tt.want {
				t.Errorf("got exit %d, want %d; stderr:\n%s", code, tt.want, stderr)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("got stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
			_, err := dataset.ReadManifest(out)
			if got := err == nil; got != tt.manifest {
				t.Errorf("got manifest: %v (%v), want %v", got, err, tt.manifest)
			}
		})
	}
}

func TestConvertSummary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI(t, "convert", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", filepath.Join(convertData, "images"), "--out", out, "--splits", "train=3,validation=1", "--size", "32", "--encoding", "uint8")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr)
	}
	m, err := dataset.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"split", "train", "validation", "total", "rows: 14 read = 14 written + 0 rejected", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if got := m.Features[0]; got.Name != "image" || got.DType != "uint8" || !slices.Equal(got.Shape, []int{32, 32, 3}) {
		t.Errorf("got image feature %+v, want uint8 [32 32 3] (from --size and --encoding)", got)
	}
	if m.CommandLine == nil || m.ToolVersion == "" {
		t.Errorf("manifest lacks command line or tool version: %q %q", m.CommandLine, m.ToolVersion)
	}
}

// TestConvertDataflowDryRun builds the Dataflow job offline and checks that
// it is printed; nothing is submitted and nothing is converted.
func TestConvertDataflowDryRun(t *testing.T) {
	// Without credentials the runner's check of the staging bucket fails at
	// once, offline, and the job is still printed.
	// Credentials that cannot be loaded make Google's auth library fail at
	// once: with none at all it would probe the GCE metadata server
	// (169.254.169.254), and no packet may leave this machine.
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "no-credentials.json"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	// --out holds an earlier dataset and a dead run's staging directory: a
	// dry run with --overwrite must leave both as they are.
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := runCLI(t, "convert", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", filepath.Join(convertData, "images"), "--out", out, "--size", "16"); code != ExitOK {
		t.Fatalf("earlier conversion: exit %d\n%s", code, stderr)
	}
	orphan := filepath.Join(out, ".tfprep-tmp-dead", "train-00000.x.tfrecord")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeOf(t, out)
	if _, ok := before[filepath.Join(out, dataset.ManifestName)]; !ok || len(before) < 3 {
		t.Fatalf("earlier conversion left %v, want a dataset", before)
	}
	resetGlobalFlags(t, "runner", "dry_run", "project", "region", "staging_location", "endpoint", "environment_type")
	code, _, stderr := runCLI(t, "convert", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", filepath.Join(convertData, "images"), "--out", out, "--overwrite",
		"--runner=dataflow", "--dry_run", "--allow-approximate-pixels", "--project=tfprep-test", "--region=europe-west1", "--staging_location=gs://tfprep-test/staging")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"Dry-run: not submitting job", "tfprep-test", "WriteShards", "Finalize", "nothing converted here"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if diff := cmp.Diff(before, treeOf(t, out)); diff != "" {
		t.Errorf("the dry run changed --out (-before +after):\n%s", diff)
	}
}

// treeOf maps every file under dir to its size and modification time.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		tree[path] = fmt.Sprint(info.Size(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// TestConvertSummaryWarnings checks that a row kept with a doubtful label
// (an all-zero one-hot vector, as the seed CSV's train_24448) is written and
// reported, and that a clean conversion reports no warning.
func TestConvertSummaryWarnings(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(convertData, "good.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	header, first, second := lines[0], lines[1], lines[2]
	zeroed := strings.Replace(second, strings.Split(second, "\"")[1], "0, 0, 0, 0", 1)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "warn.csv")
	if err := os.WriteFile(csvPath, []byte(header+first+zeroed), 0o644); err != nil {
		t.Fatal(err)
	}
	images, _ := filepath.Abs(filepath.Join(convertData, "images"))
	code, stdout, stderr := runCLI(t, "convert", "--csv", csvPath, "--images", images,
		"--out", filepath.Join(dir, "out"), "--size", "16")
	if code != ExitOK {
		t.Fatalf("got exit %d, want 0; stderr:\n%s", code, stderr)
	}
	for _, want := range []string{"rows: 2 read = 2 written + 0 rejected", "warning: 1 row kept with doubtful labels",
		`first: line 3 (synth_00001): column "weather_labels"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "line 3"); n != 1 {
		t.Errorf("the summary names line 3 %d times, want once:\n%s", n, stdout)
	}
	m, err := dataset.ReadManifest(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Rows; r.Warned != 1 || len(r.Warnings) != 1 || r.Warnings[0].Line != 3 || r.Warnings[0].Key != "synth_00001" ||
		!strings.Contains(r.Warnings[0].Reason, "weather_labels") || strings.Contains(r.Warnings[0].Reason, "line") {
		t.Errorf("got manifest rows %+v, want one warning for line 3, synth_00001, column weather_labels, the line not repeated in the reason", r)
	}
	if err := os.WriteFile(csvPath+".clean", []byte(header+first+second), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "convert", "--csv", csvPath+".clean", "--images", images,
		"--out", filepath.Join(dir, "clean"), "--size", "16")
	if code != ExitOK {
		t.Fatalf("clean: got exit %d, want 0; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stdout, "warning:") {
		t.Errorf("clean conversion reports a warning:\n%s", stdout)
	}
}

// --images pointing at the folder above the images: every row is rejected,
// which is a failed conversion (exit 1, no manifest, errors.csv kept) with
// a message saying what to check.
func TestConvertNothingWritten(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, "convert", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", convertData, "--out", out)
	if code != ExitError {
		t.Errorf("got exit %d, want %d; stderr:\n%s", code, ExitError, stderr)
	}
	for _, want := range []string{"no row written", "all 14 rows read were rejected", "stage io", "is --images " + convertData + " the folder that holds the images?"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := dataset.ReadManifest(out); err == nil {
		t.Error("a manifest was written")
	}
	errs, err := dataset.ReadErrorsFile(out)
	if err != nil || len(errs) != 14 {
		t.Errorf("errors.csv: %d rows, %v; want the 14 rejected rows kept", len(errs), err)
	}
}

func TestConvertDuplicateKeys(t *testing.T) {
	csv := filepath.Join(convertData, "dup.csv")
	images := filepath.Join(convertData, "images")
	out := filepath.Join(t.TempDir(), "warn")
	code, stdout, stderr := runCLI(t, "convert", "--csv", csv, "--images", images, "--out", out)
	if code != ExitOK || !strings.Contains(stdout, "warning: 2 rows kept with doubtful labels or repeated keys") ||
		!strings.Contains(stdout, "first: line 4 (synth_00000): duplicate key synth_00000: first at line 2") {
		t.Errorf("warn: got exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	out = filepath.Join(t.TempDir(), "reject")
	code, stdout, stderr = runCLI(t, "convert", "--csv", csv, "--images", images, "--out", out, "--duplicate-keys", "reject")
	if code != ExitPartial || !strings.Contains(stdout, "5 read = 3 written + 2 rejected (label 2)") {
		t.Errorf("reject: got exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, "convert", "--csv", csv, "--images", images, "--out", out, "--duplicate-keys", "drop"); code != ExitUsage {
		t.Errorf("--duplicate-keys drop: got exit %d, want usage; stderr:\n%s", code, stderr)
	}
}

// A CSV that does not fit the planet spec: without --spec the message says
// that planet was assumed as the default and how to describe another CSV;
// with --spec planet given it does not claim an assumption.
func TestConvertDefaultSpecAssumed(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "labels.csv")
	if err := os.WriteFile(csvPath, []byte("file,label\na.jpg,cat\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	images, _ := filepath.Abs(filepath.Join(convertData, "images"))
	for _, explicit := range []bool{false, true} {
		args := []string{"convert", "--csv", csvPath, "--images", images, "--out", filepath.Join(dir, "out"), "--quiet"}
		if explicit {
			args = append(args, "--spec", "planet")
		}
		code, _, stderr := runCLI(t, args...)
		if code == ExitOK {
			t.Fatalf("explicit %v: got exit 0 for a CSV without the planet columns", explicit)
		}
		for _, want := range []string{`missing columns "image_name"`, "tfprep spec init --csv"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("explicit %v: stderr lacks %q:\n%s", explicit, want, stderr)
			}
		}
		assumed := `no --spec was given, so the default spec "planet" was assumed`
		if got := strings.Contains(stderr, assumed); got == explicit {
			t.Errorf("explicit %v: stderr says %q: %v, want %v:\n%s", explicit, assumed, got, !explicit, stderr)
		}
	}
}

// --splits weights that do not sum to 1 are normalised with a note giving
// the fractions used; fractions are recorded rounded (0.1, not
// 0.10000000000000002) and weights that sum to 1 need no note.
func TestConvertSplitFractions(t *testing.T) {
	images, _ := filepath.Abs(filepath.Join(convertData, "images"))
	tests := []struct {
		splits   string
		note     string // "" for none
		fraction map[string]float64
	}{
		{"train=3,validation=1", "--splits weights sum to 4, not 1; the splits get these fractions of the keys: train=0.75,validation=0.25",
			map[string]float64{"train": 0.75, "validation": 0.25}},
		{"train=0.6,validation=0.3,test=0.1", "", map[string]float64{"train": 0.6, "validation": 0.3, "test": 0.1}},
	}
	for _, tt := range tests {
		out := filepath.Join(t.TempDir(), "out")
		code, _, stderr := runCLI(t, "convert", "--csv", filepath.Join(convertData, "good.csv"), "--images", images,
			"--out", out, "--size", "16", "--splits", tt.splits, "--quiet")
		if code != ExitOK {
			t.Fatalf("%s: got exit %d, want 0; stderr:\n%s", tt.splits, code, stderr)
		}
		if got := strings.Contains(stderr, "--splits weights"); got != (tt.note != "") || !strings.Contains(stderr, tt.note) {
			t.Errorf("%s: got stderr %q, want the note %q", tt.splits, stderr, tt.note)
		}
		m, err := dataset.ReadManifest(out)
		if err != nil {
			t.Fatal(err)
		}
		for _, sp := range m.Splits {
			if sp.Fraction != tt.fraction[sp.Name] {
				t.Errorf("%s: split %s: got fraction %v, want %v", tt.splits, sp.Name, sp.Fraction, tt.fraction[sp.Name])
			}
		}
	}
}

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// python is Debian's interpreter, which has the apt-installed modules; the first python3 on PATH
// may be another one without them.
const python = "/usr/bin/python3"

// Pure-Go decoder builds are within this distance of PIL's pixels, in 0..255 levels: the bound
// imageprep's TestPureGoTolerance documents for ordinary baseline JPEGs (the demo's chips).
const (
	pureGoMaxLevels  = 3
	pureGoMeanLevels = 0.05
)

var (
	moduleRoot = filepath.Join("..")
	protoRoot  = filepath.Join(moduleRoot, "tfrecord", "example", "proto")
	demoCSV    = filepath.Join(moduleRoot, "testdata", "demo", "planet.csv")
	demoImages = filepath.Join(moduleRoot, "testdata", "demo", "images")
)

var (
	buildOnce sync.Once
	binDir    string
	tfprepBin string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// tfprep builds cmd/tfprep once per test binary, with the ambient environment, and returns its path.
func tfprep(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tfprep-e2e")
		if buildErr != nil {
			return
		}
		tfprepBin = filepath.Join(binDir, "tfprep")
		cmd := exec.Command("go", "build", "-o", tfprepBin, "./cmd/tfprep")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/tfprep: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return tfprepBin
}

// requirePython fails the test, naming what is missing and how to install it, unless Debian's
// python3 with numpy, PIL and protobuf and protoc are installed ("make test" installs them as root).
// TFPREP_SKIP_E2E=1 turns the failure into a skip for those who choose to run without them.
func requirePython(t *testing.T) {
	t.Helper()
	const install = "apt-get install -y python3-pil python3-numpy python3-protobuf protobuf-compiler"
	missing := t.Fatalf
	if os.Getenv("TFPREP_SKIP_E2E") == "1" {
		missing = t.Skipf
	}
	if _, err := os.Stat(python); err != nil {
		missing("%s not found (%s)", python, install)
	}
	for _, module := range []string{"numpy", "PIL", "google.protobuf"} {
		if out, err := exec.Command(python, "-c", "import "+module).CombinedOutput(); err != nil {
			missing("%s cannot import %s (%s): %s", python, module, install, bytes.TrimSpace(out))
		}
	}
	if _, err := exec.LookPath("protoc"); err != nil {
		missing("protoc not found (%s)", install)
	}
}

// run runs a command and returns its stdout; it fails the test on a non-zero exit.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := runExit(name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func runExit(name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, &stdout, &stderr)
	}
	return stdout.Bytes(), nil
}

// seedSummary is read_like_seed.py's one-line JSON result.
type seedSummary struct {
	Records         int            `json:"records"`
	CSVRows         int            `json:"csv_rows"`
	Splits          map[string]int `json:"splits"`
	Shards          int            `json:"shards"`
	ImageMismatches int            `json:"image_mismatches"`
	LabelMismatches int            `json:"label_mismatches"`
	MaxLevels       int            `json:"max_levels"`
	MaxMeanLevels   float64        `json:"max_mean_levels"`
	Problems        int            `json:"problems"`
}

// readLikeSeed runs read_like_seed.py on a converted dataset. The returned error is the script's
// failure (exit status and stderr), with the summary it printed.
func readLikeSeed(t *testing.T, dir string, pureGo bool) (seedSummary, error) {
	t.Helper()
	args := []string{filepath.Join("testdata", "read_like_seed.py"),
		"--dataset", dir, "--csv", demoCSV, "--images", demoImages, "--proto-root", protoRoot}
	if pureGo {
		args = append(args, "--max-levels", strconv.Itoa(pureGoMaxLevels), "--mean-levels", strconv.FormatFloat(pureGoMeanLevels, 'g', -1, 64))
	}
	out, runErr := runExit(python, args...)
	var s seedSummary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("read_like_seed.py summary: %v\n%s\n%v", err, out, runErr)
	}
	return s, runErr
}

// convert runs tfprep convert on the demo dataset into a new directory and returns it with the
// decoder that dataset.json records.
func convert(t *testing.T, extra ...string) (dir, decoder string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "out")
	run(t, tfprep(t), append(demoArgs(dir), extra...)...)
	data, err := os.ReadFile(filepath.Join(dir, "dataset.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Decoder string `json:"decoder"`
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatalf("dataset.json: %v", err)
	}
	return dir, manifest.Decoder
}

// demoRows counts the demo CSV's data rows.
func demoRows(t *testing.T) int {
	t.Helper()
	f, err := os.Open(demoCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", demoCSV, err)
	}
	return len(records) - 1
}

func isPureGo(decoder string) bool { return strings.Contains(decoder, "(pure Go)") }

// TestPythonReadsConvertedDataset is the product promise: the seed's tf.data parsing reads tfprep's
// shards unchanged, with the pixels Keras load_img + img_to_array / 255 gives (bit-identical with
// the libjpeg-turbo build, within imageprep's documented bound with the pure-Go one), the CSV's
// labels, and every row exactly once. The demo holds 100 synthetic chips and 2 real Planet chips
// (4-component JPEGs).
func TestPythonReadsConvertedDataset(t *testing.T) {
	requirePython(t)
	for _, tc := range []struct {
		name       string
		flags      []string
		shardGlobs string
	}{
		{"none", nil, "*.tfrecord"},
		{"gzip", []string{"--compression", "gzip"}, "*.tfrecord.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, decoder := convert(t, tc.flags...)
			shards, err := filepath.Glob(filepath.Join(dir, tc.shardGlobs))
			if err != nil {
				t.Fatal(err)
			}
			if len(shards) != 4 {
				t.Fatalf("got %d shards named %s, want 4", len(shards), tc.shardGlobs)
			}
			got, err := readLikeSeed(t, dir, isPureGo(decoder))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("decoder %s: %+v", decoder, got)
			rows := demoRows(t)
			want := seedSummary{
				Records: rows, CSVRows: rows, Shards: 4,
				Splits:    got.Splits, // the split sizes are dataset.json's; the script checks them
				MaxLevels: got.MaxLevels, MaxMeanLevels: got.MaxMeanLevels,
			}
			if !isPureGo(decoder) {
				want.MaxLevels, want.MaxMeanLevels = 0, 0
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("read_like_seed.py summary (-want +got):\n%s", diff)
			}
			if len(got.Splits) != 2 || got.Splits["train"]+got.Splits["validation"] != rows {
				t.Errorf("got splits %v, want train and validation summing to %d", got.Splits, rows)
			}
		})
	}
}

// TestPythonReaderCatchesDamage shows the reader can fail: a shard rewritten with one pixel value
// changed (valid framing) is an image mismatch, and a flipped byte is a CRC error.
func TestPythonReaderCatchesDamage(t *testing.T) {
	requirePython(t)
	dir, decoder := convert(t)
	shard := filepath.Join(dir, "validation-00000-of-00002.tfrecord")
	original, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("pixel", func(t *testing.T) {
		rewriteFirstImage(t, shard, func(image []byte) {
			// Pixel 0 channel 0 becomes 1.0 if it was below 0.5, else 0.0: more than any tolerance.
			v := float32(1)
			if math.Float32frombits(binary.LittleEndian.Uint32(image)) >= 0.5 {
				v = 0
			}
			binary.LittleEndian.PutUint32(image, math.Float32bits(v))
		})
		got, err := readLikeSeed(t, dir, isPureGo(decoder))
		if err == nil {
			t.Fatalf("read_like_seed.py accepted a changed pixel: %+v", got)
		}
		if rows := demoRows(t); got.ImageMismatches != 1 || got.LabelMismatches != 0 || got.Records != rows {
			t.Errorf("got %+v, want 1 image mismatch in %d records", got, rows)
		}
	})

	t.Run("crc", func(t *testing.T) {
		damaged := bytes.Clone(original)
		damaged[1000] ^= 0x40 // inside the first record's image bytes
		if err := os.WriteFile(shard, damaged, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := runExit(python, filepath.Join("testdata", "read_like_seed.py"),
			"--dataset", dir, "--csv", demoCSV, "--images", demoImages, "--proto-root", protoRoot)
		if err == nil || !strings.Contains(err.Error(), "data CRC mismatch") {
			t.Errorf("got %v, want a data CRC mismatch", err)
		}
	})
}

// rewriteFirstImage rewrites a shard with change applied to its first record's image feature.
func rewriteFirstImage(t *testing.T, path string, change func(image []byte)) {
	t.Helper()
	r, err := tfrecord.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var records [][]byte
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, rec)
	}
	r.Close()
	parsed, err := example.Parse(records[0], false)
	if err != nil {
		t.Fatal(err)
	}
	image, err := parsed.Bytes("image")
	if err != nil {
		t.Fatal(err)
	}
	change(image)
	records[0] = example.AppendExample(nil, parsed.Features)

	var out bytes.Buffer
	w, err := tfrecord.NewWriter(&out, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range records {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// catRecord is one line of `tfprep cat --full`.
type catRecord struct {
	Record   int                   `json:"record"`
	Offset   int64                 `json:"offset"`
	Features map[string]catFeature `json:"features"`
}

type catFeature struct {
	Kind   string            `json:"kind"`
	Values []json.RawMessage `json:"values"`
}

// pyRecord is one record as write_like_tf.py describes it: bytes in base64, floats as Python
// reprs of float32 values, int64s as decimal strings.
type pyRecord struct {
	Offset   int64 `json:"offset"`
	Features map[string]struct {
		Kind   string   `json:"kind"`
		Values []string `json:"values"`
	} `json:"features"`
}

// record is the common form both are compared in: values as base64 (bytes), shortest float32
// (floats, so -0 and every bit count) and decimal (int64).
type record struct {
	Offset   int64
	Features map[string]feature
}

type feature struct {
	Kind   string
	Values []string
}

func shortestFloat32(s string) (string, error) {
	switch s {
	case "NaN", "nan":
		return "NaN", nil
	}
	f, err := strconv.ParseFloat(s, 32)
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(f, 'g', -1, 32), nil
}

func fromCat(t *testing.T, c catRecord) record {
	t.Helper()
	r := record{Offset: c.Offset, Features: map[string]feature{}}
	for name, f := range c.Features {
		out := feature{Kind: f.Kind, Values: []string{}}
		for _, raw := range f.Values {
			var v string
			switch f.Kind {
			case "bytes_list":
				var text string
				var full struct {
					Base64 *string `json:"base64"`
				}
				if json.Unmarshal(raw, &text) == nil {
					v = base64.StdEncoding.EncodeToString([]byte(text))
				} else if err := json.Unmarshal(raw, &full); err != nil || full.Base64 == nil {
					t.Fatalf("cat record %d %s: bytes value %s is neither a string nor {base64}", c.Record, name, raw)
				} else {
					v = *full.Base64
				}
			case "float_list":
				var text string
				if json.Unmarshal(raw, &text) != nil {
					text = string(raw)
				}
				var err error
				if v, err = shortestFloat32(text); err != nil {
					t.Fatalf("cat record %d %s: float %s: %v", c.Record, name, raw, err)
				}
			case "int64_list":
				n, err := strconv.ParseInt(string(raw), 10, 64)
				if err != nil {
					t.Fatalf("cat record %d %s: int64 %s: %v", c.Record, name, raw, err)
				}
				v = strconv.FormatInt(n, 10)
			default:
				t.Fatalf("cat record %d %s: value %s in a feature of kind %q", c.Record, name, raw, f.Kind)
			}
			out.Values = append(out.Values, v)
		}
		r.Features[name] = out
	}
	return r
}

func fromPython(t *testing.T, p pyRecord) record {
	t.Helper()
	r := record{Offset: p.Offset, Features: map[string]feature{}}
	for name, f := range p.Features {
		out := feature{Kind: f.Kind, Values: []string{}}
		for _, v := range f.Values {
			if f.Kind == "float_list" {
				var err error
				if v, err = shortestFloat32(v); err != nil {
					t.Fatalf("write_like_tf.py %s: float %s: %v", name, v, err)
				}
			}
			out.Values = append(out.Values, v)
		}
		r.Features[name] = out
	}
	return r
}

// TestTfprepReadsPythonWrittenRecords is the write side in reverse: TFRecord files framed and
// serialized by Python (as tf.io.TFRecordWriter would write them, plain and GZIP) pass tfprep
// verify, and tfprep cat prints exactly the offsets, kinds and values Python wrote.
func TestTfprepReadsPythonWrittenRecords(t *testing.T) {
	requirePython(t)
	for _, tc := range []struct {
		name, file  string
		compression string
		flags       []string
	}{
		{"none", "python.tfrecord", "none", nil},
		{"gzip", "python.tfrecord.gz", "gzip", []string{"--gzip"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tc.file)
			args := append([]string{filepath.Join("testdata", "write_like_tf.py"), "--out", path, "--proto-root", protoRoot}, tc.flags...)
			var written struct {
				Records []pyRecord `json:"records"`
			}
			if err := json.Unmarshal(run(t, python, args...), &written); err != nil {
				t.Fatalf("write_like_tf.py output: %v", err)
			}
			var want []record
			for _, p := range written.Records {
				want = append(want, fromPython(t, p))
			}

			var verified struct {
				OK       bool `json:"ok"`
				Records  int  `json:"records"`
				Examples int  `json:"examples"`
				Files    []struct {
					Compression string `json:"compression"`
				} `json:"files"`
			}
			if err := json.Unmarshal(run(t, tfprep(t), "verify", "--json", path), &verified); err != nil {
				t.Fatalf("tfprep verify --json: %v", err)
			}
			if !verified.OK || verified.Records != len(want) || verified.Examples != len(want) ||
				len(verified.Files) != 1 || verified.Files[0].Compression != tc.compression {
				t.Errorf("tfprep verify: got %+v, want ok with %d records, all Examples, compression %s", verified, len(want), tc.compression)
			}

			var got []record
			dec := json.NewDecoder(bytes.NewReader(run(t, tfprep(t), "cat", "--full", path)))
			for i := 0; ; i++ {
				var c catRecord
				if err := dec.Decode(&c); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatalf("tfprep cat line %d: %v", i+1, err)
				}
				if c.Record != i {
					t.Errorf("tfprep cat line %d: got record %d, want %d", i+1, c.Record, i)
				}
				got = append(got, fromCat(t, c))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("tfprep cat vs what Python wrote (-want +got):\n%s", diff)
			}
		})
	}
}

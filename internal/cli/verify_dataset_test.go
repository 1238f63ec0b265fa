package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// update is -update: rewrite golden files instead of comparing with them.
var update = goldenUpdateFlag()

// goldenUpdateFlag defines -update, or takes it over: Beam's Dataflow
// runner, linked in through the convert command, defines a global -update
// of its own, which means nothing in a test binary.
func goldenUpdateFlag() *bool {
	p := new(bool)
	if f := flag.Lookup("update"); f != nil {
		f.Value, f.Usage, f.DefValue = (*boolFlag)(p), "rewrite the golden files", "false"
		return p
	}
	flag.BoolVar(p, "update", false, "rewrite the golden files")
	return p
}

type boolFlag bool

func (b *boolFlag) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*b = boolFlag(v)
	return err
}
func (b *boolFlag) String() string   { return strconv.FormatBool(bool(*b)) }
func (b *boolFlag) IsBoolFlag() bool { return true }

// fixture describes a small converted dataset written directly with the
// tfrecord, schema and dataset packages, so these tests need no Beam run.
type fixture struct {
	encoding    string // image encoding: float32, uint8, png or jpeg
	compression tfrecord.Compression
	index       bool // write DALI index sidecars
	omitKey     bool
	duplicate   bool // give two records the same key
	side        int  // square images of this side; 0: fixtureW x fixtureH
	repeat      int  // write every row this many times (benchmarks); 0: once
}

func (f fixture) size() (w, h int) {
	if f.side > 0 {
		return f.side, f.side
	}
	return fixtureW, fixtureH
}

// fixtureRow is one example of the fixture: split, key and label vectors.
type fixtureRow struct {
	split   string
	shard   int
	key     string
	weather []float32
	ground  []float32
}

var fixtureRows = []fixtureRow{
	{"train", 0, "chip_0", []float32{1, 0, 0, 0}, []float32{1, 1, 0}},
	{"train", 0, "chip_1", []float32{0, 0, 1, 0}, []float32{0, 1, 0}},
	{"train", 0, "chip_2", []float32{0, 1, 0, 0}, []float32{0, 0, 0}},
	{"train", 1, "chip_3", []float32{1, 0, 0, 0}, []float32{1, 1, 1}},
	{"train", 1, "chip_4", []float32{0, 0, 0, 1}, []float32{0, 1, 1}},
	{"validation", 0, "chip_5", []float32{1, 0, 0, 0}, []float32{0, 1, 0}},
	{"validation", 0, "chip_6", []float32{0, 0, 1, 0}, []float32{1, 1, 0}},
}

const fixtureW, fixtureH = 12, 8

// fixtureSpec is a planet-like spec with small images.
func fixtureSpec(t testing.TB, f fixture) *schema.Spec {
	t.Helper()
	enc := f.encoding
	if enc == "" {
		enc = "float32"
	}
	w, h := f.size()
	quality := ""
	if enc == "jpeg" {
		quality = ", jpeg_quality: 90"
	}
	spec := fmt.Sprintf(`name: inspect-test
csv: {key_column: image_name}
labels:
  - {column: weather_labels, kind: list, semantics: onehot, names: [clear, cloudy, haze, partly_cloudy]}
  - {column: ground_labels, kind: list, semantics: multihot, names: [agriculture, primary, water]}
image: {width: %d, height: %d, encoding: %s%s}
key: {omit: %t}
`, w, h, enc, quality, f.omitKey)
	s, err := schema.Parse([]byte(spec), "yaml", "fixture")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixturePixels is record i's image: a colour ramp that differs per record
// and per channel, so a swapped channel or a wrong tile shows.
func fixturePixels(i, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(10*x + 20*i), uint8(25 * y), uint8(200 - 15*i), 0xff})
		}
	}
	return img
}

// encodeFixtureImage stores pixels as the spec's image feature would be.
func encodeFixtureImage(t testing.TB, spec *schema.Spec, img *image.RGBA) []byte {
	t.Helper()
	var out []byte
	switch spec.Image.Encoding {
	case "float32", "uint8":
		for i := 0; i < len(img.Pix); i += 4 {
			for _, v := range img.Pix[i : i+3] {
				if spec.Image.Encoding == "uint8" {
					out = append(out, v)
				} else {
					out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(v)/255))
				}
			}
		}
	case "png":
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		out = b.Bytes()
	case "jpeg":
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		out = b.Bytes()
	}
	return out
}

// writeFixture writes the fixture dataset into a new temporary directory:
// train (2 shards) and validation (1 shard), one rejected row in errors.csv.
func writeFixture(t testing.TB, f fixture) string {
	t.Helper()
	dir := t.TempDir()
	if f.compression == tfrecord.Auto {
		f.compression = tfrecord.None
	}
	spec := fixtureSpec(t, f)
	repeat := max(1, f.repeat)
	w, h := f.size()
	specJSON, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := &dataset.Manifest{
		FormatVersion: dataset.FormatVersion,
		Tool:          "tfprep",
		ToolVersion:   "(devel)",
		CommandLine:   []string{"tfprep", "convert", "(test fixture)"},
		Created:       time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
		Spec:          specJSON,
		Decoder:       "test fixture",
		Seed:          42,
		Compression:   f.compression.String(),
		Index:         f.index,
		Rows:          dataset.Rows{Read: int64(repeat*len(fixtureRows)) + 1, Written: int64(repeat * len(fixtureRows)), Rejected: 1, RejectedByStage: map[dataset.Stage]int64{dataset.StageImage: 1}},
	}
	m.Features = spec.Features()
	shardsOf := map[string]int{"train": 2, "validation": 1}
	for _, split := range []string{"train", "validation"} {
		sp := dataset.Split{Name: split, Fraction: 0.5}
		counts := [][]int64{make([]int64, 4), make([]int64, 3)}
		for shard := range shardsOf[split] {
			name := dataset.ShardName(split, shard, shardsOf[split], f.compression)
			var file, index bytes.Buffer
			opts := &tfrecord.WriterOptions{Compression: f.compression}
			if f.index {
				opts.Index = &index
			}
			tw, err := tfrecord.NewWriter(&file, opts)
			if err != nil {
				t.Fatal(err)
			}
			for rep := range repeat {
				for i, r := range fixtureRows {
					if r.split != split || r.shard != shard {
						continue
					}
					key := r.key
					if f.duplicate && i == 4 {
						key = fixtureRows[0].key
					}
					if repeat > 1 {
						key += "_" + strconv.Itoa(rep)
					}
					row := schema.Row{Line: i + 2, Key: key, Labels: []schema.Label{{Feature: "weather_labels", Values: r.weather}, {Feature: "ground_labels", Values: r.ground}}}
					if err := tw.Write(spec.AppendExample(nil, row, encodeFixtureImage(t, spec, fixturePixels(i, w, h)))); err != nil {
						t.Fatal(err)
					}
					for j, v := range r.weather {
						counts[0][j] += int64(min(v, 1))
					}
					for j, v := range r.ground {
						counts[1][j] += int64(min(v, 1))
					}
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, name), file.Bytes())
			if f.index {
				writeFile(t, filepath.Join(dir, dataset.IndexName(name)), index.Bytes())
			}
			sum := sha256.Sum256(file.Bytes())
			sh := dataset.Shard{File: name, Records: tw.Records(), Bytes: int64(file.Len()), SHA256: hex.EncodeToString(sum[:])}
			sp.Shards = append(sp.Shards, sh)
			sp.Records += sh.Records
			sp.Bytes += sh.Bytes
		}
		sp.Labels = []dataset.LabelCount{
			{Feature: "weather_labels", Names: []string{"clear", "cloudy", "haze", "partly_cloudy"}, Counts: counts[0]},
			{Feature: "ground_labels", Names: []string{"agriculture", "primary", "water"}, Counts: counts[1]},
		}
		m.Splits = append(m.Splits, sp)
	}
	var errs bytes.Buffer
	if err := dataset.WriteErrors(&errs, []dataset.ErrorRecord{{Line: 9, Key: "chip_7", Stage: dataset.StageImage, Reason: "images/chip_7.jpg: imageprep: corrupt JPEG"}}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, dataset.ErrorsName), errs.Bytes())
	if err := dataset.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// damageShard flips one byte inside the data of the shard's second record,
// so its data CRC fails while the records around it stay readable. In a
// compressed shard it flips a byte in the middle of the file.
func damageShard(t testing.TB, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if tfrecord.CompressionFromName(path) != tfrecord.None {
		data[len(data)/2] ^= 0xff
	} else {
		first := int(binary.LittleEndian.Uint64(data)) + 16
		data[first+12+20] ^= 0xff
	}
	writeFile(t, path, data)
}

// editManifest rewrites dir/dataset.json through edit, bypassing validation
// so that inconsistent manifests can be made.
func editManifest(t testing.TB, dir string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, dataset.ManifestName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	data, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, data)
}

// runInspect runs a tfprep command line and returns its exit code and output,
// with the temporary dataset directory replaced by "DIR" so that output can
// be compared with golden files.
func runInspect(t testing.TB, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	clean := func(s string) string {
		if dir == "" {
			return s
		}
		return strings.ReplaceAll(s, dir, "DIR")
	}
	return code, clean(out.String()), clean(errOut.String())
}

// golden compares got with testdata/inspect/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "inspect", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, []byte(got))
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

func TestVerifyDatasetGood(t *testing.T) {
	for _, f := range []fixture{
		{encoding: "float32"},
		{encoding: "uint8", index: true},
		{encoding: "png", compression: tfrecord.GZIP},
		{encoding: "jpeg", compression: tfrecord.ZLIB, omitKey: true},
	} {
		t.Run(f.encoding, func(t *testing.T) {
			dir := writeFixture(t, f)
			r, err := dataset.Verify(context.Background(), dir, true)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || len(r.Discrepancies) != 0 {
				t.Errorf("got discrepancies %v, want none", r.Discrepancies)
			}
			if r.Records != int64(len(fixtureRows)) || r.Shards != 3 || r.Splits != 2 {
				t.Errorf("got %d records, %d shards, %d splits, want %d, 3, 2", r.Records, r.Shards, r.Splits, len(fixtureRows))
			}
		})
	}
}

// TestVerifyDatasetDiscrepancies breaks a good dataset in one way each and
// checks that verify --all names exactly what is wrong.
func TestVerifyDatasetDiscrepancies(t *testing.T) {
	const train0 = "train-00000-of-00002.tfrecord"
	tests := []struct {
		name   string
		f      fixture
		break_ func(t *testing.T, dir string)
		want   []string // "file check" of every discrepancy, in order
	}{
		{
			name:   "damaged record",
			break_: func(t *testing.T, dir string) { damageShard(t, filepath.Join(dir, train0)) },
			want:   []string{train0 + " crc", train0 + " records", train0 + " sha256"},
		},
		{
			name: "truncated shard",
			break_: func(t *testing.T, dir string) {
				path := filepath.Join(dir, train0)
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, fi.Size()-5); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{train0 + " bytes", train0 + " crc", train0 + " records", train0 + " sha256"},
		},
		{
			name: "damaged gzip shard",
			f:    fixture{compression: tfrecord.GZIP},
			break_: func(t *testing.T, dir string) {
				damageShard(t, filepath.Join(dir, train0+".gz"))
			},
			// A data CRC mismatch inside the stream, then gzip's own checksum.
			want: []string{train0 + ".gz crc", train0 + ".gz crc", train0 + ".gz records", train0 + ".gz sha256"},
		},
		{
			name:   "missing shard",
			break_: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, train0)) },
			want:   []string{train0 + " missing"},
		},
		{
			name: "stray shard",
			break_: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "train-00000-of-00003.tfrecord"), nil)
			},
			want: []string{"train-00000-of-00003.tfrecord unlisted"},
		},
		{
			name: "errors.csv short",
			break_: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, dataset.ErrorsName), []byte("line,key,stage,reason\n"))
			},
			want: []string{"errors.csv errors.csv"},
		},
		{
			name: "errors.csv missing",
			break_: func(t *testing.T, dir string) {
				os.Remove(filepath.Join(dir, dataset.ErrorsName))
			},
			want: []string{"errors.csv errors.csv"},
		},
		{
			name: "row invariant",
			break_: func(t *testing.T, dir string) {
				editManifest(t, dir, func(m map[string]any) { m["rows"].(map[string]any)["read"] = 9.0 })
			},
			want: []string{"dataset.json manifest"},
		},
		{
			name: "record count",
			break_: func(t *testing.T, dir string) {
				editManifest(t, dir, func(m map[string]any) {
					sp := m["splits"].([]any)[1].(map[string]any)
					sp["shards"].([]any)[0].(map[string]any)["records"] = 3.0
					sp["records"] = 3.0
					m["rows"].(map[string]any)["written"] = 8.0
					m["rows"].(map[string]any)["read"] = 9.0
				})
			},
			want: []string{"validation-00000-of-00001.tfrecord records"},
		},
		{
			name: "wrong image size in spec",
			break_: func(t *testing.T, dir string) {
				editManifest(t, dir, func(m map[string]any) {
					m["spec"].(map[string]any)["image"].(map[string]any)["width"] = 10.0
				})
			},
			want: []string{"dataset.json features", train0 + " example", train0 + " example", train0 + " example",
				"train-00001-of-00002.tfrecord example", "train-00001-of-00002.tfrecord example",
				"validation-00000-of-00001.tfrecord example", "validation-00000-of-00001.tfrecord example"},
		},
		{
			name: "label counts",
			break_: func(t *testing.T, dir string) {
				editManifest(t, dir, func(m map[string]any) {
					sp := m["splits"].([]any)[0].(map[string]any)
					sp["labels"].([]any)[1].(map[string]any)["counts"] = []any{2.0, 4.0, 9.0}
				})
			},
			want: []string{"dataset.json labels"},
		},
		{
			name: "index sidecar",
			f:    fixture{index: true},
			break_: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, dataset.IndexName(train0)), []byte("0 100\n"))
			},
			want: []string{train0 + ".idx index"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFixture(t, tt.f)
			tt.break_(t, dir)
			r, err := dataset.Verify(context.Background(), dir, true)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range r.Discrepancies {
				got = append(got, d.File+" "+d.Check)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("discrepancies (-want +got):\n%s\nall: %v", diff, r.Discrepancies)
			}
			if r.OK || !r.Complete {
				t.Errorf("got ok=%t complete=%t, want false, true", r.OK, r.Complete)
			}
			first, err := dataset.Verify(context.Background(), dir, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Discrepancies) != 1 || first.Discrepancies[0] != r.Discrepancies[0] {
				t.Errorf("without --all: got %v, want only %v", first.Discrepancies, r.Discrepancies[0])
			}
		})
	}
}

func TestVerifyDatasetCancelled(t *testing.T) {
	dir := writeFixture(t, fixture{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := dataset.Verify(ctx, dir, true); !errors.Is(err, context.Canceled) {
		t.Errorf("got error %v, want context.Canceled", err)
	}
}

func BenchmarkVerifyDataset(b *testing.B) {
	ds, size := benchDataset(b)
	b.SetBytes(size)
	var images int64
	for b.Loop() {
		r, err := dataset.Verify(context.Background(), ds.Location, true)
		if err != nil || !r.OK {
			b.Fatalf("got %v, %v", err, r.Discrepancies)
		}
		images += r.Records
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

func TestRunVerifyDataset(t *testing.T) {
	good := writeFixture(t, fixture{})
	damaged := writeFixture(t, fixture{})
	damageShard(t, filepath.Join(damaged, "train-00000-of-00002.tfrecord"))
	tests := []struct {
		name     string
		dir      string
		all      bool
		json     bool
		wantCode int
		golden   string
	}{
		{"good", good, false, false, ExitOK, "verify_good.txt"},
		{"good json", good, false, true, ExitOK, "verify_good.json"},
		{"damaged first", damaged, false, false, ExitError, "verify_damaged.txt"},
		{"damaged all", damaged, true, false, ExitError, "verify_damaged_all.txt"},
		{"damaged all json", damaged, true, true, ExitError, "verify_damaged_all.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := exitCode(&stderr, "verify", runVerifyDataset(context.Background(), &Env{Stdout: &stdout, Stderr: &stderr}, tt.dir, tt.all, false, tt.json))
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			golden(t, tt.golden, strings.ReplaceAll(stdout.String(), tt.dir, "DIR"))
		})
	}
}

// TestInspectConverted runs verify, stats and preview on a dataset written
// by the converter, then on the same dataset with a damaged shard.
func TestInspectConverted(t *testing.T) {
	dir := convertChips(t)
	sheet := filepath.Join(t.TempDir(), "sheet.png")
	commands := [][]string{
		{"verify", dir},
		{"stats", dir},
		{"preview", dir, "-o", sheet},
	}
	for _, args := range commands {
		if code, stdout, stderr := runInspect(t, dir, args...); code != ExitOK {
			t.Errorf("%s: got exit %d, want 0\n%s%s", args[0], code, stdout, stderr)
		}
	}
	code, stdout, _ := runInspect(t, dir, "stats", "--json", dir)
	var st dataset.Statistics
	if err := json.Unmarshal([]byte(stdout), &st); code != ExitOK || err != nil {
		t.Fatalf("stats --json: exit %d, %v", code, err)
	}
	if len(st.Splits) != 1 || st.Splits[0].Records != 2 || len(st.Duplicates) != 0 {
		t.Errorf("got %+v, want one split of 2 records, no duplicate keys", st)
	}
	for _, ls := range st.Splits[0].Labels {
		if !cmp.Equal(ls.Counts, ls.ManifestCounts) {
			t.Errorf("%s: counted %v, the converter recorded %v", ls.Feature, ls.Counts, ls.ManifestCounts)
		}
	}

	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	damageShard(t, filepath.Join(dir, m.Splits[0].Shards[0].File))
	for _, tt := range []struct {
		args []string
		want int
	}{
		{commands[0], ExitError},
		{commands[1], ExitPartial},
		{commands[2], ExitPartial},
	} {
		code, stdout, stderr := runInspect(t, dir, tt.args...)
		if code != tt.want {
			t.Errorf("damaged %s: got exit %d, want %d\n%s%s", tt.args[0], code, tt.want, stdout, stderr)
		}
		if !strings.Contains(stdout+stderr, m.Splits[0].Shards[0].File) {
			t.Errorf("damaged %s: output does not name the shard:\n%s%s", tt.args[0], stdout, stderr)
		}
	}
}

// TestRunVerifyDatasetQuick runs "verify --quick DIR": sizes and checksums
// only (this fixture's manifest records SHA-256, so each shard is read).
func TestRunVerifyDatasetQuick(t *testing.T) {
	dir := writeFixture(t, fixture{})
	var stdout, stderr bytes.Buffer
	if code := exitCode(&stderr, "verify", runVerifyDataset(context.Background(), &Env{Stdout: &stdout, Stderr: &stderr}, dir, true, true, false)); code != ExitOK {
		t.Fatalf("good: got exit %d, want 0: %s%s", code, stdout.String(), stderr.String())
	}
	damageShard(t, filepath.Join(dir, "train-00000-of-00002.tfrecord"))
	stdout.Reset()
	code := exitCode(&stderr, "verify", runVerifyDataset(context.Background(), &Env{Stdout: &stdout, Stderr: &stderr}, dir, true, true, false))
	if code != ExitError || !strings.Contains(stdout.String(), "train-00000-of-00002.tfrecord: sha256: file has") {
		t.Errorf("damaged: got exit %d, want 1 naming the shard's sha256:\n%s", code, stdout.String())
	}
	if err := runVerify(context.Background(), &Env{Stdout: &stdout, Stderr: &stderr}, []string{filepath.Join(dir, "train-00000-of-00002.tfrecord")}, tfrecord.VerifyOptions{}, true, false); !errors.As(err, new(*usageError)) {
		t.Errorf("--quick on files: got %v, want a usage error", err)
	}
}

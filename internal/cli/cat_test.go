package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// catLine is one line of "tfprep cat" output, decoded.
type catLine struct {
	Record    int64
	Offset    int64
	Features  map[string]catFeature
	Order     []string // feature names in output order
	RawLen    int      `json:"raw_len"`
	RawBase64 string   `json:"raw_base64"`
}

type catFeature struct {
	Kind   string            `json:"kind"`
	Values []json.RawMessage `json:"values"`
}

func parseCatOutput(t *testing.T, out string) []catLine {
	t.Helper()
	var lines []catLine
	for i, text := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var l catLine
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%.300s", i+1, err, text)
		}
		// The order of the keys, which a map forgets.
		var doc struct{ Features json.RawMessage }
		json.Unmarshal([]byte(text), &doc)
		if len(doc.Features) > 0 {
			dec := json.NewDecoder(bytes.NewReader(doc.Features))
			dec.Token() // {
			for dec.More() {
				key, _ := dec.Token()
				l.Order = append(l.Order, key.(string))
				var skip json.RawMessage
				dec.Decode(&skip)
			}
		}
		lines = append(lines, l)
	}
	return lines
}

// manifestKinds maps the manifest's value types to cat's kinds.
var manifestKinds = map[string]string{"int64": "int64_list", "float": "float_list", "bytes": "bytes_list", "empty": "none"}

// checkManifestFeatures compares one record's cat output with the manifest's
// decoded values. The manifest may list only the first values of a long
// list; long bytes values it gives as length, SHA-256 and format.
func checkManifestFeatures(t *testing.T, what string, want map[string]manifestFeature, got catLine) {
	t.Helper()
	if len(got.Features) != len(want) {
		t.Errorf("%s: got features %v, want %d features", what, got.Order, len(want))
	}
	for name, wf := range want {
		gf, ok := got.Features[name]
		if !ok {
			t.Errorf("%s: feature %q missing", what, name)
			continue
		}
		if gf.Kind != manifestKinds[wf.Type] {
			t.Errorf("%s: %s: got kind %s, want %s", what, name, gf.Kind, manifestKinds[wf.Type])
		}
		if len(gf.Values) < len(wf.Values) {
			t.Errorf("%s: %s: got %d values, want at least %d", what, name, len(gf.Values), len(wf.Values))
			continue
		}
		for i, wv := range wf.Values {
			if d := compareValue(wf.Type, wv, gf.Values[i]); d != "" {
				t.Errorf("%s: %s[%d]: %s", what, name, i, d)
			}
		}
	}
}

func compareValue(typ string, want, got json.RawMessage) string {
	switch typ {
	case "int64":
		if string(want) != string(got) {
			return fmt.Sprintf("got %s, want %s", got, want)
		}
	case "float":
		w, err1 := strconv.ParseFloat(string(want), 32)
		g, err2 := strconv.ParseFloat(string(got), 32)
		if err1 != nil || err2 != nil || float32(w) != float32(g) {
			return fmt.Sprintf("got %s, want %s (as float32)", got, want)
		}
	case "bytes":
		var ws string
		if json.Unmarshal(want, &ws) == nil {
			if string(want) != string(got) {
				return fmt.Sprintf("got %s, want %s", got, want)
			}
			return ""
		}
		var w struct {
			Len        int
			SHA256     string
			StartsWith string `json:"starts_with"`
		}
		var g struct {
			Len    int
			SHA256 string
			Format string
		}
		json.Unmarshal(want, &w)
		if err := json.Unmarshal(got, &g); err != nil || g.Len != w.Len || !strings.HasPrefix(w.SHA256, g.SHA256) || len(g.SHA256) != 16 || g.Format != w.StartsWith {
			return fmt.Sprintf("got %s, want len %d, sha256 %.16s, format %s", got, w.Len, w.SHA256, w.StartsWith)
		}
	}
	return ""
}

// Every record of every corpus file, decoded by cat, is what the manifest
// says: counts, raw payloads, first and last records, key order, per-feature
// kinds and list lengths, label distributions, ids and image sizes.
func TestCatCorpusManifest(t *testing.T) {
	entries := readCorpusManifest(t)
	t.Chdir(corpusDir)
	for _, e := range entries {
		t.Run(e.File, func(t *testing.T) {
			code, stdout, stderr := runTool(t, "cat", e.File)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := parseCatOutput(t, stdout)
			if int64(len(lines)) != e.RecordCount {
				t.Fatalf("got %d records, want %d", len(lines), e.RecordCount)
			}
			starts := recordStarts(e.Lengths)
			for i := range e.Lengths {
				if lines[i].Record != int64(i) || lines[i].Offset != starts[i] {
					t.Errorf("line %d: got record %d at offset %d, want record %d at %d", i, lines[i].Record, lines[i].Offset, i, starts[i])
				}
			}
			if e.Records != nil { // raw, not Examples
				for i, want := range e.Records {
					got, err := base64.StdEncoding.DecodeString(lines[i].RawBase64)
					if err != nil || string(got) != want || lines[i].RawLen != len(want) {
						t.Errorf("record %d: got raw %q (len %d), want %q", i, got, lines[i].RawLen, want)
					}
				}
				return
			}
			checkManifestFeatures(t, "first record", e.First, lines[0])
			checkManifestFeatures(t, "last record", e.Last, lines[len(lines)-1])
			if !slices.Equal(lines[0].Order, e.KeyOrder) {
				t.Errorf("first record's key order: got %v, want %v", lines[0].Order, e.KeyOrder)
			}
			checkFeatureStats(t, e, lines)
			checkRecordFacts(t, e, lines)
		})
	}
}

// checkFeatureStats compares, per feature, the records it is present in,
// its kinds and its shortest and longest list.
func checkFeatureStats(t *testing.T, e corpusEntry, lines []catLine) {
	t.Helper()
	type stats struct {
		present, minLen, maxLen int
		kinds                   []string
	}
	got := map[string]*stats{}
	for _, l := range lines {
		for name, f := range l.Features {
			s := got[name]
			if s == nil {
				s = &stats{minLen: math.MaxInt}
				got[name] = s
			}
			s.present++
			s.minLen, s.maxLen = min(s.minLen, len(f.Values)), max(s.maxLen, len(f.Values))
			if !slices.Contains(s.kinds, f.Kind) {
				s.kinds = append(s.kinds, f.Kind)
			}
		}
	}
	for name, w := range e.Features {
		s := got[name]
		if s == nil {
			t.Errorf("feature %s: never seen", name)
			continue
		}
		var wantKinds []string
		for _, k := range w.Types {
			if strings.HasPrefix(k, "none") {
				k = "none"
			}
			wantKinds = append(wantKinds, k)
		}
		slices.Sort(wantKinds)
		slices.Sort(s.kinds)
		gotStats := fmt.Sprintf("in %d records, %d..%d values, kinds %v", s.present, s.minLen, s.maxLen, s.kinds)
		wantStats := fmt.Sprintf("in %d records, %d..%d values, kinds %v", w.PresentIn, w.MinLen, w.MaxLen, wantKinds)
		if gotStats != wantStats {
			t.Errorf("feature %s: got %s, want %s", name, gotStats, wantStats)
		}
	}
	if len(got) != len(e.Features) {
		t.Errorf("got %d distinct features, want %d", len(got), len(e.Features))
	}
}

// checkRecordFacts checks the manifest's per-file extras.
func checkRecordFacts(t *testing.T, e corpusEntry, lines []catLine) {
	t.Helper()
	distribution := func(feature string) map[string]int {
		d := map[string]int{}
		for _, l := range lines {
			d[string(l.Features[feature].Values[0])]++
		}
		return d
	}
	values := func(feature string, n int) []string {
		var vs []string
		for _, l := range lines[:n] {
			var s string
			json.Unmarshal(l.Features[feature].Values[0], &s)
			vs = append(vs, s)
		}
		return vs
	}
	for feature, want := range map[string]map[string]int{"label": e.Labels, "image_class": e.ImageClasses, "species": e.Species} {
		if want != nil {
			if diff := cmp.Diff(want, distribution(feature)); diff != "" {
				t.Errorf("%s distribution (-want +got):\n%s", feature, diff)
			}
		}
	}
	if e.IDsFirst10 != nil {
		if diff := cmp.Diff(e.IDsFirst10, values("id", 10)); diff != "" {
			t.Errorf("ids (-want +got):\n%s", diff)
		}
	}
	if e.Filenames != nil {
		if diff := cmp.Diff(e.Filenames, values("image/filename", len(lines))); diff != "" {
			t.Errorf("filenames (-want +got):\n%s", diff)
		}
	}
	if e.HeightsWidths != nil {
		prefix := ""
		if _, ok := lines[0].Features["image/height"]; ok {
			prefix = "image/"
		}
		var got [][2]int64
		for _, l := range lines {
			h, _ := strconv.ParseInt(string(l.Features[prefix+"height"].Values[0]), 10, 64)
			w, _ := strconv.ParseInt(string(l.Features[prefix+"width"].Values[0]), 10, 64)
			got = append(got, [2]int64{h, w})
		}
		if diff := cmp.Diff(e.HeightsWidths, got); diff != "" {
			t.Errorf("heights and widths (-want +got):\n%s", diff)
		}
	}
}

// The first records of every corpus file, as people see them.
func TestCatCorpusGolden(t *testing.T) {
	entries := readCorpusManifest(t)
	t.Chdir(corpusDir)
	for _, e := range entries {
		t.Run(e.File, func(t *testing.T) {
			code, stdout, stderr := runTool(t, "cat", "--limit", "2", e.File)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			checkGolden(t, "cat-"+e.File+".jsonl", stdout)
		})
	}
}

// writeRecords writes a TFRecord file of the given payloads.
func writeRecords(t *testing.T, path string, compression tfrecord.Compression, records ...[]byte) {
	t.Helper()
	var buf bytes.Buffer
	w, err := tfrecord.NewWriter(&buf, &tfrecord.WriterOptions{Compression: compression})
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
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Values JSON cannot show directly: NaN and infinities, control characters,
// invalid UTF-8, long strings, binary and image bytes, raw records.
func TestCatSpecialValues(t *testing.T) {
	t.Chdir(t.TempDir())
	long := strings.Repeat("long text ", 10)
	binary := []byte{0, 1, 2, 0xff, 0xfe}
	jpegLike := append([]byte{0xff, 0xd8, 0xff, 0xe0}, make([]byte, 100)...)
	rawLong := bytes.Repeat([]byte{0xee}, 100)
	writeRecords(t, "special.tfrecord.zz", tfrecord.ZLIB,
		example.AppendExample(nil, []example.Feature{
			example.FloatFeature("floats", float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0.1, -0, 1e-45, 3.4028235e38),
			example.Int64Feature("ints", math.MinInt64, -1, 0, math.MaxInt64),
			example.StringFeature("strings", "plain", "a<b & \"c\"", "tab\tnewline\n", "é ü 日本", "", long),
			example.BytesFeature("binary", binary, []byte("bad \xff utf8"), []byte("bell\a"), jpegLike),
			{Name: "no kind"},
			example.FloatFeature("empty floats"),
			example.StringFeature("名前", "x"),
		}),
		[]byte("foo"),
		rawLong,
		nil, // an empty record: an Example with no features, shown raw
	)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"default", nil},
		{"full", []string{"--full"}},
		{"limit", []string{"--limit", "2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, append(append([]string{"cat"}, tt.args...), "special.tfrecord.zz")...)
			if code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			parseCatOutput(t, stdout) // every line is valid JSON
			checkGolden(t, "cat-special-"+tt.name+".jsonl", stdout)
		})
	}

	// The summaries identify the bytes: sha256 prefix, and --full gives them back.
	_, stdout, _ := runTool(t, "cat", "special.tfrecord.zz")
	sum := sha256.Sum256(jpegLike)
	if want := fmt.Sprintf(`{"len":104,"sha256":"%s","format":"jpeg"}`, hex.EncodeToString(sum[:8])); !strings.Contains(stdout, want) {
		t.Errorf("got %s, want the JPEG-like value summarised as %s", stdout, want)
	}
	_, stdout, _ = runTool(t, "cat", "--full", "special.tfrecord.zz")
	lines := parseCatOutput(t, stdout)
	var got struct{ Base64 string }
	json.Unmarshal(lines[0].Features["binary"].Values[3], &got)
	if b, err := base64.StdEncoding.DecodeString(got.Base64); err != nil || !bytes.Equal(b, jpegLike) {
		t.Errorf("--full: got %q, want the value's bytes in base64", got.Base64)
	}
	if b, _ := base64.StdEncoding.DecodeString(lines[2].RawBase64); !bytes.Equal(b, rawLong) {
		t.Errorf("--full raw record: got %q, want the record's bytes", lines[2].RawBase64)
	}
}

func TestCatDamaged(t *testing.T) {
	t.Chdir(t.TempDir())
	good, err := os.ReadFile(corpusDir + "/ecosystem_hadoop_tf-records_part-m-00000")
	if err != nil {
		t.Fatal(err)
	}
	good[86+12+5] ^= 1 // in record 2's data
	if err := os.WriteFile("flipped.tfrecord", good, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runTool(t, "cat", "flipped.tfrecord")
	if code != ExitError || len(parseCatOutput(t, stdout)) != 2 || !strings.Contains(stderr, "flipped.tfrecord:86 (record 2): corrupt record") {
		t.Errorf("got exit %d, stdout\n%s\nstderr %s\nwant exit 1 after 2 records, naming flipped.tfrecord:86 (record 2)", code, stdout, stderr)
	}
}

func TestCatUsage(t *testing.T) {
	t.Chdir(corpusDir)
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"cat"}, ExitUsage, "want one FILE, got 0 arguments"},
		{[]string{"cat", "a", "b"}, ExitUsage, "want one FILE, got 2 arguments"},
		{[]string{"cat", "--limit", "-1", "beam_python_foo.tfrecord"}, ExitUsage, "--limit -1"},
		{[]string{"cat", "--limit", "x", "beam_python_foo.tfrecord"}, ExitUsage, "invalid value"},
		{[]string{"cat", "absent.tfrecord"}, ExitError, "absent.tfrecord: no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := runTool(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: got exit %d and stderr %q, want %d and %q", tt.args, code, stderr, tt.wantCode, tt.want)
		}
	}
}

// describedLine is one line of "tfprep cat" on a dataset's shard.
type describedLine struct {
	Record    int64
	Key       string
	Image     schema.ImageSummary
	Labels    []schema.LabelDescription
	SpecError string `json:"spec_error"`
	Features  map[string]json.RawMessage
}

// cat on a shard of a converted dataset decodes by the dataset's spec; --raw
// shows the stored features; --spec names another spec, and records that do
// not fit it are shown raw with the reason.
func TestCatDecodesDataset(t *testing.T) {
	for _, enc := range []string{"uint8", "png"} {
		dir := writeFixture(t, fixture{encoding: enc})
		shard := filepath.Join(dir, dataset.ShardName("validation", 0, 1, tfrecord.None))
		decode := func(args ...string) []describedLine {
			t.Helper()
			code, stdout, stderr := runTool(t, append(append([]string{"cat"}, args...), shard)...)
			if code != ExitOK {
				t.Fatalf("%s: cat %q: exit %d: %s", enc, args, code, stderr)
			}
			var lines []describedLine
			for text := range strings.Lines(stdout) {
				var l describedLine
				if err := json.Unmarshal([]byte(text), &l); err != nil {
					t.Fatalf("%s: %v: %s", enc, err, text)
				}
				lines = append(lines, l)
			}
			return lines
		}
		lines := decode()
		if len(lines) != 2 {
			t.Fatalf("%s: got %d lines, want 2", enc, len(lines))
		}
		for i, l := range lines {
			row := fixtureRows[5+i]
			img := fixturePixels(5+i, fixtureW, fixtureH)
			lo, hi := uint8(255), uint8(0)
			var sum float64
			for p := 0; p < len(img.Pix); p += 4 {
				for _, v := range img.Pix[p : p+3] {
					lo, hi, sum = min(lo, v), max(hi, v), sum+float64(v)
				}
			}
			want := describedLine{Record: int64(i), Key: row.key,
				Image: schema.ImageSummary{Feature: "image", Encoding: enc, Bytes: l.Image.Bytes, Shape: []int{fixtureH, fixtureW, 3},
					Min: float32(lo), Max: float32(hi), Mean: float32(sum / float64(fixtureW*fixtureH*3))},
				Labels: []schema.LabelDescription{
					{Feature: "weather_labels", Values: row.weather, Names: setNames(row.weather, "clear", "cloudy", "haze", "partly_cloudy")},
					{Feature: "ground_labels", Values: row.ground, Names: setNames(row.ground, "agriculture", "primary", "water")},
				}}
			if diff := cmp.Diff(want, l); diff != "" {
				t.Errorf("%s: record %d (-want +got):\n%s", enc, i, diff)
			}
		}
		if raw := decode("--raw"); len(raw) != 2 || raw[0].Features == nil || raw[0].Key != "" {
			t.Errorf("%s: --raw: got %+v, want the stored features", enc, raw)
		}
		if other := decode("--spec", "planet"); len(other) != 2 || !strings.Contains(other[0].SpecError, "image") || other[0].Features == nil {
			t.Errorf("%s: --spec planet: got %+v, want the stored features with a spec_error", enc, other)
		}
	}
	if code, _, stderr := runTool(t, "cat", "--raw", "--spec", "planet", "x.tfrecord"); code != ExitUsage || !strings.Contains(stderr, "exclude") {
		t.Errorf("--raw --spec: got exit %d, %s; want a usage error", code, stderr)
	}
}

// setNames returns the names of the set (non-zero) values.
func setNames(values []float32, names ...string) []string {
	out := []string{}
	for i, v := range values {
		if v != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

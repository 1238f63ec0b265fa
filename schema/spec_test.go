package schema

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/imageprep"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
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

func TestPresetsCanonicalJSON(t *testing.T) {
	for _, name := range PresetNames() {
		s := mustPreset(t, name)
		data, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".spec.json", append(data, '\n'))
		features, err := json.MarshalIndent(s.Features(), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, name+".features.json", append(features, '\n'))
	}
}

func TestPresetNames(t *testing.T) {
	if diff := cmp.Diff([]string{"imagefolder", "planet", "planet-tags"}, PresetNames()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := Preset("mnist"); !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "planet-tags") {
		t.Errorf("Preset(mnist): got %v, want ErrInvalidSpec listing the presets", err)
	}
}

// TestPlanetIsTheSeed pins what the seed notebook writes: three bytes
// features, raw float32 128x128x3 image, 4 and 13 label floats.
func TestPlanetIsTheSeed(t *testing.T) {
	s := mustPreset(t, "planet")
	var got []FeatureInfo
	for _, f := range s.Features() {
		if f.Role != "key" {
			got = append(got, f)
		}
	}
	want := []FeatureInfo{
		{Name: "image", Kind: "bytes_list", DType: "float32", Shape: []int{128, 128, 3}, Encoding: "raw", Role: "image"},
		{Name: "weather_labels", Kind: "bytes_list", DType: "float32", Shape: []int{4}, Encoding: "raw", Role: "label"},
		{Name: "ground_labels", Kind: "bytes_list", DType: "float32", Shape: []int{13}, Encoding: "raw", Role: "label"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("planet features (-want +got):\n%s", diff)
	}
	if got := s.ImageOptions().OutputBytes(); got != 196608 {
		t.Errorf("image bytes: got %d, want 196608", got)
	}
}

func TestRoundTrip(t *testing.T) {
	specs := []*Spec{mustPreset(t, "planet"), mustPreset(t, "planet-tags")}
	for _, path := range []string{"testdata/flowers/flowers.yaml", "testdata/flowers/flowers.json"} {
		s, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	for _, s := range specs {
		js, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := Parse(js, "json", "marshalled")
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if diff := cmp.Diff(s, fromJSON); diff != "" {
			t.Errorf("%s: JSON round trip (-want +got):\n%s", s.Name, diff)
		}
		y, err := s.YAML()
		if err != nil {
			t.Fatal(err)
		}
		fromYAML, err := Parse(y, "yaml", "marshalled")
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, y)
		}
		if diff := cmp.Diff(s, fromYAML); diff != "" {
			t.Errorf("%s: YAML round trip (-want +got):\n%s", s.Name, diff)
		}
	}
}

func TestUnknownFieldsAreErrors(t *testing.T) {
	tests := []struct {
		format, doc, want string
	}{
		{"yaml", "name: x\nlabels: [{column: a, kind: class, size: 2}]\nimage: {width: 1, height: 1, colour: rgb}\n", "colour"},
		{"yaml", "name: x\ncsv: {key: image_name}\n", "key"},
		{"json", `{"name": "x", "labels": [{"column": "a", "kind": "class", "size": 2, "vocab": []}]}`, "vocab"},
		{"json", `{"name": "x"} {}`, "after the spec"},
		{"yaml", "name: [", "t.spec"},
		{"toml", "name = 1", "unknown format"},
		{"yaml", "# nothing\n", "empty document"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), tt.format, "t.spec")
		if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "t.spec") {
			t.Errorf("Parse(%q): got %v, want ErrInvalidSpec naming t.spec and %q", tt.doc, err, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	base := func() *Spec {
		return &Spec{
			Name:   "t",
			Labels: []LabelSpec{{Column: "label", Kind: KindClass, Names: []string{"a", "b"}}},
			Image:  ImageSpec{Width: 8, Height: 8},
		}
	}
	tests := []struct {
		name   string
		modify func(s *Spec)
		want   string // "" = valid
	}{
		{"defaults", func(s *Spec) {}, ""},
		{"no name", func(s *Spec) { s.Name = " " }, "name: must not be empty"},
		{"no labels", func(s *Spec) { s.Labels = nil }, "labels: want at least one"},
		{"unknown kind", func(s *Spec) { s.Labels[0].Kind = "regression" }, `labels[0].kind: unknown kind "regression"`},
		{"missing kind", func(s *Spec) { s.Labels[0].Kind = "" }, "labels[0].kind: must be set"},
		{"bad semantics", func(s *Spec) { s.Labels[0].Kind, s.Labels[0].Semantics = KindList, "softmax" }, `labels[0].semantics: unknown semantics "softmax"`},
		{"multihot class", func(s *Spec) { s.Labels[0].Semantics = MultiHot }, "a class label is onehot"},
		{"bad encoding", func(s *Spec) { s.Labels[0].Encoding = "float64" }, `labels[0].encoding: unknown encoding "float64"`},
		{"size mismatch", func(s *Spec) { s.Labels[0].Size = 3 }, "labels[0].size: 3, but 2 names"},
		{"no size", func(s *Spec) { s.Labels[0].Names = nil }, "labels[0].size: want a positive"},
		{"dup name", func(s *Spec) { s.Labels[0].Names = []string{"a", "a"} }, `labels[0].names[1]: duplicate name "a"`},
		{"empty name", func(s *Spec) { s.Labels[0].Names = []string{"a", ""} }, "labels[0].names[1]: empty name"},
		{"tags without names", func(s *Spec) { s.Labels[0] = LabelSpec{Column: "t", Kind: KindTags, Size: 3} }, "labels[0].names: a tags label needs"},
		{"tag with space", func(s *Spec) { s.Labels[0] = LabelSpec{Column: "t", Kind: KindTags, Names: []string{"a b"}} }, "contains the separator"},
		{"separator on list", func(s *Spec) { s.Labels[0].Kind, s.Labels[0].Separator = KindList, ";" }, "labels[0].separator"},
		{"shared column", func(s *Spec) {
			s.Labels = append(s.Labels, LabelSpec{Column: "label", Kind: KindClass, Size: 2, Feature: "other"})
		}, "only tags labels may share a column"},
		{"shared column needs feature", func(s *Spec) {
			s.Labels = []LabelSpec{{Column: "t", Kind: KindTags, Names: []string{"a"}}, {Column: "t", Kind: KindTags, Names: []string{"b"}, Feature: "b"}}
		}, "labels[0].feature: required when several labels"},
		{"duplicate feature", func(s *Spec) { s.Labels[0].Feature = "image" }, `labels[0].feature: feature "image" is already used by image.feature`},
		{"key feature clash", func(s *Spec) { s.Key.Feature = "label" }, `feature "label" is already used by key.feature`},
		{"control char feature", func(s *Spec) { s.Labels[0].Feature = "a\nb" }, "control characters"},
		{"label on key column", func(s *Spec) { s.Labels[0].Column = "image_name" }, `column "image_name" is the key column`},
		{"template without column", func(s *Spec) { s.CSV.ImagePath = "all.jpg" }, "references no column"},
		{"template unclosed", func(s *Spec) { s.CSV.ImagePath = "{image_name.jpg" }, "unclosed '{'"},
		{"template stray brace", func(s *Spec) { s.CSV.ImagePath = "{image_name}}.jpg" }, "unmatched '}'"},
		{"no width", func(s *Spec) { s.Image.Width = 0 }, "image.width: want a positive number of pixels, got 0"},
		{"bad filter", func(s *Spec) { s.Image.Filter = "cubic" }, "image.filter"},
		{"bad color mode", func(s *Spec) { s.Image.ColorMode = "cmyk" }, "image.color_mode"},
		{"bad encoding", func(s *Spec) { s.Image.Encoding = "webp" }, "image.encoding"},
		{"quality without jpeg", func(s *Spec) { s.Image.JPEGQuality = 90 }, "image.jpeg_quality: only for the jpeg"},
		{"quality range", func(s *Spec) { s.Image.Encoding, s.Image.JPEGQuality = "jpeg", 101 }, "image.jpeg_quality: 101"},
		{"rgba jpeg", func(s *Spec) { s.Image.Encoding, s.Image.ColorMode = "jpeg", "rgba" }, "alpha"},
		{"mean on png", func(s *Spec) {
			s.Image.Encoding, s.Image.Mean, s.Image.Std = "png", []float32{0, 0, 0}, []float32{1, 1, 1}
		}, "normalisation needs the float32"},
		{"mean length", func(s *Spec) { s.Image.Mean, s.Image.Std = []float32{0}, []float32{1} }, "one mean and one std per channel (3)"},
		{"zero std", func(s *Spec) { s.Image.Mean, s.Image.Std = []float32{0, 0, 0}, []float32{1, 0, 1} }, "std[1] = 0"},
		{"several problems", func(s *Spec) { s.Name, s.Image.Filter = "", "x" }, "name: must not be empty\n  image.filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base()
			tt.modify(s)
			err := s.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant ErrInvalidSpec containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	s := &Spec{Name: "d", Labels: []LabelSpec{{Column: "c", Kind: KindClass, Names: []string{"x", "y"}}, {Column: "l", Kind: KindList, Size: 3}},
		Image: ImageSpec{Width: 4, Height: 2, Filter: "Bilinear", Encoding: "JPEG"}}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := &Spec{
		Name:   "d",
		Source: SourceCSV,
		CSV:    CSV{KeyColumn: "image_name", ImagePath: "{image_name}.jpg"},
		Labels: []LabelSpec{
			{Column: "c", Kind: KindClass, Semantics: OneHot, Names: []string{"x", "y"}, Size: 2, Feature: "c", Encoding: RawFloat32},
			{Column: "l", Kind: KindList, Semantics: MultiHot, Names: []string{}, Size: 3, Feature: "l", Encoding: RawFloat32},
		},
		Image: ImageSpec{Feature: "image", Width: 4, Height: 2, ColorMode: "rgb", Filter: "bilinear", Encoding: "jpeg", JPEGQuality: 95,
			Mean: []float32{}, Std: []float32{}},
		Key: KeySpec{Feature: "image_name"},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		arg      string
		wantName string
		wantErr  string
	}{
		{"planet", "planet", ""},
		{"planet-tags", "planet-tags", ""},
		{"testdata/flowers/flowers.yaml", "flowers", ""},
		{"testdata/flowers/flowers.json", "flowers-json", ""},
		{dir, "", "is a directory"},
		{"plane", "", `"plane" is neither a preset (imagefolder, planet, planet-tags) nor a file`},
		{"testdata/missing.yaml", "", "no such file"},
		{"testdata/flowers/flowers.csv", "", "unknown spec file extension"},
	}
	for _, tt := range tests {
		s, err := Resolve(tt.arg)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q): got %v, want an error containing %q", tt.arg, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.arg, err)
			continue
		}
		if s.Name != tt.wantName {
			t.Errorf("Resolve(%q): got spec %q, want %q", tt.arg, s.Name, tt.wantName)
		}
	}
}

func TestLabelFeatures(t *testing.T) {
	s := mustPreset(t, "planet-tags")
	want := []LabelInfo{
		{Feature: "weather_labels", Names: planetWeather, Size: 4, Semantics: OneHot, Encoding: RawFloat32},
		{Feature: "ground_labels", Names: planetGround, Size: 13, Semantics: MultiHot, Encoding: RawFloat32},
	}
	if diff := cmp.Diff(want, s.LabelFeatures()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestImageOptions(t *testing.T) {
	s, err := Load("testdata/flowers/flowers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := imageprep.Options{Width: 96, Height: 96, Filter: imageprep.Bilinear, ColorMode: imageprep.RGB,
		KeepAspectRatio: true, ApplyOrientation: true, Encoding: imageprep.PNG}
	if diff := cmp.Diff(want, s.ImageOptions()); diff != "" {
		t.Errorf("flowers (-want +got):\n%s", diff)
	}
	s.Image.Encoding, s.Image.ColorMode, s.Image.Mean, s.Image.Std = "float32", "grayscale", []float32{0.5}, []float32{0.25}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want.Encoding, want.ColorMode, want.Mean, want.Std = imageprep.Float32, imageprep.Grayscale, []float32{0.5}, []float32{0.25}
	if diff := cmp.Diff(want, s.ImageOptions()); diff != "" {
		t.Errorf("normalised grayscale (-want +got):\n%s", diff)
	}
	if err := s.ImageOptions().Validate(); err != nil {
		t.Errorf("imageprep rejects the options of a valid spec: %v", err)
	}
}

// TestParseListsEveryProblem checks that one Parse reports every unknown
// field, repeated field and wrongly typed value with its YAML path and line,
// in YAML and in JSON, together with what Validate finds, and never a Go
// type name.
func TestParseListsEveryProblem(t *testing.T) {
	tests := []struct {
		format, doc string
		want        []Problem
	}{
		{"yaml", `name: t
strict: yes
csv:
  key_colum: file
labels:
  - column: y
    kind: class
    size: two
    strict: true
    names: [a, {b: 1}]
  - column: z
    kind: category
image: {width: "abc", height: 8, colour_mode: rgb, mean: [1, x]}
key: {feature: image}
foo: 1
`, []Problem{
			{"strict", 2, `want true or false, got "yes"`},
			{"csv.key_colum", 4, "unknown field; did you mean key_column?"},
			{"labels[0].size", 8, `want an integer, got "two"`},
			{"labels[0].strict", 9, "unknown field; did you mean strict at the top level?"},
			{"labels[0].names[1]", 10, "want a text value, got a mapping"},
			{"image.width", 13, `want an integer, got "abc"`},
			{"image.colour_mode", 13, "unknown field; did you mean color_mode?"},
			{"image.mean[1]", 13, `want a number, got "x"`},
			{"foo", 15, "unknown field; top-level fields: name, description, strict, source, csv, labels, image, key"},
			{"key.feature", 0, `feature "image" is already used by image.feature`},
			{"labels[1].kind", 0, `unknown kind "category", want list, tags or class`},
			{"labels[1].size", 0, "want a positive vector length (or names)"},
			{"image.mean", 0, "want one mean and one std per channel (3), got 1 and 0"},
		}},
		{"json", `{"name": "t",
 "labels": [{"column": "y", "kind": "class",
    "Size": 2, "size": 2.5, "separator": 1}],
 "image": {"width": 8, "height": 8, "keep_aspect_ratio": "yes"},
 "image": {"width": 8},
 "key": [],
 "csv": {"image_path": "{id}", "key_column": "id", "key_column": "x"}
}`, []Problem{
			{"labels[0].Size", 3, "unknown field; did you mean size?"},
			{"labels[0].size", 3, `want an integer, got "2.5"`},
			{"image.keep_aspect_ratio", 4, `want true or false, got "yes"`},
			{"image", 5, "given twice (first on line 4)"},
			{"key", 6, "want a mapping of fields, got a list"},
			{"csv.key_column", 7, "given twice (first on line 7)"},
			// Found by Validate: a number reads as the text "1".
			{"labels[0].separator", 0, "only tags labels are split"},
		}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.doc), tt.format, "t."+tt.format)
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("%s: got %v, want a *SpecError", tt.format, err)
		}
		if se.Source != "t."+tt.format || se.Name != "t" {
			t.Errorf("%s: got source %q name %q, want t.%s and t", tt.format, se.Source, se.Name, tt.format)
		}
		if diff := cmp.Diff(tt.want, se.Problems); diff != "" {
			t.Errorf("%s problems (-want +got):\n%s", tt.format, diff)
		}
		if strings.Contains(err.Error(), "schema.") || strings.Contains(err.Error(), "type ") {
			t.Errorf("%s: message names Go types: %v", tt.format, err)
		}
	}
}

func TestSpecErrorMessage(t *testing.T) {
	_, err := Parse([]byte("name: x\nimage: {colour: rgb, width: 1, height: 1}\nlabels: [{column: a, kind: class, size: 2}]\n"), "yaml", "my.yaml")
	want := "my.yaml: schema: invalid spec \"x\":\n  image.colour (line 2): unknown field; did you mean color_mode?"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestSpecReference keeps the field table of docs/SPEC.md equal to
// FieldReference, and the table complete: every field of Spec documented,
// nothing documented that Spec lacks.
func TestSpecReference(t *testing.T) {
	paths, _ := specFieldPaths()
	var documented []string
	for _, d := range fieldDocs {
		documented = append(documented, d.Path)
		if d.Doc == "" {
			t.Errorf("field %s has no description", d.Path)
		}
	}
	if diff := cmp.Diff(paths, documented); diff != "" {
		t.Errorf("fieldDocs do not list the fields of Spec in order (-fields +documented):\n%s", diff)
	}

	const path = "../docs/SPEC.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The example spec is valid.
	_, example, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, _ = strings.Cut(example, "```")
	if _, err := Parse([]byte(example), "yaml", path+" example"); !ok || err != nil {
		t.Errorf("%s: the example spec does not parse: %v", path, err)
	}

	begin := strings.Index(string(doc), "<!-- fields:")
	end := strings.Index(string(doc), "<!-- end fields -->")
	if begin < 0 || end < begin {
		t.Fatalf("%s: no <!-- fields: ... --> ... <!-- end fields --> block", path)
	}
	begin += strings.Index(string(doc[begin:]), "\n") + 1
	want := FieldReference()
	if *update {
		updated := string(doc[:begin]) + want + string(doc[end:])
		if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, string(doc[begin:end])); diff != "" {
		t.Errorf("%s field table is stale; run go test ./schema -run TestSpecReference -update (-want +got):\n%s", path, diff)
	}
}

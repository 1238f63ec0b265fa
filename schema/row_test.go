package schema

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeErrors(t *testing.T) {
	planet := mustPreset(t, "planet")
	tags := mustPreset(t, "planet-tags")
	flowers, err := Load("testdata/flowers/flowers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sparse := mustPreset(t, "planet")
	sparse.Labels[0].Encoding = ClassIndex
	strict := mustPreset(t, "planet")
	strict.Strict = true
	planetHeader := []string{"image_name", "weather_labels", "ground_labels"}
	ground := "[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
	tests := []struct {
		name    string
		spec    *Spec
		header  []string
		record  []string
		wantErr error
		column  string
		message string
	}{
		{"short literal", planet, planetHeader, []string{"train_1", "[0, 1, 0]", ground}, ErrLength, "weather_labels", "got 3, want 4"},
		{"long literal", planet, planetHeader, []string{"train_1", "[0, 1, 0, 0]", ground + "x"}, ErrBadLiteral, "ground_labels", "unexpected text"},
		{"not binary", planet, planetHeader, []string{"train_1", "[0, 2, 0, 0]", ground}, ErrNotBinary, "weather_labels", "element 1 is 2"},
		{"fraction", planet, planetHeader, []string{"train_1", "[0, 0.5, 0.5, 0]", ground}, ErrNotBinary, "weather_labels", "element 1 is 0.5"},
		{"two weathers", planet, planetHeader, []string{"train_1", "[1, 1, 0, 0]", ground}, ErrNotOneHot, "weather_labels", "2 values are 1"},
		{"unparsable", planet, planetHeader, []string{"train_1", "[0, 1, 0, O]", ground}, ErrBadLiteral, "weather_labels", `"O" is not a number at byte 10`},
		{"empty cell", planet, planetHeader, []string{"train_1", "", ground}, ErrBadLiteral, "weather_labels", "empty"},
		{"empty key", planet, planetHeader, []string{" ", "[1, 0, 0, 0]", ground}, ErrEmptyKey, "image_name", "empty key"},
		// Latin-1 "é" in a key: dataset.json declares the key feature utf-8.
		{"latin-1 key", planet, planetHeader, []string{"caf\xe9_1", "[1, 0, 0, 0]", ground}, ErrKeyEncoding, "image_name", `value "caf\xe9_1": schema: key is not valid UTF-8 at byte 3`},
		{"truncated utf-8 key", planet, planetHeader, []string{"train_\xe2\x82", "[1, 0, 0, 0]", ground}, ErrKeyEncoding, "image_name", "at byte 6"},
		{"all-zero class index", sparse, planetHeader, []string{"train_1", "[0, 0, 0, 0]", ground}, ErrNotOneHot, "weather_labels", "a class_index label needs exactly one class"},
		{"all-zero strict", strict, planetHeader, []string{"train_1", "[0, 0, 0, 0]", ground}, ErrNotOneHot, "weather_labels", "all values are 0 (strict mode)"},
		{"field count", planet, planetHeader, []string{"train_1", "[1, 0, 0, 0]"}, ErrFieldCount, "", "got 2, want 3"},
		{"path escape", planet, planetHeader, []string{"../etc/passwd", "[1, 0, 0, 0]", ground}, ErrPathEscape, "image_name", "outside the images root"},
		{"absolute path", planet, planetHeader, []string{"/etc/passwd", "[1, 0, 0, 0]", ground}, ErrPathEscape, "image_name", "absolute"},
		{"unknown tag", tags, []string{"image_name", "tags"}, []string{"train_1", "clear primary jungle"}, ErrUnknownTag, "tags", `unknown tag "jungle"; known: clear cloudy`},
		{"two weather tags", tags, []string{"image_name", "tags"}, []string{"train_1", "clear haze"}, ErrNotOneHot, "tags", "2 values are 1"},
		{"unknown class", flowers, []string{"file", "species"}, []string{"a.jpg", "orchid"}, ErrUnknownClass, "species", "want one of daisy, dandelion, roses, sunflowers, tulips or an index 0..4"},
		{"class index range", flowers, []string{"file", "species"}, []string{"a.jpg", "5"}, ErrUnknownClass, "species", "index 0..4"},
		{"class escape", flowers, []string{"file", "species"}, []string{"../../a.jpg", "daisy"}, ErrPathEscape, "file", `"daisy/../../a.jpg"`},
		{"class dotdot", flowers, []string{"file", "species"}, []string{"a.jpg", ".."}, ErrPathEscape, "species", `"../a.jpg"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec, err := tt.spec.NewRowDecoder(tt.header)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = dec.Decode(7, tt.record)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a *FieldError", err)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("got %v, want errors.Is %v", err, tt.wantErr)
			}
			if fe.Line != 7 || fe.Column != tt.column {
				t.Errorf("got line %d column %q, want line 7 column %q", fe.Line, fe.Column, tt.column)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.HasPrefix(err.Error(), "line 7") {
				t.Errorf("got message %q, want it to start with line 7 and contain %q", err, tt.message)
			}
		})
	}
}

func TestNewRowDecoderHeader(t *testing.T) {
	planet := mustPreset(t, "planet")
	hint := `; choose the spec that describes this CSV with --spec, or start one from its header with "tfprep spec init --csv FILE"`
	tests := []struct {
		header   []string
		want     string
		missing  []NeededColumn
		repeated []NeededColumn
	}{
		// Every missing column at once, with what the spec reads it for.
		{[]string{"file", "label"}, `schema: the CSV header [file, label] does not fit the spec "planet": missing columns "image_name" (key, image path), "weather_labels" (label weather_labels), "ground_labels" (label ground_labels)` + hint,
			[]NeededColumn{{"image_name", "key, image path"}, {"weather_labels", "label weather_labels"}, {"ground_labels", "label ground_labels"}}, nil},
		{[]string{"name", "weather_labels", "ground_labels"}, `does not fit the spec "planet": missing column "image_name" (key, image path)` + hint,
			[]NeededColumn{{"image_name", "key, image path"}}, nil},
		{[]string{"image_name", "weather_labels", "ground_labels", "weather_labels"}, `column appearing more than once: "weather_labels" (label weather_labels)` + hint,
			nil, []NeededColumn{{"weather_labels", "label weather_labels"}}},
		{[]string{"ground_labels", "image_name", "ground_labels"}, `missing column "weather_labels" (label weather_labels); column appearing more than once: "ground_labels" (label ground_labels)` + hint,
			[]NeededColumn{{"weather_labels", "label weather_labels"}}, []NeededColumn{{"ground_labels", "label ground_labels"}}},
	}
	for _, tt := range tests {
		_, err := planet.NewRowDecoder(tt.header)
		var he *HeaderError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("header %q: got %v, want a *HeaderError containing %q", tt.header, err, tt.want)
			continue
		}
		if diff := cmp.Diff(tt.missing, he.Missing); diff != "" {
			t.Errorf("header %q: missing (-want +got):\n%s", tt.header, diff)
		}
		if diff := cmp.Diff(tt.repeated, he.Repeated); diff != "" {
			t.Errorf("header %q: repeated (-want +got):\n%s", tt.header, diff)
		}
		if errors.Is(err, ErrMissingColumn) != (len(tt.missing) > 0) || errors.Is(err, ErrRepeatedColumn) != (len(tt.repeated) > 0) {
			t.Errorf("header %q: errors.Is missing %v, repeated %v", tt.header, errors.Is(err, ErrMissingColumn), errors.Is(err, ErrRepeatedColumn))
		}
	}
	// A byte order mark (Excel's CSV export) before the first name is ignored.
	if _, err := planet.NewRowDecoder([]string{"\ufeffimage_name", "weather_labels", "ground_labels"}); err != nil {
		t.Errorf("header with BOM: %v", err)
	}
}

// TestFlowersSpec reads a user spec for another dataset: a class column
// given by name or index, images in per-class folders.
func TestFlowersSpec(t *testing.T) {
	spec, err := Load("testdata/flowers/flowers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rows, warnings := decodeFile(t, spec, "testdata/flowers/flowers.csv")
	if len(warnings) != 0 {
		t.Errorf("got warnings %v", warnings)
	}
	type summary struct {
		Line      int
		ImagePath string
		Label     []float32
	}
	var got []summary
	for _, r := range rows {
		got = append(got, summary{r.Line, r.ImagePath, r.Labels[0].Values})
	}
	want := []summary{
		{2, "daisy/100080576_f52e8ee070_n.jpg", []float32{1, 0, 0, 0, 0}},
		{3, "dandelion/10140303196_b88d3d6cec.jpg", []float32{0, 1, 0, 0, 0}},
		{4, "roses/102501987_3cdb8e5394_n.jpg", []float32{0, 0, 1, 0, 0}},
		{5, "sunflowers/1008566138_6927679c8a.jpg", []float32{0, 0, 0, 1, 0}},
		{6, "tulips/100930342_92e8746431_n.jpg", []float32{0, 0, 0, 0, 1}},
		{7, "4/10172379554_b296050f82_n.jpg", []float32{0, 0, 0, 0, 1}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestImagePathTemplate(t *testing.T) {
	spec := &Spec{
		Name:   "t",
		CSV:    CSV{KeyColumn: "id", ImagePath: "{dir}/{{raw}}/{id}.png"},
		Labels: []LabelSpec{{Column: "y", Kind: KindClass, Size: 2}},
		Image:  ImageSpec{Width: 1, Height: 1},
	}
	dec, err := spec.NewRowDecoder([]string{"id", "dir", "y"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id, dir string
		want    string // "" = ErrPathEscape
	}{
		{"a", "imgs", "imgs/{raw}/a.png"},
		{"a", "imgs/./sub//", "imgs/sub/{raw}/a.png"},
		{"../a", "imgs/x", "imgs/x/a.png"},
		{"../../../a", "imgs/x", "a.png"},
		{"../../../../a", "imgs/x", ""},
		{"a", "/abs", ""},
		{"a", "..", ""},
		{"a\x00b", "imgs", ""},
	}
	for _, tt := range tests {
		row, _, err := dec.Decode(2, []string{tt.id, tt.dir, "1"})
		if tt.want == "" {
			if !errors.Is(err, ErrPathEscape) {
				t.Errorf("id %q dir %q: got %q, %v; want ErrPathEscape", tt.id, tt.dir, row.ImagePath, err)
			}
			continue
		}
		if err != nil || row.ImagePath != tt.want {
			t.Errorf("id %q dir %q: got %q, %v; want %q", tt.id, tt.dir, row.ImagePath, err, tt.want)
		}
	}
}

func TestTagsSeparator(t *testing.T) {
	spec := &Spec{
		Name:   "t",
		Labels: []LabelSpec{{Column: "tags", Kind: KindTags, Names: []string{"cat", "dog", "bird"}, Separator: "|"}},
		Image:  ImageSpec{Width: 1, Height: 1},
	}
	dec, err := spec.NewRowDecoder([]string{"image_name", "tags"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cell string
		want []float32
	}{
		{"cat|dog", []float32{1, 1, 0}},
		{" bird | cat |", []float32{1, 0, 1}},
		{"dog|dog|dog", []float32{0, 1, 0}},
		{"", []float32{0, 0, 0}},
	}
	for _, tt := range tests {
		row, _, err := dec.Decode(2, []string{"x", tt.cell})
		if err != nil {
			t.Errorf("%q: %v", tt.cell, err)
			continue
		}
		if diff := cmp.Diff(tt.want, row.Labels[0].Values); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.cell, diff)
		}
	}
	if _, _, err := dec.Decode(2, []string{"x", "cat dog"}); !errors.Is(err, ErrUnknownTag) {
		t.Errorf(`"cat dog" with separator "|": got %v, want ErrUnknownTag`, err)
	}
}

// FuzzDecodeRow feeds arbitrary CSV text through both Planet presets: no
// panics, every error a *FieldError on the record's line, and every accepted
// row a valid image path and 0/1 vectors of the right lengths.
func FuzzDecodeRow(f *testing.F) {
	f.Add("image_name,weather_labels,ground_labels\ntrain_0,\"[0, 0, 1, 0]\",\"[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]\"\n")
	f.Add("image_name,tags\ntrain_1465,agriculture clear cultivation cultivation habitation primary road\n")
	f.Add("image_name,tags\ntrain_24448,water\n")
	f.Add("image_name,weather_labels,ground_labels\n../x,\"(1,0,0,0,)\",\"[True]+[0]*12\"\n")
	specs := []*Spec{mustPreset(f, "planet"), mustPreset(f, "planet-tags")}
	f.Fuzz(func(t *testing.T, text string) {
		for _, spec := range specs {
			r := csv.NewReader(strings.NewReader(text))
			r.FieldsPerRecord = -1
			header, err := r.Read()
			if err != nil {
				return
			}
			dec, err := spec.NewRowDecoder(header)
			if err != nil {
				continue
			}
			for {
				record, err := r.Read()
				if err == io.EOF {
					break
				}
				if err != nil {
					break
				}
				line, _ := r.FieldPos(0)
				row, _, err := dec.Decode(line, record)
				if err != nil {
					var fe *FieldError
					if !errors.As(err, &fe) || fe.Line != line {
						t.Fatalf("line %d: got %v, want a *FieldError on that line", line, err)
					}
					continue
				}
				if strings.HasPrefix(row.ImagePath, "/") || row.ImagePath == ".." || strings.HasPrefix(row.ImagePath, "../") {
					t.Fatalf("line %d: image path %q escapes", line, row.ImagePath)
				}
				for i, l := range row.Labels {
					if len(l.Values) != spec.Labels[i].Size {
						t.Fatalf("line %d: %s has %d values", line, l.Feature, len(l.Values))
					}
					for _, v := range l.Values {
						if v != 0 && v != 1 {
							t.Fatalf("line %d: %s has value %v", line, l.Feature, v)
						}
					}
				}
			}
		}
	})
}

// TestConcurrentUse shares one spec between goroutines, as the pipeline's
// workers do: each binds its own RowDecoder and encodes Examples. Run with
// -race.
func TestConcurrentUse(t *testing.T) {
	spec := mustPreset(t, "planet-tags")
	done := make(chan error)
	for range 4 {
		go func() {
			dec, err := spec.NewRowDecoder([]string{"image_name", "tags"})
			if err != nil {
				done <- err
				return
			}
			for i := range 50 {
				row, _, err := dec.Decode(i+2, []string{"train_1", "clear primary water"})
				if err != nil {
					done <- err
					return
				}
				spec.AppendExample(nil, row, make([]byte, 16))
				spec.Features()
			}
			done <- spec.Validate()
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestHugeCellsQuotedShort checks that a message about a cell quotes at most
// MaxQuoted bytes of it: errors.csv and the manifest's warnings carry
// messages, and a CSV record may hold a cell of up to a mebibyte.
func TestHugeCellsQuotedShort(t *testing.T) {
	planet := mustPreset(t, "planet")
	header := []string{"image_name", "weather_labels", "ground_labels"}
	ground := "[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
	huge := strings.Repeat("é", 300_000) // 600,000 bytes, two per rune
	dec, err := planet.NewRowDecoder(header)
	if err != nil {
		t.Fatal(err)
	}
	for name, record := range map[string][]string{
		"literal":    {"train_1", "[0, 1, 0, " + huge + "]", ground},
		"number":     {"train_1", "[0, 1, 0, 1" + strings.Repeat("9", 600_000) + "x]", ground},
		"path":       {"../" + huge, "[1, 0, 0, 0]", ground},
		"long list":  {"train_1", "[" + strings.Repeat("0, ", 200_000) + "1]", ground},
		"empty-ish":  {"train_1", strings.Repeat(" ", 600_000), ground},
		"bad ground": {"train_1", "[1, 0, 0, 0]", "[" + huge},
	} {
		_, _, err := dec.Decode(7, record)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if msg := err.Error(); len(msg) > 2*MaxQuoted+200 || !utf8.ValidString(msg) {
			t.Errorf("%s: message of %d bytes (valid UTF-8: %v): %.300s", name, len(msg), utf8.ValidString(msg), msg)
		}
	}
	_, warnings, err := dec.Decode(7, []string{"train_1", "[0, 0, 0, 0" + strings.Repeat(" ", 600_000) + "]", ground})
	if err != nil || len(warnings) != 1 {
		t.Fatalf("all-zero weather with padding: got %v, %v; want one warning", warnings, err)
	}
	if msg := warnings[0].String(); len(msg) > 2*MaxQuoted+200 || !strings.Contains(msg, "(600012 bytes in all)") {
		t.Errorf("warning of %d bytes: %.300s", len(msg), msg)
	}
	if got := QuoteCell("short"); got != `"short"` {
		t.Errorf("QuoteCell(short) = %s", got)
	}
}

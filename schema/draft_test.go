package schema

import (
	"encoding/csv"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readCSV(t *testing.T, path string) (header []string, records [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	all, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all[0], all[1:]
}

// TestDraftPlanet drafts specs from the two real Planet CSVs and checks they
// read every row as the presets do, labels aside from names and order.
func TestDraftPlanet(t *testing.T) {
	header, records := readCSV(t, "testdata/planet/KagglePlanetMCML.csv")
	s, notes, err := Draft("mcml", header, records)
	if err != nil {
		t.Fatal(err)
	}
	want := []LabelSpec{
		{Column: "weather_labels", Kind: KindList, Semantics: OneHot, Names: []string{}, Size: 4, Feature: "weather_labels", Encoding: RawFloat32},
		{Column: "ground_labels", Kind: KindList, Semantics: MultiHot, Names: []string{}, Size: 13, Feature: "ground_labels", Encoding: RawFloat32},
	}
	if diff := cmp.Diff(want, s.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if s.CSV != (CSV{KeyColumn: "image_name", ImagePath: "{image_name}.jpg"}) {
		t.Errorf("csv: got %+v", s.CSV)
	}
	if !strings.Contains(strings.Join(notes, "\n"), `"weather_labels" read as onehot list literals of 4 values`) {
		t.Errorf("notes do not explain the weather label:\n%s", strings.Join(notes, "\n"))
	}

	header, records = readCSV(t, "testdata/planet/train_v2.csv")
	s, _, err = Draft("tags", header, records)
	if err != nil {
		t.Fatal(err)
	}
	tags := append(append([]string{}, planetWeather...), planetGround...)
	l := s.Labels[0]
	if l.Column != "tags" || l.Kind != KindTags || l.Semantics != MultiHot || !cmp.Equal(slices.Sorted(slices.Values(tags)), l.Names) {
		t.Errorf("tags label: got %+v, want multihot tags of the 17 Planet names", l)
	}
	dec, err := s.NewRowDecoder(header)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range records {
		if _, _, err := dec.Decode(i+2, r); err != nil {
			t.Fatalf("the draft rejects a row of the CSV it was drafted from: %v", err)
		}
	}
}

func TestDraftGuesses(t *testing.T) {
	tests := []struct {
		name      string
		csv       string
		key, path string
		labels    []LabelSpec
		note      string
	}{
		{"file and class", "file,label\na.png,cat\nb.png,dog\nc.png,cat\n", "file", "{file}",
			[]LabelSpec{{Column: "label", Kind: KindClass, Semantics: OneHot, Names: []string{"cat", "dog"}, Size: 2, Feature: "label", Encoding: RawFloat32}}, ""},
		{"class index", "id,digit,split\n1,7,train\n2,0,test\n", "id", "{id}.jpg",
			[]LabelSpec{
				{Column: "digit", Kind: KindClass, Semantics: OneHot, Names: []string{}, Size: 8, Feature: "digit", Encoding: RawFloat32},
				{Column: "split", Kind: KindClass, Semantics: OneHot, Names: []string{"test", "train"}, Size: 2, Feature: "split", Encoding: RawFloat32},
			}, ""},
		{"comma tags", "path,labels,notes\nx/a.jpg,\"sky,sea\",\ny/b.jpg,sea,\n", "path", "{path}",
			[]LabelSpec{{Column: "labels", Kind: KindTags, Semantics: MultiHot, Names: []string{"sea", "sky"}, Size: 2, Separator: ",", Feature: "labels", Encoding: RawFloat32}},
			`column "notes" left out: every cell is empty`},
		{"tags with spaces", "image,tags,y\na,\"big dog;cat\",1\n", "image", "{image}.jpg",
			[]LabelSpec{{Column: "y", Kind: KindClass, Semantics: OneHot, Names: []string{}, Size: 2, Feature: "y", Encoding: RawFloat32}},
			`column "tags" left out: tags with spaces inside ("big dog")`},
		{"no rows", "name,a\n", "name", "{name}.jpg",
			[]LabelSpec{{Column: "a", Kind: KindClass, Semantics: OneHot, Names: []string{}, Size: 2, Feature: "a", Encoding: RawFloat32}},
			"no data rows to learn from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all, err := csv.NewReader(strings.NewReader(tt.csv)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			s, notes, err := Draft("d", all[0], all[1:])
			if err != nil {
				t.Fatal(err)
			}
			if s.CSV.KeyColumn != tt.key || s.CSV.ImagePath != tt.path {
				t.Errorf("csv: got %+v, want key %q path %q", s.CSV, tt.key, tt.path)
			}
			if diff := cmp.Diff(tt.labels, s.Labels); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if !strings.Contains(strings.Join(notes, "\n"), tt.note) {
				t.Errorf("notes lack %q:\n%s", tt.note, strings.Join(notes, "\n"))
			}
		})
	}
	if _, _, err := Draft("d", []string{"only"}, nil); err == nil || !strings.Contains(err.Error(), "want a key column and at least one label column") {
		t.Errorf("one column: got %v", err)
	}
	if _, _, err := Draft("d", []string{"file", "empty"}, [][]string{{"a.jpg", ""}}); err == nil || !strings.Contains(err.Error(), "no column of [file, empty] looks like a label") {
		t.Errorf("no label: got %v", err)
	}
}

// TestDraftCSV reads a header and at most maxRows records, skipping one that
// does not parse.
func TestDraftCSV(t *testing.T) {
	text := "file,label\na.jpg,cat\nb.jpg,\"dog\nc.jpg,bird\"x\nd.jpg,fish\ne.jpg,owl\n"
	s, _, err := DraftCSV("d", strings.NewReader(text), 2)
	if err != nil {
		t.Fatal(err)
	}
	// Line 3 opens a quote that line 4 closes badly: one bad record.
	if diff := cmp.Diff([]string{"cat", "fish"}, s.Labels[0].Names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if _, _, err := DraftCSV("d", strings.NewReader(""), 0); err == nil || !strings.Contains(err.Error(), "empty CSV") {
		t.Errorf("empty: got %v", err)
	}
}

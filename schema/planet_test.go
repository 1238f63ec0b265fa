package schema

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeFile decodes every record of a CSV file with spec, failing the test
// on the first error.
func decodeFile(t testing.TB, spec *Spec, path string) ([]Row, []Warning) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := spec.NewRowDecoder(header)
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	var warnings []Warning
	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		line, _ := r.FieldPos(0)
		row, w, err := dec.Decode(line, record)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		rows = append(rows, row)
		warnings = append(warnings, w...)
	}
	return rows, warnings
}

func labelsEqual(a, b []Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Feature != b[i].Feature || !slices.Equal(a[i].Values, b[i].Values) {
			return false
		}
	}
	return true
}

func mustPreset(t testing.TB, name string) *Spec {
	t.Helper()
	s, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPlanetPresetsAgree decodes all 40,479 rows of the seed's CSV with
// "planet" and of Kaggle's raw tags CSV with "planet-tags".
func TestPlanetPresetsAgree(t *testing.T) {
	mcml, mcmlWarnings := decodeFile(t, mustPreset(t, "planet"), "testdata/planet/KagglePlanetMCML.csv")
	tags, tagsWarnings := decodeFile(t, mustPreset(t, "planet-tags"), "testdata/planet/train_v2.csv")
	if len(mcml) != 40479 || len(tags) != 40479 {
		t.Fatalf("got %d and %d rows, want 40479 each", len(mcml), len(tags))
	}
	for i := range mcml {
		if mcml[i].Key != tags[i].Key {
			t.Fatalf("row %d: keys %q and %q differ", i, mcml[i].Key, tags[i].Key)
		}
		// cmp.Diff only on a mismatch: reflection over 40,479 rows is slow under -race.
		if !labelsEqual(mcml[i].Labels, tags[i].Labels) {
			t.Errorf("%s: labels differ (-planet +planet-tags):\n%s", mcml[i].Key, cmp.Diff(mcml[i].Labels, tags[i].Labels))
		}
		if want := mcml[i].Key + ".jpg"; mcml[i].ImagePath != want || tags[i].ImagePath != want {
			t.Errorf("%s: image paths %q, %q, want %q", mcml[i].Key, mcml[i].ImagePath, tags[i].ImagePath, want)
		}
	}

	// The corpus README's counts of 1s per label, computed there with Python.
	wantCounts := map[string]int{
		"clear": 28431, "cloudy": 2089, "haze": 2697, "partly_cloudy": 7261,
		"agriculture": 12315, "artisinal_mine": 339, "bare_ground": 862, "blooming": 332, "blow_down": 98,
		"conventional_mine": 100, "cultivation": 4477, "habitation": 3660, "primary": 37513, "road": 8071,
		"selective_logging": 340, "slash_burn": 209, "water": 7411,
	}
	gotCounts := map[string]int{}
	spec := mustPreset(t, "planet")
	for _, row := range mcml {
		for i, l := range row.Labels {
			for j, v := range l.Values {
				gotCounts[spec.Labels[i].Names[j]] += int(v)
			}
		}
	}
	if diff := cmp.Diff(wantCounts, gotCounts); diff != "" {
		t.Errorf("label counts (-want +got):\n%s", diff)
	}

	// train_24448 has no weather tag: both forms keep it with one warning.
	for _, ws := range [][]Warning{mcmlWarnings, tagsWarnings} {
		if len(ws) != 1 || ws[0].Line != 24448+2 {
			t.Errorf("got warnings %v, want one on line %d (train_24448)", ws, 24448+2)
		}
	}
}

func TestPlanetStrictRejectsAllZeroWeather(t *testing.T) {
	for _, name := range []string{"planet", "planet-tags"} {
		spec := mustPreset(t, name)
		spec.Strict = true
		f, err := os.Open(map[string]string{"planet": "testdata/planet/KagglePlanetMCML.csv", "planet-tags": "testdata/planet/train_v2.csv"}[name])
		if err != nil {
			t.Fatal(err)
		}
		r := csv.NewReader(f)
		header, _ := r.Read()
		dec, err := spec.NewRowDecoder(header)
		if err != nil {
			t.Fatal(err)
		}
		var rejected []string
		for {
			record, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			line, _ := r.FieldPos(0)
			if _, _, err := dec.Decode(line, record); err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) || !errors.Is(err, ErrNotOneHot) {
					t.Errorf("%s: got %v, want a *FieldError wrapping ErrNotOneHot", name, err)
				}
				rejected = append(rejected, record[0])
			}
		}
		f.Close()
		if diff := cmp.Diff([]string{"train_24448"}, rejected); diff != "" {
			t.Errorf("%s strict: rejected rows (-want +got):\n%s", name, diff)
		}
	}
}

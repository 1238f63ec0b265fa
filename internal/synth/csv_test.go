package synth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCSVRoundTrip(t *testing.T) {
	rows := SampleRows(200, 11)
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// The real seed CSV's first lines, byte for byte (see testdata/PROVENANCE.md).
func TestReadSeedCSV(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "seed_head.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ReadCSV(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 10 {
		t.Fatalf("got %d rows, want 10", len(rows))
	}
	want := Row{Name: "train_1", Weather: [4]uint8{1, 0, 0, 0}, Ground: [13]uint8{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}}
	if diff := cmp.Diff(want, rows[1]); diff != "" {
		t.Errorf("train_1 (-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(data), buf.String()); diff != "" {
		t.Errorf("WriteCSV does not reproduce the seed's bytes (-seed +ours):\n%s", diff)
	}
}

func TestReadCSVErrors(t *testing.T) {
	const ok = `"[1, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"`
	tests := []struct {
		name, csv  string
		wantLine   int
		wantColumn string
		wantText   string
	}{
		{"empty", "", 1, "", "empty file"},
		{"no ground column", "image_name,weather_labels\n", 1, "", "no column ground_labels"},
		{"short list", Header + "\na," + ok + "\nb,\"[1, 0]\",\"[]\"\n", 3, "weather_labels", "has 2 values, want 4"},
		{"not a list", Header + "\na,1,\"[]\"\n", 2, "weather_labels", `"1" is not a [..] list`},
		{"bad value", Header + "\na,\"[1, 0, 2, 0]\",\"[]\"\n", 2, "weather_labels", `value 2 is "2"`},
		{"missing field", Header + "\na," + ok + "\nb\n", 3, "weather_labels", "1 fields"},
		{"bad quoting", Header + "\na,\"[1, 0\"x, 0, 0]\"," + "\"[]\"\n", 2, "", `extraneous or missing " in quoted-field`},
		{"empty name", Header + "\n," + ok + "\n", 2, "image_name", "empty image name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.csv))
			var ce *CSVError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCSV) {
				t.Fatalf("got %v, want a *CSVError wrapping ErrCSV", err)
			}
			if ce.Line != tt.wantLine || ce.Column != tt.wantColumn || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got line %d column %q %q, want line %d column %q containing %q",
					ce.Line, ce.Column, err, tt.wantLine, tt.wantColumn, tt.wantText)
			}
		})
	}
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"[0, 0, 1, 0]", "[1,0,0,0]", " [ 1 , 0 , 0 , 0 ] ", "[]", "[1, 0, 0]", "[a, 0, 0, 0]", "[1, 0, 0, 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var dst [NumWeather]uint8
		if err := ParseList(s, dst[:]); err != nil {
			if !errors.Is(err, ErrCSV) {
				t.Fatalf("%q: got %v, want ErrCSV", s, err)
			}
			return
		}
		// Whatever parses must survive a round trip through our writer.
		var buf bytes.Buffer
		if err := WriteCSV(&buf, []Row{{Name: "x", Weather: dst}}); err != nil {
			t.Fatal(err)
		}
		rows, err := ReadCSV(&buf)
		if err != nil {
			t.Fatalf("%q parsed to %v but its rewrite does not: %v", s, dst, err)
		}
		if rows[0].Weather != dst {
			t.Fatalf("%q: got %v after round trip, want %v", s, rows[0].Weather, dst)
		}
	})
}

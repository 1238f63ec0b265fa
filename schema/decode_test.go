package schema

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse feeds spec documents in both formats: Parse never panics, a
// failure is a spec error, and a spec it accepts survives its own canonical
// JSON and YAML.
func FuzzParse(f *testing.F) {
	for _, name := range PresetNames() {
		s, err := Preset(name)
		if err != nil {
			f.Fatal(err)
		}
		js, _ := s.Marshal()
		y, _ := s.YAML()
		f.Add(js, false)
		f.Add(y, true)
	}
	for _, path := range []string{"testdata/flowers/flowers.json", "testdata/flowers/flowers.yaml"} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, path[len(path)-4:] == "yaml")
	}
	f.Add([]byte(`{"name": "x", "image": {"width": 1e400}, "labels": [[]], "key": null}`), false)
	f.Add([]byte("a: &x [*x]\nname: [\n"), true)
	// Aliases that would expand to 10^6 names: the walk stops where the type does not fit.
	f.Add([]byte("a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"+
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"+
		"name: x\nlabels: [{column: y, kind: class, size: 2, names: *f}]\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, isYAML bool) {
		format := "json"
		if isYAML {
			format = "yaml"
		}
		s, err := Parse(data, format, "fuzz")
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error not wrapping ErrInvalidSpec: %v", err)
			}
			return
		}
		js, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(js, "json", "marshalled")
		if err != nil {
			t.Fatalf("canonical JSON of an accepted spec does not parse: %v\n%s", err, js)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("JSON round trip (-first +again):\n%s", diff)
		}
		y, err := s.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if again, err = Parse(y, "yaml", "marshalled"); err != nil {
			t.Fatalf("YAML of an accepted spec does not parse: %v\n%s", err, y)
		}
		if diff := cmp.Diff(s, again); diff != "" {
			t.Fatalf("YAML round trip (-first +again):\n%s", diff)
		}
	})
}

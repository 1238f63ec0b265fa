package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
)

func runSpecCLI(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Run(context.Background(), append([]string{"spec"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// specGolden compares got with testdata/spec/name, or rewrites it with -update.
func specGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "spec", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
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

func TestSpecOutputs(t *testing.T) {
	tests := []struct {
		golden   string
		args     []string
		wantCode int
	}{
		{"list.golden", []string{"list"}, ExitOK},
		{"show-planet.golden", []string{"show", "planet"}, ExitOK},
		{"show-planet-tags-json.golden", []string{"show", "--format", "json", "planet-tags"}, ExitOK},
		{"show-good.golden", []string{"show", "testdata/spec/good.yaml"}, ExitOK},
		{"validate.golden", []string{"validate", "testdata/spec/good.yaml", "planet", "testdata/spec/bad.yaml", "testdata/spec/typo.json", "testdata/spec/missing.yaml"}, ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			code, stdout, stderr := runSpecCLI(tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			specGolden(t, tt.golden, "$ tfprep spec "+strings.Join(tt.args, " ")+"\n"+stdout+"--- stderr\n"+stderr)
		})
	}
}

// TestSpecShowRoundTrip reads "spec show" output back as a spec file.
func TestSpecShowRoundTrip(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		code, stdout, stderr := runSpecCLI("show", "planet", "--format", format)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		path := filepath.Join(t.TempDir(), "planet."+format)
		if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := schema.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := schema.Preset("planet")
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", format, diff)
		}
	}
}

// TestSpecPython prints the code for a preset, a file and a converted
// dataset's directory: the spec embedded in dataset.json, with the
// dataset's compression and splits.
func TestSpecPython(t *testing.T) {
	dir := readFixture(t, 40)
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	fromManifest, err := schema.Parse(m.Spec, "json", "manifest")
	if err != nil {
		t.Fatal(err)
	}
	planet, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	good, err := schema.Load("testdata/spec/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	splits := []schema.PythonSplit{
		{Name: "train", Records: 30, Files: []string{"train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord", "train-00002-of-00003.tfrecord"}},
		{Name: "validation", Records: 10, Files: []string{"validation-00000-of-00001.tfrecord"}},
	}
	if m.Compression != "none" {
		t.Fatalf("fixture compression %q, want none as the expected files say", m.Compression)
	}
	tests := []struct {
		args []string
		spec *schema.Spec
		opts schema.PythonOptions
	}{
		{[]string{"planet"}, planet, schema.PythonOptions{}},
		{[]string{dir}, fromManifest, schema.PythonOptions{Dir: dir, Manifest: dir + "/dataset.json", Compression: "none", Splits: splits}},
		{[]string{"testdata/spec/good.yaml", "--input-name", "input_1"}, good, schema.PythonOptions{InputName: "input_1"}},
	}
	for _, tt := range tests {
		code, stdout, stderr := runSpecCLI(append([]string{"python"}, tt.args...)...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", tt.args, code, stderr)
		}
		want, err := tt.spec.Python(tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, stdout); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.args, diff)
		}
	}
}

// TestSpecInit drafts a spec from a CSV that does not fit the default spec,
// and checks that the draft validates and fits the CSV.
func TestSpecInit(t *testing.T) {
	csvPath := filepath.Join(t.TempDir(), "pets.csv")
	if err := os.WriteFile(csvPath, []byte("file,label\na.jpg,cat\nb.jpg,dog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runSpecCLI("init", "--csv", csvPath)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`#   csv: key column "file", image files "{file}" under --images; check both`,
		`#   labels: "label" read as a class, 2 names`,
		"name: pets\n",
		"names: [cat, dog]",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	specPath := filepath.Join(t.TempDir(), "pets.yaml")
	if err := os.WriteFile(specPath, []byte(stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := schema.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewRowDecoder([]string{"file", "label"}); err != nil {
		t.Errorf("the draft does not fit its CSV: %v", err)
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, ExitUsage, "want a subcommand"},
		{[]string{"init"}, ExitUsage, "init wants --csv PATH"},
		{[]string{"init", "--csv", "testdata/spec/missing.csv"}, ExitError, "missing.csv: no such file"},
		{[]string{"show", "planet", "--csv", "x.csv"}, ExitUsage, "--csv applies to init only"},
		{[]string{"show", "planet", "--input-name", "x"}, ExitUsage, "--input-name applies to python only"},
		{[]string{"check"}, ExitUsage, `unknown subcommand "check"`},
		{[]string{"list", "x"}, ExitUsage, "list takes no arguments"},
		{[]string{"validate"}, ExitUsage, "validate wants at least one spec"},
		{[]string{"show"}, ExitUsage, "show wants one spec, got 0"},
		{[]string{"python", "a", "b"}, ExitUsage, "python wants one spec, got 2"},
		{[]string{"show", "planet", "--format", "toml"}, ExitUsage, `unknown --format "toml"`},
		{[]string{"python", "planet", "--format", "json"}, ExitUsage, "--format applies to show only"},
		{[]string{"show", "plantet"}, ExitError, `"plantet" is neither a preset (imagefolder, planet, planet-tags) nor a file`},
		{[]string{"python", t.TempDir()}, ExitError, "dataset.json"},
	}
	for _, tt := range tests {
		code, stdout, stderr := runSpecCLI(tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) || stdout != "" {
			t.Errorf("spec %q: got exit %d, stdout %q, stderr %q; want exit %d and stderr containing %q",
				tt.args, code, stdout, stderr, tt.wantCode, tt.wantErr)
		}
	}
}

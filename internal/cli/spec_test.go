package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

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
// dataset's directory (the spec embedded in dataset.json).
func TestSpecPython(t *testing.T) {
	planet, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	specJSON, err := planet.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	manifest := `{"format_version": 1, "tool": "tfprep", "spec": ` + string(specJSON) + "}"
	if err := os.WriteFile(filepath.Join(dir, "dataset.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := schema.Load("testdata/spec/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg  string
		want string
	}{
		{"planet", planet.Python()},
		{dir, planet.Python()},
		{"testdata/spec/good.yaml", good.Python()},
	}
	for _, tt := range tests {
		code, stdout, stderr := runSpecCLI("python", tt.arg)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", tt.arg, code, stderr)
		}
		if diff := cmp.Diff(tt.want, stdout); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.arg, diff)
		}
	}
}

func TestSpecErrors(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{nil, ExitUsage, "want a subcommand"},
		{[]string{"check"}, ExitUsage, `unknown subcommand "check"`},
		{[]string{"list", "x"}, ExitUsage, "list takes no arguments"},
		{[]string{"validate"}, ExitUsage, "validate wants at least one spec"},
		{[]string{"show"}, ExitUsage, "show wants one spec, got 0"},
		{[]string{"python", "a", "b"}, ExitUsage, "python wants one spec, got 2"},
		{[]string{"show", "planet", "--format", "toml"}, ExitUsage, `unknown --format "toml"`},
		{[]string{"python", "planet", "--format", "json"}, ExitUsage, "--format applies to show only"},
		{[]string{"show", "plantet"}, ExitError, `"plantet" is neither a preset (planet, planet-tags) nor a file`},
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

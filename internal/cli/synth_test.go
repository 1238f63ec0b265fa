package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func synthRunCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func synthReadDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(data)
	}
	return files
}

func TestSynthSampleThenCSV(t *testing.T) {
	sampled, fromCSV := t.TempDir(), t.TempDir()
	if code, _, stderr := synthRunCLI(t, "synth", "--n", "6", "--out", sampled, "--size", "32", "--seed", "5"); code != ExitOK {
		t.Fatalf("synth --n: exit %d: %s", code, stderr)
	}
	csvPath := filepath.Join(sampled, "planet.csv")
	code, stdout, stderr := synthRunCLI(t, "synth", "--csv", csvPath, "--out", fromCSV, "--size", "32", "--seed", "5", "--workers", "1")
	if code != ExitOK {
		t.Fatalf("synth --csv: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "wrote 6 images") {
		t.Errorf("got stdout %q, want a summary of 6 images", stdout)
	}
	a, b := synthReadDir(t, filepath.Join(sampled, "images")), synthReadDir(t, filepath.Join(fromCSV, "images"))
	if len(a) != 6 {
		t.Errorf("got %d images, want 6", len(a))
	}
	if !cmp.Equal(a, b) {
		t.Errorf("images regenerated from the CSV differ from the sampled ones")
	}
	csvA, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	csvB, err := os.ReadFile(filepath.Join(fromCSV, "planet.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(csvA), string(csvB)); diff != "" {
		t.Errorf("planet.csv (-sampled +from csv):\n%s", diff)
	}
}

func TestSynthErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("image_name,weather_labels,ground_labels\na,\"[1]\",\"[]\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"synth", "--out", dir}, ExitUsage, "exactly one of --n"},
		{[]string{"synth", "--n", "3"}, ExitUsage, "want --out DIR"},
		{[]string{"synth", "--n", "3", "--csv", bad, "--out", dir}, ExitUsage, "exactly one of"},
		{[]string{"synth", "--n", "3", "--out", dir, "extra"}, ExitUsage, "no arguments"},
		{[]string{"synth", "--csv", bad, "--out", dir}, ExitError, "bad.csv: line 2, column weather_labels"},
		{[]string{"synth", "--csv", filepath.Join(dir, "missing.csv"), "--out", dir}, ExitError, "missing.csv"},
		{[]string{"synth", "--n", "2", "--size", "3", "--out", dir}, ExitError, "size 3"},
	}
	for _, tt := range tests {
		code, _, stderr := synthRunCLI(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
			t.Errorf("%q: got exit %d %q, want exit %d containing %q", tt.args, code, stderr, tt.wantCode, tt.wantErr)
		}
	}
}

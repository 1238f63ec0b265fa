package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
)

// TestConvertImageFolder: --spec imagefolder needs no --csv and refuses
// one; the class names land in the manifest, a stray file in errors.csv
// (exit 3).
func TestConvertImageFolder(t *testing.T) {
	root := t.TempDir()
	for name, src := range map[string]string{
		"daisy/a.jpg": "synth_00000.jpg",
		"daisy/b.jpg": "synth_00001.jpg",
		"tulip/c.jpg": "synth_00002.jpg",
		"stray.jpg":   "synth_00003.jpg",
	} {
		data, err := os.ReadFile(filepath.Join(convertData, "images", src))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(root, filepath.Dir(name)), 0o755)
		if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI(t, "convert", "--spec", "imagefolder", "--images", root, "--out", out, "--size", "8", "--quiet")
	if code != ExitPartial {
		t.Fatalf("convert: exit %d (%s), want %d for the stray image", code, stderr, ExitPartial)
	}
	d, err := dataset.Open(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Labels[0].Names; !slices.Equal(got, []string{"daisy", "tulip"}) {
		t.Errorf("class names: got %q, want [daisy tulip]", got)
	}
	if r := d.Manifest.Rows; r.Read != 4 || r.Written != 3 || r.RejectedByStage[dataset.StageLabel] != 1 {
		t.Errorf("rows: got %+v, want 4 read = 3 written + 1 rejected (label)", r)
	}
	code, _, stderr = runCLI(t, "convert", "--spec", "imagefolder", "--csv", filepath.Join(convertData, "good.csv"), "--images", root, "--out", filepath.Join(t.TempDir(), "x"))
	if code != ExitUsage || !strings.Contains(stderr, "--csv") {
		t.Errorf("imagefolder with --csv: exit %d, stderr %q; want %d naming --csv", code, stderr, ExitUsage)
	}
	code, _, stderr = runCLI(t, "convert", "--spec", "planet", "--images", root, "--out", filepath.Join(t.TempDir(), "y"))
	if code != ExitUsage || !strings.Contains(stderr, "reads its rows from a CSV") {
		t.Errorf("planet without --csv: exit %d, stderr %q; want %d saying --csv is needed", code, stderr, ExitUsage)
	}
}

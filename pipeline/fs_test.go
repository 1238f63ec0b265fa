package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

// symlinkImages makes an images root holding a JPEG, a link to it, a link
// to a JPEG outside the root and a link to a folder outside it, and a CSV
// with one row each.
func symlinkImages(t *testing.T) (csv, images string) {
	t.Helper()
	dir := t.TempDir()
	images = filepath.Join(dir, "images")
	outside := filepath.Join(dir, "elsewhere")
	for _, d := range []string{images, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	jpeg, err := os.ReadFile(filepath.Join("testdata", "images", "synth_00000.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(images, "real.jpg"), filepath.Join(outside, "secret.jpg")} {
		if err := os.WriteFile(p, jpeg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"inside.jpg":  "real.jpg",
		"outside.jpg": filepath.Join(outside, "secret.jpg"),
		"folder":      outside,
	} {
		if err := os.Symlink(target, filepath.Join(images, link)); err != nil {
			t.Fatal(err)
		}
	}
	csv = filepath.Join(dir, "links.csv")
	labels := `,"[1, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]"` + "\n"
	body := "image_name,weather_labels,ground_labels\n"
	for _, key := range []string{"real", "inside", "outside", "folder/secret"} {
		body += key + labels
	}
	if err := os.WriteFile(csv, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return csv, images
}

func TestConvertSymlinks(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "followed"}[follow], func(t *testing.T) {
			cfg := testConfig(t, "good.csv")
			cfg.CSV[0], cfg.Images = symlinkImages(t)
			cfg.FollowSymlinksOutside = follow
			m, err := Convert(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := dataset.ReadErrorsFile(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			var rejected []string
			for _, e := range errs {
				rejected = append(rejected, e.Key)
				if e.Stage != dataset.StageIO || !strings.Contains(e.Reason, "is a symbolic link to") ||
					!strings.Contains(e.Reason, "outside --images "+cfg.Images+" (--follow-symlinks-outside allows it)") {
					t.Errorf("rejected %+v, want stage io naming the link's target outside --images", e)
				}
			}
			var want []string
			if !follow {
				want = []string{"outside", "folder/secret"}
			}
			if diff := cmp.Diff(want, rejected); diff != "" {
				t.Errorf("rejected keys (-want +got):\n%s", diff)
			}
			if m.Rows.Written != int64(4-len(want)) {
				t.Errorf("got %d written, want %d", m.Rows.Written, 4-len(want))
			}
		})
	}
}

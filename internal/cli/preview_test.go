package cli

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/preview"
	"github.com/tfprep/tfprep/tfrecord"
)

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPreviewTiles draws every fixture record for each image encoding and
// checks that each tile shows its own record's pixels, in dataset order.
func TestPreviewTiles(t *testing.T) {
	for _, tt := range []struct {
		f         fixture
		tolerance int // per channel; jpeg is lossy
	}{
		{fixture{encoding: "float32"}, 0},
		{fixture{encoding: "uint8", compression: tfrecord.GZIP}, 0},
		{fixture{encoding: "png"}, 0},
		{fixture{encoding: "jpeg"}, 40},
	} {
		t.Run(tt.f.encoding, func(t *testing.T) {
			dir := writeFixture(t, tt.f)
			out := filepath.Join(t.TempDir(), "sheet.png")
			code, _, stderr := runInspect(t, dir, "preview", dir, "-n", "64", "--cols", "3", "-o", out)
			if code != ExitOK {
				t.Fatalf("got exit %d, want 0: %s", code, stderr)
			}
			sheet := readPNG(t, out)
			scale := (preview.MinTileSide + fixtureW - 1) / fixtureW
			l := preview.Layout{Cols: 3, CellW: fixtureW*scale + 2*preview.TilePad, CellH: fixtureH*scale + 2*preview.TilePad + 4*13} // key, weather, ground on two lines
			if got, want := sheet.Bounds().Size(), image.Pt(3*l.CellW, 3*l.CellH); got != want {
				t.Fatalf("got sheet size %v, want %v", got, want)
			}
			for i := range fixtureRows {
				want := fixturePixels(i, fixtureW, fixtureH)
				origin := l.ImageOrigin(i)
				for _, p := range []image.Point{{0, 0}, {fixtureW - 1, 0}, {3, 5}, {fixtureW - 1, fixtureH - 1}} {
					// The middle of the enlarged pixel block.
					r, g, b, _ := sheet.At(origin.X+p.X*scale+scale/2, origin.Y+p.Y*scale+scale/2).RGBA()
					c := want.RGBAAt(p.X, p.Y)
					got := []int{int(r >> 8), int(g >> 8), int(b >> 8)}
					exp := []int{int(c.R), int(c.G), int(c.B)}
					for ch := range 3 {
						if d := got[ch] - exp[ch]; d > tt.tolerance || -d > tt.tolerance {
							t.Errorf("tile %d pixel %v: got %v, want %v (tolerance %d)", i, p, got, exp, tt.tolerance)
							break
						}
					}
				}
			}
		})
	}
}

// TestPreviewCaptions checks the caption text of every tile: key first,
// then one line per label feature.
func TestPreviewCaptions(t *testing.T) {
	for _, f := range []fixture{{}, {omitKey: true}} {
		t.Run(fmt.Sprintf("omitKey=%t", f.omitKey), func(t *testing.T) {
			dir := writeFixture(t, f)
			ds, err := dataset.Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			picks, damage, err := preview.Sample(context.Background(), ds, nil, 100, 1)
			if err != nil || damage != nil {
				t.Fatalf("got error %v, damage %v", err, damage)
			}
			tiles, err := preview.Tiles(ds.Spec, picks)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, lines := range preview.NewLayout(tiles, 4).Lines {
				fmt.Fprintf(&b, "tile %d: %q\n", i, lines)
			}
			golden(t, fmt.Sprintf("preview_captions_omitkey_%t.txt", f.omitKey), b.String())
		})
	}
}

func TestPreviewDamagedShard(t *testing.T) {
	dir := writeFixture(t, fixture{})
	damageShard(t, filepath.Join(dir, "train-00000-of-00002.tfrecord"))
	out := filepath.Join(t.TempDir(), "sheet.png")
	code, _, stderr := runInspect(t, dir, "preview", dir, "-o", out)
	if code != ExitPartial {
		t.Fatalf("got exit %d, want %d; stderr:\n%s", code, ExitPartial, stderr)
	}
	if !strings.Contains(stderr, "train-00000-of-00002.tfrecord") || !strings.Contains(stderr, "damaged") {
		t.Errorf("stderr does not name the damaged shard:\n%s", stderr)
	}
	// Six readable records: two rows of four tiles.
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	picks, _, err := preview.Sample(context.Background(), ds, nil, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(picks) != len(fixtureRows)-1 {
		t.Errorf("got %d readable records, want %d", len(picks), len(fixtureRows)-1)
	}
	if readPNG(t, out).Bounds().Empty() {
		t.Error("got an empty sheet")
	}
}

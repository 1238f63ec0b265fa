package cli

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
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
			scale := (minTileSide + fixtureW - 1) / fixtureW
			l := sheetLayout{Cols: 3, CellW: fixtureW*scale + 2*tilePad, CellH: fixtureH*scale + 2*tilePad + 4*13} // key, weather, ground on two lines
			if got, want := sheet.Bounds().Size(), image.Pt(3*l.CellW, 3*l.CellH); got != want {
				t.Fatalf("got sheet size %v, want %v", got, want)
			}
			for i := range fixtureRows {
				want := fixturePixels(i, fixtureW, fixtureH)
				origin := l.imageOrigin(i)
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
			picks, damage, err := sampleRecords(context.Background(), ds, nil, 100, 1)
			if err != nil || damage != nil {
				t.Fatalf("got error %v, damage %v", err, damage)
			}
			tiles, err := makeTiles(ds.Spec, picks)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for i, lines := range layoutSheet(tiles, 4).Lines {
				fmt.Fprintf(&b, "tile %d: %q\n", i, lines)
			}
			golden(t, fmt.Sprintf("preview_captions_omitkey_%t.txt", f.omitKey), b.String())
		})
	}
}

func TestSampleRecords(t *testing.T) {
	dir := writeFixture(t, fixture{})
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	keysOf := func(picks []pickedRecord) []string {
		var keys []string
		for _, p := range picks {
			keys = append(keys, fmt.Sprintf("%s#%d", p.Shard, p.Index))
		}
		return keys
	}
	sample := func(splits []string, n int, seed uint64) []string {
		picks, _, err := sampleRecords(context.Background(), ds, splits, n, seed)
		if err != nil {
			t.Fatal(err)
		}
		return keysOf(picks)
	}
	all := sample(nil, 100, 1)
	if len(all) != len(fixtureRows) {
		t.Fatalf("got %d records, want all %d", len(all), len(fixtureRows))
	}
	if diff := cmp.Diff(sample(nil, 3, 5), sample(nil, 3, 5)); diff != "" {
		t.Errorf("same seed, different samples (-first +second):\n%s", diff)
	}
	// Every record is drawn by some seed, and a sample keeps dataset order.
	drawn := map[string]int{}
	for seed := range uint64(200) {
		s := sample(nil, 3, seed)
		if len(s) != 3 {
			t.Fatalf("seed %d: got %d records, want 3", seed, len(s))
		}
		for i := 1; i < len(s); i++ {
			if slices.Index(all, s[i-1]) >= slices.Index(all, s[i]) {
				t.Errorf("seed %d: sample %v is not in dataset order", seed, s)
			}
		}
		for _, k := range s {
			drawn[k]++
		}
	}
	for _, k := range all {
		// 200 samples of 3 of 7: each record is expected ~86 times.
		if drawn[k] < 40 || drawn[k] > 140 {
			t.Errorf("record %s drawn %d times in 200 samples, want about 86", k, drawn[k])
		}
	}
	val := sample([]string{"validation"}, 100, 1)
	if want := []string{"validation-00000-of-00001.tfrecord#0", "validation-00000-of-00001.tfrecord#1"}; !slices.Equal(val, want) {
		t.Errorf("--split validation: got %v, want %v", val, want)
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
	picks, _, err := sampleRecords(context.Background(), ds, nil, 100, 1)
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

func TestWrapWords(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  []string
	}{
		{"haze", 18, []string{"haze"}},
		{"agriculture primary water", 18, []string{"agriculture", "primary water"}},
		{"-", 18, []string{"-"}},
		{"", 18, []string{""}},
		{"conventional_mine_and_more", 10, []string{"convention", "al_mine_an", "d_more"}},
		{"a b c", 3, []string{"a b", "c"}},
	}
	for _, tt := range tests {
		if got := wrapWords(tt.s, tt.width); !slices.Equal(got, tt.want) {
			t.Errorf("wrapWords(%q, %d): got %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

func TestClip(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  string
	}{
		{"train_0", 18, "train_0"},
		{"train_123456789012345", 10, "train_12.."},
		{"abc", 2, "ab"},
		{"héllo wörld", 6, "héll.."},
	}
	for _, tt := range tests {
		if got := clip(tt.s, tt.width); got != tt.want {
			t.Errorf("clip(%q, %d): got %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

// BenchmarkPreview draws a 64-tile sheet of planet-sized images: sampling,
// decoding, drawing and PNG encoding.
func BenchmarkPreview(b *testing.B) {
	ds, size := benchDataset(b)
	out := filepath.Join(b.TempDir(), "sheet.png")
	b.SetBytes(size)
	for b.Loop() {
		picks, _, err := sampleRecords(context.Background(), ds, nil, 64, 1)
		if err != nil {
			b.Fatal(err)
		}
		tiles, err := makeTiles(ds.Spec, picks)
		if err != nil {
			b.Fatal(err)
		}
		if err := writePNG(out, drawSheet(tiles, 8)); err != nil {
			b.Fatal(err)
		}
	}
}

package preview

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/internal/synth"
)

// writeDataset writes seven planet chips: five in two train shards, two in
// one validation shard.
func writeDataset(t testing.TB) *dataset.Dataset {
	t.Helper()
	dir := t.TempDir()
	rows := synth.SampleRows(7, 1)
	splits := []synth.Split{{Name: "train", Rows: rows[:5], Shards: 2}, {Name: "validation", Rows: rows[5:]}}
	if _, err := synth.WriteDataset(dir, splits, synth.DatasetOptions{Image: synth.Options{Size: 64}}); err != nil {
		t.Fatal(err)
	}
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestSampleRecords(t *testing.T) {
	ds := writeDataset(t)
	keysOf := func(picks []Pick) []string {
		var keys []string
		for _, p := range picks {
			keys = append(keys, fmt.Sprintf("%s#%d", p.Shard, p.Index))
		}
		return keys
	}
	sample := func(splits []string, n int, seed uint64) []string {
		picks, _, err := Sample(context.Background(), ds, splits, n, seed)
		if err != nil {
			t.Fatal(err)
		}
		return keysOf(picks)
	}
	all := sample(nil, 100, 1)
	if len(all) != 7 {
		t.Fatalf("got %d records, want all %d", len(all), 7)
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

// TestDraw checks the sheet's size and that each tile shows its own image.
func TestDraw(t *testing.T) {
	ds := writeDataset(t)
	picks, _, err := Sample(context.Background(), ds, nil, 100, 1)
	if err != nil {
		t.Fatal(err)
	}
	tiles, err := Tiles(ds.Spec, picks)
	if err != nil {
		t.Fatal(err)
	}
	sheet := Draw(tiles, 3)
	l := NewLayout(tiles, 3)
	if got, want := sheet.Bounds().Size(), (image.Point{X: 3 * l.CellW, Y: 3 * l.CellH}); got != want {
		t.Fatalf("got sheet size %v, want %v", got, want)
	}
	for i, tile := range tiles {
		img := tile.Image
		origin := l.ImageOrigin(i)
		for _, p := range []image.Point{{0, 0}, {img.Width - 1, img.Height - 1}} {
			px := img.Pix[(p.Y*img.Width+p.X)*img.Channels:]
			got := sheet.RGBAAt(origin.X+p.X*l.Scale, origin.Y+p.Y*l.Scale)
			if want := (color.RGBA{px[0], px[1], px[2], 0xff}); got != want {
				t.Errorf("tile %d pixel %v: got %v, want %v", i, p, got, want)
			}
		}
		if tile.Caption[0] == "" || len(tile.Caption) != 3 {
			t.Errorf("tile %d: got caption %q, want a key and two label lines", i, tile.Caption)
		}
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
	ds := writeDataset(b)
	var size int64
	for _, sp := range ds.Manifest.Splits {
		size += sp.Bytes
	}
	out := filepath.Join(b.TempDir(), "sheet.png")
	b.SetBytes(size)
	for b.Loop() {
		picks, _, err := Sample(context.Background(), ds, nil, 64, 1)
		if err != nil {
			b.Fatal(err)
		}
		tiles, err := Tiles(ds.Spec, picks)
		if err != nil {
			b.Fatal(err)
		}
		if err := WritePNG(out, Draw(tiles, 8)); err != nil {
			b.Fatal(err)
		}
	}
}

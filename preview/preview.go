// Package preview draws contact sheets of a converted dataset: examples
// sampled reproducibly from its shards, each image decoded back to pixels
// exactly as stored and captioned with its key and label names, laid out in
// a grid ("tfprep preview"). Looking at a sheet shows whether images are
// upright, colours right and labels with their images.
package preview

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// Pick is one example chosen for the sheet, with where it came from.
type Pick struct {
	Shard string // base name of the shard file
	Index int64  // record number inside the shard, from 0
	Data  []byte // serialized tf.train.Example
	order int64  // position over all scanned records, for a stable layout
}

// Sample draws n records uniformly at random from the named splits'
// shards (all when none are named) in one pass (reservoir sampling), seeded
// so the same dataset and seed give the same sheet. The result is in
// dataset order.
func Sample(ctx context.Context, ds *dataset.Dataset, splits []string, n int, seed uint64) ([]Pick, []dataset.ShardDamage, error) {
	shards, err := ds.Shards(splits...)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x7466707265700000))
	var picks []Pick
	var seen int64
	var damage []dataset.ShardDamage
	for _, sh := range shards {
		d, err := ds.Scan(ctx, sh, func(index int64, rec []byte) error {
			seen++
			slot := len(picks)
			if slot >= n {
				j := rng.Int64N(seen)
				if j >= int64(n) {
					return nil
				}
				slot = int(j)
			}
			p := Pick{Shard: sh.File, Index: index, Data: slices.Clone(rec), order: seen}
			if slot == len(picks) {
				picks = append(picks, p)
			} else {
				picks[slot] = p
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		damage = append(damage, d...)
	}
	slices.SortFunc(picks, func(a, b Pick) int { return cmp.Compare(a.order, b.order) })
	return picks, damage, nil
}

// Tile is one captioned image of the sheet.
type Tile struct {
	Caption []string // key first, then one line per label feature
	Image   *imageprep.Image
}

// Tiles decodes each picked example's image and names its labels.
func Tiles(spec *schema.Spec, picks []Pick) ([]Tile, error) {
	opts := spec.ImageOptions()
	labels := spec.LabelFeatures()
	var rec schema.Record
	tiles := make([]Tile, 0, len(picks))
	for _, p := range picks {
		where := fmt.Sprintf("%s record %d", p.Shard, p.Index)
		parsed, err := example.Parse(p.Data, true)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if err := spec.ReadExample(parsed, &rec); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		img, err := imageprep.DecodeOutput(rec.Image, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: image: %w", where, err)
		}
		key := rec.Key
		if spec.Key.Omit {
			// "train-00001#5": the split and shard number fit a caption,
			// the shard count adds nothing.
			key = p.Shard
			if info, err := dataset.ParseShardName(p.Shard); err == nil {
				key = fmt.Sprintf("%s-%05d", info.Split, info.Index)
			}
			key += "#" + strconv.FormatInt(p.Index, 10)
		}
		caption := []string{key}
		for i, l := range labels {
			caption = append(caption, labelText(dataset.LabelNames(l), rec.Labels[i]))
		}
		tiles = append(tiles, Tile{Caption: caption, Image: img})
	}
	return tiles, nil
}

// labelText names the labels set in one label vector (value != 0, as the
// manifest counts them), "-" when none is.
func labelText(names []string, values []float32) string {
	var words []string
	for i, v := range values {
		if v != 0 && i < len(names) {
			words = append(words, names[i])
		}
	}
	if len(words) == 0 {
		return "-"
	}
	return strings.Join(words, " ")
}

// Sheet geometry. The face is 7 pixels per character and 13 per line.
const (
	MinTileSide  = 128 // images narrower than this are enlarged by an integer factor
	TilePad      = 4   // pixels around each image
	maxLabelRows = 4   // caption lines below the key before "..." cuts in
)

var (
	sheetBackground = color.RGBA{0x20, 0x20, 0x20, 0xff}
	captionKey      = color.RGBA{0xff, 0xff, 0xff, 0xff}
	captionLabel    = color.RGBA{0xff, 0xd8, 0x60, 0xff}
)

// Layout is where everything goes: the same for every tile so the grid
// is regular.
type Layout struct {
	Cols, Rows     int
	Scale          int // integer enlargement of every image
	ImageW, ImageH int // scaled image area
	CellW, CellH   int
	Lines          [][]string // per tile, the caption wrapped to the cell width
	CharsPerLine   int
	CaptionLines   int
	SheetW, SheetH int
}

// ImageOrigin is the top-left corner of tile i's image.
func (l *Layout) ImageOrigin(i int) image.Point {
	return image.Pt((i%l.Cols)*l.CellW+TilePad, (i/l.Cols)*l.CellH+TilePad)
}

// NewLayout places tiles cols to a row, every image enlarged by the same
// integer factor and every caption wrapped to the cell width.
func NewLayout(tiles []Tile, cols int) Layout {
	var l Layout
	l.Cols = min(cols, len(tiles))
	l.Rows = (len(tiles) + l.Cols - 1) / l.Cols
	maxW, maxH := 1, 1
	for _, t := range tiles {
		maxW, maxH = max(maxW, t.Image.Width), max(maxH, t.Image.Height)
	}
	l.Scale = max(1, (MinTileSide+maxW-1)/maxW)
	l.ImageW, l.ImageH = maxW*l.Scale, maxH*l.Scale
	face := basicfont.Face7x13
	l.CharsPerLine = max(1, l.ImageW/face.Advance)
	for _, t := range tiles {
		lines := []string{clip(t.Caption[0], l.CharsPerLine)}
		var labelLines []string
		for _, c := range t.Caption[1:] {
			labelLines = append(labelLines, wrapWords(c, l.CharsPerLine)...)
		}
		if len(labelLines) > maxLabelRows {
			labelLines = labelLines[:maxLabelRows]
			labelLines[maxLabelRows-1] = clip(labelLines[maxLabelRows-1]+"..", l.CharsPerLine)
		}
		lines = append(lines, labelLines...)
		l.Lines = append(l.Lines, lines)
		l.CaptionLines = max(l.CaptionLines, len(lines))
	}
	l.CellW = l.ImageW + 2*TilePad
	l.CellH = l.ImageH + 2*TilePad + l.CaptionLines*face.Height
	l.SheetW, l.SheetH = l.Cols*l.CellW, l.Rows*l.CellH
	return l
}

// Draw renders the tiles row by row, cols to a row.
func Draw(tiles []Tile, cols int) *image.RGBA {
	l := NewLayout(tiles, cols)
	sheet := image.NewRGBA(image.Rect(0, 0, l.SheetW, l.SheetH))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(sheetBackground), image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, t := range tiles {
		origin := l.ImageOrigin(i)
		blitScaled(sheet, origin, t.Image, l.Scale)
		for j, line := range l.Lines[i] {
			ink := captionLabel
			if j == 0 {
				ink = captionKey
			}
			d := font.Drawer{
				Dst:  sheet,
				Src:  image.NewUniform(ink),
				Face: face,
				Dot:  fixed.P(origin.X, origin.Y+l.ImageH+2+j*face.Height+face.Ascent),
			}
			d.DrawString(line)
		}
	}
	return sheet
}

// blitScaled copies img into dst at origin, each pixel a scale x scale block.
func blitScaled(dst *image.RGBA, origin image.Point, img *imageprep.Image, scale int) {
	for y := range img.Height {
		for x := range img.Width {
			p := img.Pix[(y*img.Width+x)*img.Channels:]
			var c color.RGBA
			switch img.Channels {
			case 1:
				c = color.RGBA{p[0], p[0], p[0], 0xff}
			case 3:
				c = color.RGBA{p[0], p[1], p[2], 0xff}
			default: // RGBA: shown over the background, like a viewer would
				a := uint32(p[3])
				blend := func(v, bg uint8) uint8 { return uint8((uint32(v)*a + uint32(bg)*(255-a) + 127) / 255) }
				c = color.RGBA{blend(p[0], sheetBackground.R), blend(p[1], sheetBackground.G), blend(p[2], sheetBackground.B), 0xff}
			}
			for dy := range scale {
				row := dst.PixOffset(origin.X+x*scale, origin.Y+y*scale+dy)
				for dx := range scale {
					copy(dst.Pix[row+4*dx:], []uint8{c.R, c.G, c.B, c.A})
				}
			}
		}
	}
}

// wrapWords breaks s into lines of at most width characters at spaces,
// cutting words longer than a line.
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		for len(w) > width {
			if line != "" {
				lines, line = append(lines, line), ""
			}
			lines, w = append(lines, w[:width]), w[width:]
		}
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= width:
			line += " " + w
		default:
			lines, line = append(lines, line), w
		}
	}
	if line != "" || len(lines) == 0 {
		lines = append(lines, line)
	}
	return lines
}

// clip shortens s to width characters, marking the cut with "..".
func clip(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width <= 2 {
		return string(r[:width])
	}
	return string(r[:width-2]) + ".."
}

// Sheet draws a contact sheet of n examples sampled from the named splits
// (all when none is named) with seed, cols tiles a row: Sample, Tiles and
// Draw in one. It returns the sheet (nil when no record could be read),
// the number of tiles and the damaged ranges skipped.
func Sheet(ctx context.Context, ds *dataset.Dataset, splits []string, n int, seed uint64, cols int) (*image.RGBA, int, []dataset.ShardDamage, error) {
	picks, damage, err := Sample(ctx, ds, splits, n, seed)
	if err != nil || len(picks) == 0 {
		return nil, 0, damage, err
	}
	tiles, err := Tiles(ds.Spec, picks)
	if err != nil {
		return nil, 0, damage, err
	}
	return Draw(tiles, cols), len(tiles), damage, nil
}

// WritePNG writes img to the file path as a PNG.
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := png.Encode(w, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

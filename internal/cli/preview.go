package cli

import (
	"bufio"
	"cmp"
	"context"
	"flag"
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

func init() {
	register(&Command{
		Name:  "preview",
		Args:  "[-n N] [--cols C] [--split NAME] [--seed S] [-o FILE] DIR",
		Short: "draw a contact sheet PNG of examples decoded back from a dataset's shards",
		Long: `Preview picks N examples at random (reproducibly, from --seed) from the shards of a
converted dataset, decodes each image feature back to pixels exactly as stored (float32, uint8,
png or jpeg encodings alike; float32 values are scaled back by 255), and lays them out in a grid,
each tile captioned with the example's key and below it the names of its labels, one line per
label feature. Looking at the sheet shows at a glance whether images are upright, colours are
right (not BGR, not black) and labels belong to their images.

Tiles smaller than 128 pixels are enlarged by an integer factor (nearest neighbour) so captions
fit. Without a stored key the caption names the shard and record number instead.

A damaged shard does not stop the preview: its readable records are used, the damaged byte
ranges are reported on stderr and the exit code is 3.` + previewExamples,
		Flags: previewFlags,
	})
}

const previewExamples = `

Examples:
  tfprep preview out/demo -o preview.png
  tfprep preview out/demo -n 16 --cols 4 --split validation --seed 7 -o val.png`

type previewConfig struct {
	n     int
	cols  int
	split string
	seed  uint64
	out   string
}

func previewFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &previewConfig{}
	fs.IntVar(&cfg.n, "n", 64, "number of examples to draw")
	fs.IntVar(&cfg.cols, "cols", 8, "tiles per row")
	fs.StringVar(&cfg.split, "split", "", "draw from this split only (default: all splits)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "random seed for choosing the examples")
	fs.StringVar(&cfg.out, "o", "preview.png", "output PNG `file`")
	return func(ctx context.Context, env *Env, args []string) error {
		return runPreview(ctx, env, cfg, args)
	}
}

func runPreview(ctx context.Context, env *Env, cfg *previewConfig, args []string) error {
	if len(args) != 1 {
		return usagef("want one dataset directory, got %d arguments", len(args))
	}
	if cfg.n < 1 || cfg.cols < 1 {
		return usagef("-n and --cols must be at least 1")
	}
	ds, err := dataset.Open(ctx, args[0])
	if err != nil {
		return err
	}
	var splits []string
	if cfg.split != "" {
		splits = []string{cfg.split}
	}
	picks, damage, err := sampleRecords(ctx, ds, splits, cfg.n, cfg.seed)
	if err != nil {
		return err
	}
	reportDamage(env, "preview", damage)
	if len(picks) == 0 {
		return fmt.Errorf("%s: no records to draw", args[0])
	}
	tiles, err := makeTiles(ds.Spec, picks)
	if err != nil {
		return err
	}
	sheet := drawSheet(tiles, cfg.cols)
	if err := writePNG(cfg.out, sheet); err != nil {
		return err
	}
	env.notef("%d examples -> %s (%dx%d)", len(tiles), cfg.out, sheet.Bounds().Dx(), sheet.Bounds().Dy())
	if len(damage) > 0 {
		return partialf("%d damaged byte ranges skipped; the sheet shows readable records only", len(damage))
	}
	return nil
}

// pickedRecord is one example chosen for the sheet, with where it came from.
type pickedRecord struct {
	Shard string // base name of the shard file
	Index int64  // record number inside the shard, from 0
	Data  []byte // serialized tf.train.Example
	order int64  // position over all scanned records, for a stable layout
}

// sampleRecords draws n records uniformly at random from the named splits'
// shards (all when none are named) in one pass (reservoir sampling), seeded
// so the same dataset and seed give the same sheet. The result is in
// dataset order.
func sampleRecords(ctx context.Context, ds *dataset.Dataset, splits []string, n int, seed uint64) ([]pickedRecord, []dataset.ShardDamage, error) {
	shards, err := ds.Shards(splits...)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x7466707265700000))
	var picks []pickedRecord
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
			p := pickedRecord{Shard: sh.File, Index: index, Data: slices.Clone(rec), order: seen}
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
	slices.SortFunc(picks, func(a, b pickedRecord) int { return cmp.Compare(a.order, b.order) })
	return picks, damage, nil
}

// reportDamage lists skipped byte ranges on stderr.
func reportDamage(env *Env, command string, damage []dataset.ShardDamage) {
	for _, d := range damage {
		fmt.Fprintf(env.Stderr, "tfprep %s: damaged, skipped: %s\n", command, d)
	}
}

// tile is one captioned image of the sheet.
type tile struct {
	Caption []string // key first, then one line per label feature
	Image   *imageprep.Image
}

// makeTiles decodes each picked example's image and names its labels.
func makeTiles(spec *schema.Spec, picks []pickedRecord) ([]tile, error) {
	opts := spec.ImageOptions()
	labels := spec.LabelFeatures()
	var rec schema.Record
	tiles := make([]tile, 0, len(picks))
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
		tiles = append(tiles, tile{Caption: caption, Image: img})
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
	minTileSide  = 128
	tilePad      = 4
	maxLabelRows = 4 // caption lines below the key before "..." cuts in
)

var (
	sheetBackground = color.RGBA{0x20, 0x20, 0x20, 0xff}
	captionKey      = color.RGBA{0xff, 0xff, 0xff, 0xff}
	captionLabel    = color.RGBA{0xff, 0xd8, 0x60, 0xff}
)

// sheetLayout is where everything goes: the same for every tile so the grid
// is regular.
type sheetLayout struct {
	Cols, Rows     int
	Scale          int // integer enlargement of every image
	ImageW, ImageH int // scaled image area
	CellW, CellH   int
	Lines          [][]string // per tile, the caption wrapped to the cell width
	CharsPerLine   int
	CaptionLines   int
	SheetW, SheetH int
}

// imageOrigin is the top-left corner of tile i's image.
func (l *sheetLayout) imageOrigin(i int) image.Point {
	return image.Pt((i%l.Cols)*l.CellW+tilePad, (i/l.Cols)*l.CellH+tilePad)
}

func layoutSheet(tiles []tile, cols int) sheetLayout {
	var l sheetLayout
	l.Cols = min(cols, len(tiles))
	l.Rows = (len(tiles) + l.Cols - 1) / l.Cols
	maxW, maxH := 1, 1
	for _, t := range tiles {
		maxW, maxH = max(maxW, t.Image.Width), max(maxH, t.Image.Height)
	}
	l.Scale = max(1, (minTileSide+maxW-1)/maxW)
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
	l.CellW = l.ImageW + 2*tilePad
	l.CellH = l.ImageH + 2*tilePad + l.CaptionLines*face.Height
	l.SheetW, l.SheetH = l.Cols*l.CellW, l.Rows*l.CellH
	return l
}

// drawSheet renders the tiles row by row, cols to a row.
func drawSheet(tiles []tile, cols int) *image.RGBA {
	l := layoutSheet(tiles, cols)
	sheet := image.NewRGBA(image.Rect(0, 0, l.SheetW, l.SheetH))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(sheetBackground), image.Point{}, draw.Src)
	face := basicfont.Face7x13
	for i, t := range tiles {
		origin := l.imageOrigin(i)
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

func writePNG(path string, img image.Image) error {
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

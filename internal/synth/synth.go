// Package synth generates Planet-like satellite chips for tests, the demo
// and benchmarks: deterministic JPEG images whose colours and textures depend
// on their labels, plus a CSV in the format of the Kaggle "Planet:
// Understanding the Amazon from Space" seed (KagglePlanetMCML.csv):
//
//	image_name,weather_labels,ground_labels
//	synth_00000,"[1, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
//
// Weather is one-hot over [WeatherLabels], ground is multi-hot over
// [GroundLabels], both in Kaggle's alphabetical order. Every label leaves a
// visible trace (see [Render]) so that a tiny model can learn it, which is
// what proves that images and labels stay together through a pipeline.
//
// Each image is drawn with its own random stream seeded from the generator
// seed and the image name, so the output does not depend on the order or
// parallelism of generation.
package synth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// WeatherLabels are the weather classes, one-hot, in CSV order.
var WeatherLabels = [NumWeather]string{"clear", "cloudy", "haze", "partly_cloudy"}

// GroundLabels are the ground classes, multi-hot, in CSV order (with
// Kaggle's spelling "artisinal_mine").
var GroundLabels = [NumGround]string{
	"agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down",
	"conventional_mine", "cultivation", "habitation", "primary", "road",
	"selective_logging", "slash_burn", "water",
}

// Sizes of the two label vectors.
const (
	NumWeather = 4
	NumGround  = 13
)

// Indices into the label vectors.
const (
	Clear = iota
	Cloudy
	Haze
	PartlyCloudy
)

const (
	Agriculture = iota
	ArtisinalMine
	BareGround
	Blooming
	BlowDown
	ConventionalMine
	Cultivation
	Habitation
	Primary
	Road
	SelectiveLogging
	SlashBurn
	Water
)

// Row is one CSV row: an image name (the file is Name + ".jpg") and its
// labels as 0/1 values.
type Row struct {
	Name    string
	Weather [NumWeather]uint8
	Ground  [NumGround]uint8
}

// Label counts of the 40,479 rows of the real KagglePlanetMCML.csv. Ground
// counts are over the 38,390 rows that are not cloudy: no cloudy row has a
// ground label.
var (
	weatherCounts = [NumWeather]int{28431, 2089, 2697, 7261}
	groundCounts  = [NumGround]int{12315, 339, 862, 332, 98, 100, 4477, 3660, 37513, 8071, 340, 209, 7411}
)

const notCloudyRows = 38390

// SampleRows returns n rows named synth_00000, synth_00001, ... whose labels
// are drawn from the real Planet label frequencies: weather one-hot by class
// frequency; for non-cloudy rows each ground label independently with its
// frequency among non-cloudy rows (at least one, primary when none was drawn);
// cloudy rows have no ground label, as in the real data.
func SampleRows(n int, seed uint64) []Row {
	rows := make([]Row, n)
	total := 0
	for _, c := range weatherCounts {
		total += c
	}
	for i := range rows {
		row := &rows[i]
		row.Name = fmt.Sprintf("synth_%05d", i)
		rng := rowRand(seed^0x5a17_1abe_15ee_d5ed, row.Name)
		pick := rng.IntN(total)
		w := 0
		for pick >= weatherCounts[w] {
			pick -= weatherCounts[w]
			w++
		}
		row.Weather[w] = 1
		if w == Cloudy {
			continue
		}
		any := false
		for g, c := range groundCounts {
			if rng.IntN(notCloudyRows) < c {
				row.Ground[g] = 1
				any = true
			}
		}
		if !any {
			row.Ground[Primary] = 1
		}
	}
	return rows
}

// rowRand returns the random stream of one image: a function of the seed and
// the name only.
func rowRand(seed uint64, name string) *rand.Rand {
	h := fnv.New64a()
	io.WriteString(h, name)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// Layout is how a chip is stored as a JPEG.
type Layout int

const (
	// PlanetLayout is the real Kaggle train-jpg chips' layout: four components (R, G, B and a
	// constant 255) without chroma subsampling, no JFIF or Adobe marker (decoders read it as
	// CMYK, PIL and Keras as the RGB samples), one quantisation table and optimised Huffman
	// tables shared by all components. It gives a decoder 2.7 times the
	// DCT blocks of YCbCr420 (4 full-resolution components against 1.5).
	PlanetLayout Layout = iota
	// YCbCr420 is a standard JFIF JPEG: three components, YCbCr with 4:2:0 chroma subsampling,
	// as Go's image/jpeg writes it.
	YCbCr420
)

var layoutNames = [...]string{"planet", "ycbcr420"}

func (l Layout) String() string {
	if l >= 0 && int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return fmt.Sprintf("Layout(%d)", int(l))
}

// ParseLayout parses "planet" or "ycbcr420".
func ParseLayout(s string) (Layout, error) {
	for i, n := range layoutNames {
		if s == n {
			return Layout(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown JPEG layout %q (want planet or ycbcr420)", ErrOptions, s)
}

// Options control image generation.
type Options struct {
	Size    int    // width and height in pixels; 0 = 256
	Seed    uint64 // with the image name, determines every pixel
	Quality int    // JPEG quality; 0 = 75 (the Kaggle chips' quality)
	Layout  Layout // JPEG layout; the zero value is the real chips' (PlanetLayout)
	Workers int    // parallel encoders; 0 = GOMAXPROCS
}

func (o Options) withDefaults() Options {
	if o.Size == 0 {
		o.Size = 256
	}
	if o.Quality == 0 {
		o.Quality = 75
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// ErrOptions reports unusable generation options.
var ErrOptions = errors.New("synth: bad options")

func (o Options) validate() error {
	if o.Size < 8 || o.Size > 4096 {
		return fmt.Errorf("%w: size %d not in [8, 4096]", ErrOptions, o.Size)
	}
	if o.Quality < 1 || o.Quality > 100 {
		return fmt.Errorf("%w: quality %d not in [1, 100]", ErrOptions, o.Quality)
	}
	if o.Layout != PlanetLayout && o.Layout != YCbCr420 {
		return fmt.Errorf("%w: unknown JPEG layout %d", ErrOptions, int(o.Layout))
	}
	return nil
}

// EncodeJPEG renders row and writes it to w as a baseline JPEG in opts.Layout.
func EncodeJPEG(w io.Writer, row Row, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	return encode(w, row, opts)
}

func encode(w io.Writer, row Row, opts Options) error {
	img := Render(row, opts.Size, opts.Seed)
	if opts.Layout == YCbCr420 {
		return jpeg.Encode(w, img, &jpeg.Options{Quality: opts.Quality})
	}
	return EncodePlanetJPEG(w, img, opts.Quality)
}

// Generate writes dir/NAME.jpg for every row, creating dir, with
// opts.Workers goroutines. It stops at the first error or when ctx is done.
func Generate(ctx context.Context, dir string, rows []Row, opts Options) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	if err := checkNames(rows); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(opts.Workers, max(len(rows), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := writeImage(dir, rows[i], opts); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for i := range rows {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// checkNames refuses names that would write outside dir or collide.
func checkNames(rows []Row) error {
	seen := make(map[string]int, len(rows))
	for i, row := range rows {
		if row.Name == "" || row.Name != filepath.Base(row.Name) || row.Name == "." || row.Name == ".." ||
			strings.ContainsAny(row.Name, `/\`) {
			return fmt.Errorf("%w: row %d: image name %q is not a plain file name", ErrOptions, i+1, row.Name)
		}
		if j, dup := seen[row.Name]; dup {
			return fmt.Errorf("%w: rows %d and %d: duplicate image name %q", ErrOptions, j+1, i+1, row.Name)
		}
		seen[row.Name] = i
	}
	return nil
}

// writeImage writes through a temporary name so that an interrupted run
// leaves no truncated JPEG behind.
func writeImage(dir string, row Row, opts Options) error {
	path := filepath.Join(dir, row.Name+".jpg")
	tmp, err := os.CreateTemp(dir, "."+row.Name+".*.tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(tmp, 64<<10)
	err = encode(bw, row, opts)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	return nil
}

// WriteFolder writes what "tfprep synth" makes: dir/images/NAME.jpg for every
// row (Generate) and their labels as dir/planet.csv (WriteCSV). It returns
// the images folder and the CSV's path.
func WriteFolder(ctx context.Context, dir string, rows []Row, opts Options) (images, csvPath string, err error) {
	images, csvPath = filepath.Join(dir, "images"), filepath.Join(dir, "planet.csv")
	if err := Generate(ctx, images, rows, opts); err != nil {
		return "", "", err
	}
	f, err := os.Create(csvPath)
	if err != nil {
		return "", "", err
	}
	if err := WriteCSV(f, rows); err != nil {
		f.Close()
		return "", "", fmt.Errorf("%s: %w", csvPath, err)
	}
	return images, csvPath, f.Close()
}

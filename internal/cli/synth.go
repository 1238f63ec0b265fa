package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/tfprep/tfprep/internal/synth"
)

func init() {
	register(&Command{
		Name:  "synth",
		Args:  "--n N | --csv PATH  --out DIR [--seed S] [--size 256] [--layout planet|ycbcr420]",
		Short: "generate Planet-like labelled JPEG chips and their CSV (tests, demo, benchmarks)",
		Long: `Writes DIR/planet.csv (image_name,weather_labels,ground_labels, as the Kaggle Planet
seed's KagglePlanetMCML.csv) and DIR/images/NAME.jpg, one 256x256 JPEG per row whose colours
and textures follow its labels (haze a grey veil, cloudy mostly white, water blue, ...).
--n N samples N rows (synth_00000, ...) from the real Planet label frequencies; --csv draws an
image for every row of an existing CSV in that format (DIR/planet.csv is its canonical
rewrite). The JPEGs are laid out as the real chips (4 components R, G, B, 255, no
subsampling, no JFIF or Adobe marker, quality 75: 2.7 times the DCT blocks of the 3-component
4:2:0 JPEGs of --layout ycbcr420). Every image depends only on --seed, --size, --quality,
--layout and its name, whatever the parallelism.

Examples:
  tfprep synth --n 2000 --out /tmp/planet2k
  tfprep synth --csv KagglePlanetMCML.csv --out /tmp/planet40k --seed 1`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			n := fs.Int("n", 0, "number of rows to sample")
			csvPath := fs.String("csv", "", "generate images for the rows of this CSV instead of sampling")
			out := fs.String("out", "", "output directory (required)")
			seed := fs.Uint64("seed", 1, "seed of label sampling and drawing")
			size := fs.Int("size", 256, "image width and height in pixels")
			quality := fs.Int("quality", 75, "JPEG quality")
			layout := fs.String("layout", "planet", "JPEG layout: planet (4 components, 4:4:4, like the real chips) or ycbcr420")
			workers := fs.Int("workers", 0, "parallel encoders (0 = all cores)")
			return func(ctx context.Context, env *Env, args []string) error {
				if len(args) > 0 || *out == "" || (*n > 0) == (*csvPath != "") || *n < 0 {
					return usagef("want --out DIR and exactly one of --n N (N > 0) or --csv PATH, and no arguments")
				}
				l, err := synth.ParseLayout(*layout)
				if err != nil {
					return usagef("%w", err)
				}
				opts := synth.Options{Size: *size, Seed: *seed, Quality: *quality, Layout: l, Workers: *workers}
				return runSynth(ctx, env, *n, *csvPath, *out, opts)
			}
		},
	})
}

func runSynth(ctx context.Context, env *Env, n int, csvPath, out string, opts synth.Options) error {
	rows := synth.SampleRows(n, opts.Seed)
	if csvPath != "" {
		var err error
		if rows, err = synth.ReadCSVFile(csvPath); err != nil {
			return err
		}
	}
	start := time.Now()
	images, csvOut, err := synth.WriteFolder(ctx, out, rows, opts)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(env.Stdout, "wrote %d images to %s and their labels to %s in %.1fs (%.0f images/s)\n",
		len(rows), images, csvOut, elapsed.Seconds(), float64(len(rows))/elapsed.Seconds())
	return nil
}

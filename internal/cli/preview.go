package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/preview"
)

func init() {
	register(&Command{
		Name:  "preview",
		Args:  "[-n N] [--cols C] [--split NAME] [--seed S] [-o FILE] DIR",
		Short: "draw a contact sheet PNG of examples decoded back from a dataset's shards",
		Long: `Preview picks N examples at random (reproducibly, from --seed) from the shards of a
converted dataset, decodes each image back to pixels as stored (float32 scaled back by 255,
uint8, png, jpeg) and lays them out in a grid, each tile captioned with the key (or shard and
record) and its label names, enlarged by an integer factor when under 128 pixels. The sheet
shows at a glance whether images are upright, colours right (not BGR, not black) and labels
with their images. A damaged shard does not stop it: the damaged byte ranges are reported
on stderr and the exit code is 3.` + previewExamples,
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
	sheet, tiles, damage, err := preview.Sheet(ctx, ds, splits, cfg.n, cfg.seed, cfg.cols)
	for _, d := range damage {
		env.notef("damaged, skipped: %s", d)
	}
	switch {
	case err != nil:
		return err
	case sheet == nil:
		return fmt.Errorf("%s: no records to draw", args[0])
	}
	if err := preview.WritePNG(cfg.out, sheet); err != nil {
		return err
	}
	env.notef("%d examples -> %s (%dx%d)", tiles, cfg.out, sheet.Bounds().Dx(), sheet.Bounds().Dy())
	if len(damage) > 0 {
		return partialf("damaged byte ranges skipped: %d; the sheet shows readable records only", len(damage))
	}
	return nil
}

package cli

import (
	"context"
	"flag"

	"github.com/tfprep/tfprep/dataset"
)

func init() {
	register(&Command{
		Name:  "stats",
		Args:  "[--split NAME] [--json] DIR",
		Short: "count records, labels, pixel mean/std and duplicate keys of a dataset",
		Long: `Stats reads every record of a converted dataset and reports, per split:

  records   how many the shards hold, beside what dataset.json recorded
  pixels    per-channel mean and standard deviation on the 0..1 scale (pixel/255),
            the numbers to put in a spec's image.mean and image.std; for a spec that
            already normalises, the stored values are mapped back to pixels first
  labels    for every label feature, how many examples have each label set
            (value != 0), with the label names from the spec, beside the counts
            dataset.json recorded; a difference is marked with "!"

and over all splits the keys that occur more than once, with where they occur.

A damaged shard does not stop the count: the damaged byte ranges are reported, exit code 3.` + statsExamples,
		Flags: statsFlags,
	})
}

const statsExamples = `

Examples:
  tfprep stats out/demo
  tfprep stats out/demo --split train --json | jq '.splits[0].pixels'`

type statsConfig struct {
	split string
	json  bool
}

func statsFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &statsConfig{}
	fs.StringVar(&cfg.split, "split", "", "only this split (default: all splits)")
	fs.BoolVar(&cfg.json, "json", false, "print the statistics as JSON")
	return func(ctx context.Context, env *Env, args []string) error {
		return runStats(ctx, env, cfg, args)
	}
}

func runStats(ctx context.Context, env *Env, cfg *statsConfig, args []string) error {
	if len(args) != 1 {
		return usagef("want one dataset directory, got %d arguments", len(args))
	}
	ds, err := dataset.Open(ctx, args[0])
	if err != nil {
		return err
	}
	var splits []string
	if cfg.split != "" {
		splits = []string{cfg.split}
	}
	st, err := dataset.Stats(ctx, ds, splits...)
	if err != nil {
		return err
	}
	if err := writeReport(env.Stdout, st, cfg.json); err != nil {
		return err
	}
	if st.Damaged > 0 {
		return partialf("damaged byte ranges skipped: %d; the counts cover the readable records only", st.Damaged)
	}
	return nil
}

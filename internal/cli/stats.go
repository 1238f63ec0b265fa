package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

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

A damaged shard does not stop the count: its readable records are counted, the damaged
byte ranges are reported and the exit code is 3. Use "tfprep verify DIR" to check a dataset
against its manifest.` + statsExamples,
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
	if cfg.json {
		if err := writeJSON(env.Stdout, st); err != nil {
			return err
		}
	} else {
		printStats(env.Stdout, st)
	}
	if st.Damaged > 0 {
		return partialf("damaged byte ranges skipped: %d; the counts cover the readable records only", st.Damaged)
	}
	return nil
}

func printStats(w io.Writer, st *dataset.Statistics) {
	for i, ss := range st.Splits {
		if i > 0 {
			fmt.Fprintln(w)
		}
		mark := ""
		if ss.Records != ss.ManifestRecords {
			mark = " !"
		}
		fmt.Fprintf(w, "split %s: %d records in %d shards (dataset.json: %d)%s\n", ss.Name, ss.Records, ss.Shards, ss.ManifestRecords, mark)
		for _, d := range ss.Damage {
			fmt.Fprintf(w, "  damaged: %s\n", d)
		}
		// One left column wide enough for every row name of the split.
		width := len("pixels (0..1)")
		for _, ls := range ss.Labels {
			width = max(width, len(ls.Feature))
			for _, name := range ls.Names {
				width = max(width, len(name)+2)
			}
		}
		fmt.Fprintf(w, "  %-*s", width, "pixels (0..1)")
		for _, c := range ss.Pixels.Channels {
			fmt.Fprintf(w, " %7s", c)
		}
		for _, row := range []struct {
			name   string
			values []float64
		}{{"  mean", ss.Pixels.Mean}, {"  std", ss.Pixels.Std}} {
			fmt.Fprintf(w, "\n  %-*s", width, row.name)
			for _, v := range row.values {
				fmt.Fprintf(w, " %7.4f", v)
			}
		}
		fmt.Fprintln(w)
		for _, ls := range ss.Labels {
			fmt.Fprintf(w, "  %-*s %7s %13s\n", width, ls.Feature, "count", "dataset.json")
			for j, name := range ls.Names {
				recorded, mark := "-", ""
				if ls.ManifestCounts != nil {
					recorded = "?"
					if j < len(ls.ManifestCounts) {
						recorded = strconv.FormatInt(ls.ManifestCounts[j], 10)
					}
					if recorded != strconv.FormatInt(ls.Counts[j], 10) {
						mark = " !"
					}
				}
				fmt.Fprintf(w, "    %-*s %7d %13s%s\n", width-2, name, ls.Counts[j], recorded, mark)
			}
		}
	}
	fmt.Fprintln(w)
	switch {
	case !st.KeysStored:
		fmt.Fprintln(w, "duplicate keys: unknown (the spec does not store keys)")
	case len(st.Duplicates) == 0:
		fmt.Fprintln(w, "duplicate keys: none")
	default:
		fmt.Fprintf(w, "duplicate keys: %d\n", len(st.Duplicates))
		for _, d := range st.Duplicates {
			fmt.Fprintf(w, "  %q: %s\n", d.Key, strings.Join(d.Where, ", "))
		}
	}
}

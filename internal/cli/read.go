package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/trainer"
)

func init() {
	register(&Command{
		Name:  "read",
		Args:  "[flags] DIR | --csv PATH --images DIR [--spec planet]",
		Short: "iterate a dataset as training would; print throughput and a digest of what was delivered",
		Long: `Read iterates a converted dataset (or a CSV and its images) with the trainer
package, exactly as a training job would, and prints per split:

  throughput   examples/s and MB/s (record bytes read)
  per epoch    examples delivered, distinct keys, and the key multiset hash: the
               sum (mod 2^64) of FNV-1a hashes of the delivered keys. It does not
               depend on order, and the hashes of workers 0..n-1 add up to the
               hash of a single reader, so "each record exactly once per epoch"
               can be checked from the shell.
  verdict      "exactly once" when every epoch delivered each of the worker's
               records once (the manifest's record count, no repeated key); not
               checked with --drop-remainder, or without keys in the spec
  label sums   per label, how many delivered examples have it, over all epochs

Splits are read one after the other, each with its own iterator. The exit code
is 1 when the verdict fails. The iterator's memory bound (shuffle buffer,
read-ahead, prefetched batches) is printed too.` + readExamples,
		Flags: readFlags,
	})
}

const readExamples = `

Examples:
  tfprep read out/demo
  tfprep read out/demo --split train --shuffle 1024 --batch 32 --epochs 2 --seed 7
  for i in 0 1 2; do tfprep read out/demo --workers 3 --worker-index $i --json; done
  tfprep read --csv testdata/demo/planet.csv --images testdata/demo/images --spec planet`

type readConfig struct {
	splits    string
	csv       string
	images    string
	spec      string
	json      bool
	imageType string
	opts      trainer.Options
}

func readFlags(fs *flag.FlagSet) func(ctx context.Context, env *Env, args []string) error {
	cfg := &readConfig{}
	iterFlags(fs, &cfg.opts, &cfg.imageType)
	fs.StringVar(&cfg.splits, "split", "", "comma-separated splits to read (default: all)")
	fs.StringVar(&cfg.csv, "csv", "", "read this CSV and its images instead of a converted dataset")
	fs.StringVar(&cfg.images, "images", "", "with --csv: the images folder")
	fs.StringVar(&cfg.spec, "spec", "planet", "with --csv: preset name or spec file")
	fs.BoolVar(&cfg.json, "json", false, "print the digest as JSON")
	return func(ctx context.Context, env *Env, args []string) error {
		return runRead(ctx, env, cfg, args)
	}
}

// iterFlags declares the trainer options shared by read and train.
func iterFlags(fs *flag.FlagSet, o *trainer.Options, imageType *string) {
	fs.IntVar(&o.BatchSize, "batch", 32, "batch size")
	fs.BoolVar(&o.DropRemainder, "drop-remainder", false, "drop each epoch's last, smaller batch")
	fs.IntVar(&o.Epochs, "epochs", 1, "epochs (negative: forever)")
	fs.IntVar(&o.Shuffle, "shuffle", 0, "shuffle buffer in examples (also shuffles shard order); 0 = file order")
	fs.BoolVar(&o.GlobalShuffle, "global-shuffle", false, "exact uniform permutation per epoch, reading records by offset (uncompressed shards)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed of shard order, shuffle and permutations")
	fs.IntVar(&o.CycleLength, "cycle", 0, "shards read at once (default: min(4, shards))")
	fs.IntVar(&o.BlockLength, "block", 1, "consecutive records taken from each shard of the cycle")
	fs.IntVar(&o.Prefetch, "prefetch", 2, "batches assembled ahead")
	fs.IntVar(&o.Parallelism, "parallelism", 0, "goroutines assembling batches (default: all cores)")
	fs.IntVar(&o.NumWorkers, "workers", 1, "worker sharding: number of workers")
	fs.IntVar(&o.WorkerIndex, "worker-index", 0, "worker sharding: this worker, from 0")
	fs.BoolVar(&o.SkipChecksums, "no-crc", false, "do not verify record checksums")
	fs.BoolVar(&o.SkipCorrupt, "skip-corrupt", false, "skip and count damaged records instead of failing")
	fs.StringVar(imageType, "dtype", "float32", "image element type: float32 or uint8")
}

func runRead(ctx context.Context, env *Env, cfg *readConfig, args []string) error {
	var err error
	if cfg.opts.ImageType, err = trainer.ParseImageType(cfg.imageType); err != nil {
		return &usageError{err}
	}
	type source struct {
		name string
		ds   *trainer.Dataset
	}
	var sources []source
	switch {
	case cfg.csv != "" && len(args) == 0:
		if cfg.images == "" {
			return usagef("--csv needs --images DIR")
		}
		spec, err := dataset.ResolveSpec(ctx, cfg.spec)
		if err != nil {
			return &usageError{err}
		}
		ds, err := trainer.FromCSV(spec, cfg.csv, cfg.images)
		if err != nil {
			return err
		}
		sources = append(sources, source{"csv", ds})
	case cfg.csv == "" && len(args) == 1:
		names, sets, err := trainer.OpenSplits(args[0], splitList(cfg.splits)...)
		if err != nil {
			return err
		}
		for i, name := range names {
			sources = append(sources, source{name, sets[i]})
		}
	default:
		return usagef("want one dataset directory, or --csv and --images without one")
	}
	var digests []trainer.Digest
	failed := false
	for _, src := range sources {
		d, err := trainer.ReadDigest(ctx, src.name, src.ds, cfg.opts)
		if err != nil {
			if errors.Is(err, trainer.ErrOptions) {
				return usagef("split %s: %w", src.name, err)
			}
			return fmt.Errorf("split %s: %w", src.name, err)
		}
		failed = failed || strings.HasPrefix(d.Verdict, "FAILED")
		digests = append(digests, d)
	}
	if cfg.json {
		err = writeJSON(env.Stdout, map[string]any{"options": optionsJSON(cfg.opts), "splits": digests})
	} else {
		for _, d := range digests {
			if err = d.WriteText(env.Stdout); err != nil {
				break
			}
		}
	}
	if err == nil && failed {
		err = errFailed
	}
	return err
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func optionsJSON(o trainer.Options) map[string]any {
	return map[string]any{
		"batch": o.BatchSize, "drop_remainder": o.DropRemainder, "epochs": o.Epochs, "shuffle": o.Shuffle,
		"global_shuffle": o.GlobalShuffle, "seed": o.Seed, "cycle": o.CycleLength, "block": o.BlockLength,
		"workers": o.NumWorkers, "worker_index": o.WorkerIndex, "dtype": o.ImageType.String(),
	}
}

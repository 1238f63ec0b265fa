package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register(&Command{
		Name:  "reshard",
		Args:  "SRC DST [--shards N | --shard-size S] [--compression C] [--seed N] [--index] [--splits ...]",
		Short: "rewrite a converted dataset with other shards, compression, order or splits (no image decoded)",
		Long: `Reshard reads the dataset SRC (a directory written by convert, reshard or merge) and writes
DST with the same records, byte for byte: only the number and size of the shards, their
compression, the order of the records and, with --splits, the splits change. No image is
decoded, so it runs at the speed of the storage.

It is a Beam pipeline like convert, on the same runners (Prism here by default; Beam's
--runner flags choose another), with convert's guarantees: shards under temporary names
until one final step commits them, dataset.json written last, rows read (SRC's records)
= records written, and the same DST bytes when run again with the same flags.
"tfprep verify DST" checks it.

--seed picks the shard of each record and its place in the shard (default: SRC's seed).
--splits re-assigns every record by the seeded hash of its key, as convert does; it is
refused when SRC's spec does not store keys (key.omit). Without --splits, each record
stays in its split.

A worker holds one shard in memory while it writes it.

Exit codes: 0 written; 1 failed (nothing written); 2 usage error.

Examples:
  tfprep reshard out/planet out/planet-1000 --shards 1000
  tfprep reshard out/planet out/planet-gz --shard-size 64MiB --compression gzip --seed 7
  tfprep reshard out/planet out/planet-3way --splits train=0.8,validation=0.1,test=0.1`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return rewriteFlags(fs, "reshard")
		},
	})
}

// rewriteFlags declares the flags reshard and merge share and returns the
// command: the last argument is DST, the others the sources.
func rewriteFlags(fs *flag.FlagSet, name string) func(context.Context, *Env, []string) error {
	inheritGlobalFlags(fs)
	shards := fs.Int("shards", 0, "shards per split (default: from --shard-size)")
	shardSize := fs.String("shard-size", "128MiB", "target shard size when --shards is not given (B, KB, MB, GB, KiB, MiB, GiB)")
	compression := fs.String("compression", "none", "shard compression: none, gzip or zlib")
	seed := fs.Int64("seed", 0, "seed of shard assignment, order in a shard and, with --splits, split assignment (default: the first source's)")
	splits := fs.String("splits", "", "re-split by key hash, e.g. train=0.9,validation=0.1 (default: keep each record's split)")
	index := fs.Bool("index", false, "write a DALI index sidecar (SHARD.idx) per shard; uncompressed shards only")
	sha := fs.Bool("sha256", false, "record each shard's SHA-256 in dataset.json besides its CRC-32C")
	overwrite := fs.Bool("overwrite", false, "replace an earlier dataset in DST")
	quiet := fs.Bool("quiet", false, "no summary")
	return func(ctx context.Context, env *Env, args []string) error {
		switch {
		case name == "reshard" && len(args) != 2:
			return usagef("want SRC DST, got %d arguments", len(args))
		case name == "merge" && len(args) < 3:
			return usagef("want at least two sources and DST, got %d arguments", len(args))
		}
		cfg := pipeline.RewriteConfig{
			Sources:     args[:len(args)-1],
			Out:         args[len(args)-1],
			Shards:      *shards,
			Index:       *index,
			SHA256:      *sha,
			Overwrite:   *overwrite,
			CommandLine: os.Args,
			ToolVersion: toolVersion(),
		}
		var err error
		if cfg.Splits, err = pipeline.ParseSplits(*splits); err != nil {
			return usagef("%w", err)
		}
		if cfg.Shards == 0 {
			if cfg.ShardSize, err = parseSize(*shardSize); err != nil {
				return usagef("--shard-size: %w", err)
			}
		}
		if cfg.Compression, err = tfrecord.ParseCompression(*compression); err != nil {
			return usagef("--compression: %w", err)
		}
		cfg.Seed = *seed
		if !flagSet(fs, "seed") {
			src, err := dataset.Open(ctx, cfg.Sources[0])
			if err != nil {
				return err
			}
			cfg.Seed = src.Manifest.Seed
		}
		if pipeline.WorkersInProcess(pipeline.Config{}) {
			// Beam and Prism chatter would bury the errors, which Rewrite
			// returns anyway.
			prev := slog.Default()
			slog.SetDefault(slog.New(slog.DiscardHandler))
			defer slog.SetDefault(prev)
		}
		start := time.Now()
		m, err := pipeline.Rewrite(ctx, cfg)
		switch {
		case errors.Is(err, pipeline.ErrConfig), errors.Is(err, pipeline.ErrSplits):
			return usagef("%w", err)
		case err != nil:
			return err
		case m == nil:
			env.notef("job submitted without waiting for it (dry run or --async)")
			return nil
		}
		if !*quiet {
			printSummary(env.Stdout, cfg.Out, m, pipeline.CurrentProgress(), time.Since(start))
		}
		return nil
	}
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

package cli

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/pipeline"
)

func init() {
	register(&Command{
		Name:  "reshard",
		Args:  "SRC DST [--shards N | --shard-size S] [--compression C] [--seed N] [--index] [--splits ...] [--duplicate-keys warn|reject] [--encoding float32|uint8|png]",
		Short: "rewrite a converted dataset with other shards, compression, order, splits or lossless image encoding (no source image read)",
		Long: `Reshard reads the dataset SRC (a directory written by convert, reshard or merge) and writes
DST with the same records, byte for byte: only the number and size of the shards, their
compression, the order of the records and, with --splits, the splits change (and, with
--encoding, the image encoding, see below). No source image is read and, without
--encoding, no image decoded, so it runs at the speed of the storage.

It is a Beam pipeline like convert, on the same runners (Prism here by default; Beam's
--runner flags choose another), with convert's guarantees: shards under temporary names
until one final step commits them, dataset.json written last, rows read (SRC's records)
= records written, and the same DST bytes when run again with the same flags.
"tfprep verify DST" checks it.

--seed picks the shard of each record and its place in the shard (default: SRC's seed).
--splits re-assigns every record by the seeded hash of its key, as convert does; it is
refused when SRC's spec does not store keys (key.omit). Without --splits, each record
stays in its split.

Only references to the records (file, offset, length, key) are shuffled; the step that
writes a shard reads its records by offset, one at a time, so memory does not grow with
the size of the records or of the shards. A compressed SRC is first copied uncompressed
to DST's staging directory (removed at the commit), since gzip and zlib streams cannot be
read at an offset.

--encoding re-encodes the images without their source images, where no pixel changes:
float32 written from 8-bit pixels (every value k/255, checked value by value; a record
that has another value fails the run and is named), uint8 and png become one another. The
bytes are those convert writes for the same pixels, and DST's manifest describes the new
encoding, so trainer, cat and "spec python DST" read it. JPEG (stored or asked for),
normalised float32 (image.mean/std) and resizing are refused: they need the source images,
so run convert again.

A key that an earlier record has is written with a warning (rows.warned), or rejected
(errors.csv, stage label) with --duplicate-keys=reject, as convert does.

Exit codes: 0 written; 3 written, some records rejected (see errors.csv); 1 failed
(nothing written); 2 usage error.

Examples:
  tfprep reshard out/planet out/planet-1000 --shards 1000
  tfprep reshard out/planet out/planet-gz --shard-size 64MiB --compression gzip --seed 7
  tfprep reshard out/planet out/planet-3way --splits train=0.8,validation=0.1,test=0.1
  tfprep reshard out/flowers-uint8 out/flowers-float32 --encoding float32`,
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			return rewriteFlags(fs, "reshard")
		},
	})
}

// rewriteFlags declares the flags reshard and merge share and returns the
// command: the last argument is DST, the others the sources.
func rewriteFlags(fs *flag.FlagSet, name string) func(context.Context, *Env, []string) error {
	inheritGlobalFlags(fs)
	write := declareWriteFlags(fs, writeUsage{ // writeflags.go
		Splits: "re-split by key hash, e.g. train=0.9,validation=0.1 (default: keep each record's split)",
		Seed:   "seed of shard assignment, order in a shard and, with --splits, split assignment (default: the first source's)",
		Rows:   "records",
	})
	encoding := fs.String("encoding", "", "re-encode the images where no pixel changes: float32 (from 8-bit pixels), uint8 or png (default: as stored)")
	quiet := fs.Bool("quiet", false, "no summary")
	return func(ctx context.Context, env *Env, args []string) error {
		switch {
		case name == "reshard" && len(args) != 2:
			return usagef("want SRC DST, got %d arguments", len(args))
		case name == "merge" && len(args) < 3:
			return usagef("want at least two sources and DST, got %d arguments", len(args))
		}
		w, err := write.parse(env)
		if err != nil {
			return err
		}
		cfg := pipeline.RewriteConfig{
			Sources:             args[:len(args)-1],
			Out:                 args[len(args)-1],
			Splits:              w.Splits,
			Shards:              w.Shards,
			ShardSize:           w.ShardSize,
			Compression:         w.Compression,
			Seed:                w.Seed,
			Index:               w.Index,
			SHA256:              w.SHA256,
			Overwrite:           w.Overwrite,
			RejectDuplicateKeys: w.RejectDuplicateKeys,
			Encoding:            *encoding,
			CommandLine:         os.Args,
			ToolVersion:         toolVersion(),
		}
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
		case errors.Is(err, pipeline.ErrConfig), errors.Is(err, pipeline.ErrSplits), errors.Is(err, pipeline.ErrReencode):
			return usagef("%w", err)
		case err != nil:
			return err
		case m == nil:
			env.notef("job submitted without waiting for it (dry run or --async)")
			return nil
		}
		if !*quiet {
			pipeline.WriteSummary(env.Stdout, cfg.Out, m, pipeline.CurrentProgress(), time.Since(start))
		}
		if m.Rows.Rejected > 0 {
			return partialf("%d of %d records rejected; see %s", m.Rows.Rejected, m.Rows.Read, strings.TrimSuffix(cfg.Out, "/")+"/"+dataset.ErrorsName)
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

package cli

import (
	"context"
	"errors"
	"flag"
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
		Long: `Reshard reads the dataset SRC (written by convert, reshard or merge) and writes DST with
the same records, byte for byte: only the shards' number, size and compression, the order
of the records, with --splits the splits, and with --encoding the image encoding change.
No source image is read, so it runs at the speed of the storage, in bounded memory (records
are moved by reference and read by offset; a compressed SRC is first copied uncompressed to
DST's staging directory). It is a Beam pipeline like convert, on the same runners, with the
same guarantees: dataset.json last, rows read (SRC's records) = records written, the same
bytes when run again ("tfprep verify DST" checks it). It waits for its job, which runs under
DST's lease: Beam's --async is refused.

--seed picks each record's shard and place (default: SRC's). --splits re-assigns records by
the seeded hash of their key, as convert does (refused when the spec stores no key);
otherwise each record keeps its split. --encoding changes the image encoding only where no
pixel changes: float32 from 8-bit pixels (every value checked to be k/255; a record that is
not fails the run, named), uint8 and png; DST's manifest describes it. JPEG, normalised
float32 and resizing need the source images: run convert again. Repeated keys are warned
about, or rejected with --duplicate-keys=reject, as convert does.

Exit codes as convert's: 3 when some records were rejected (see errors.csv).

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
		defer pipeline.RouteLogs(pipeline.Config{}, env.Stderr)()
		start := time.Now()
		m, err := pipeline.Rewrite(ctx, cfg)
		switch {
		case errors.Is(err, pipeline.ErrConfig), errors.Is(err, pipeline.ErrSplits), errors.Is(err, pipeline.ErrReencode):
			return usagef("%w", err)
		case err != nil:
			return err
		case m == nil:
			env.notef("dry run: the job was not run")
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

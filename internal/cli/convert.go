package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/schema"
)

func init() {
	register(&Command{
		Name:  "convert",
		Args:  "--spec planet|FILE --csv PATH[,PATH...] --images DIR --out DIR [flags] | --spec imagefolder --images ROOT --out DIR [flags]",
		Short: "convert a CSV + JPEG folder into split, sharded TFRecord files (Apache Beam)",
		Long: `Convert reads the CSV (one row per image: key, image path and the label columns the spec
names; with --spec imagefolder no CSV: one row per file of --images ROOT/CLASS/IMAGE),
preprocesses every image as the spec says (Keras load_img-identical by default) and writes
tf.train.Example records:

  OUT/{split}-{SSSSS}-of-{NNNNN}.tfrecord[.gz|.zz]   the shards, shuffled at write time
  OUT/errors.csv                                      every rejected row: line,key,stage,reason
  OUT/dataset.json                                    the manifest, written last

Splits, shards and the order inside a shard follow seeded hashes of the key: the same key
always lands in the same split, and the same input and --seed give the same bytes. The
manifest records each shard's records, bytes and CRC-32C (SHA-256 too with --sha256), and
rows read = records written + rows rejected ("tfprep verify OUT" checks it all).

Bad rows do not fail the conversion: a row that does not parse (stage csv), has invalid
labels or an image path leaving --images, by text or by a symbolic link (label), a corrupt
image (image) or a missing one (io) goes to errors.csv and is counted. A repeated key is
written with a warning, or rejected with --duplicate-keys=reject. Beyond --max-errors
rejected rows, or with no row written at all, the conversion fails: no shard gets its final
name and no manifest is written.

--csv, --images and --out may be local paths, gs:// or s3:// URLs; --csv may name several
files with the same header (repeated, comma-separated, or a quoted glob such as
'gs://b/rows-*.csv'), read in parallel byte ranges. Beam runs the pipeline here on Prism by
default; Beam's flags choose another runner (--runner=universal --endpoint=HOST:PORT for
Flink, Spark or a Prism job server; --runner=dataflow --project=P --region=R
--staging_location=gs://... [--dry_run]). On a terminal a progress line runs on stderr; a
summary per split ends the run.

Exit codes: 0 converted, no row rejected; 3 converted, some rows rejected (see errors.csv);
1 failed (nothing usable written); 2 usage error.

Examples:
  tfprep convert --spec planet --csv planet.csv --images train-jpg --out out/planet \
      --splits train=0.9,validation=0.1 --shard-size 128MiB --seed 42
  tfprep convert --spec imagefolder --images flowers/ --out out/flowers --splits train=0.8,validation=0.2
  tfprep convert --spec planet --csv gs://b/planet.csv --images gs://b/train-jpg --out gs://b/tfr \
      --runner=dataflow --project=P --region=europe-west1 --staging_location=gs://b/staging \
      --worker_binary=bin/tfprep-linux-amd64`,
		Flags: convertFlags,
	})
}

// csvList is --csv: repeated, each value a comma-separated list of files and
// globs.
type csvList []string

func (l *csvList) String() string { return strings.Join(*l, ",") }

func (l *csvList) Set(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			return fmt.Errorf("empty file name in %q", s)
		}
		*l = append(*l, part)
	}
	return nil
}

func convertFlags(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	inheritGlobalFlags(fs)
	specName := fs.String("spec", "planet", "dataset spec: a preset ("+strings.Join(schema.PresetNames(), ", ")+") or a YAML/JSON spec file")
	var csvPaths csvList
	fs.Var(&csvPaths, "csv", "the CSV of image names and labels: a file or a glob; repeat it or separate with commas for several (required, except for an imagefolder spec)")
	images := fs.String("images", "", "directory the spec's image paths are relative to (required)")
	out := fs.String("out", "", "output directory; must be empty unless --overwrite (required)")
	write := declareWriteFlags(fs, writeUsage{ // writeflags.go
		Splits: "splits and their weights, e.g. train=0.9,validation=0.1 (default: all rows in train)",
		Seed:   "seed of split assignment and write-time shuffle",
		Rows:   "rows",
	})
	maxErrors := fs.String("max-errors", "", "fail when more rows than N, or than P% of the rows read, are rejected (default: no limit)")
	followLinks := fs.Bool("follow-symlinks-outside", false, "read images through symbolic links that point outside --images (refused by default, stage io)")
	size := fs.Int("size", 0, "override the spec's image width and height (pixels)")
	resize := fs.String("resize", "", "override the spec's resize filter: nearest, bilinear, bicubic, box, hamming, lanczos")
	encoding := fs.String("encoding", "", "override the spec's image encoding: float32, uint8, png, jpeg")
	workers := fs.Int("workers", 0, "images decoded at once by each shard writer, for all the shards it writes; on a bucket 64 reads per decoder are in flight (default: GOMAXPROCS of the worker)")
	quiet := fs.Bool("quiet", false, "no progress line and no summary")
	launch := launchFlags(fs) // convert_launch.go
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *images == "" || *out == "" {
			return usagef("--csv, --images and --out are required (--images and --out for an imagefolder spec)")
		}
		spec, err := dataset.ResolveSpec(ctx, *specName)
		if err != nil {
			return err
		}
		if len(csvPaths) == 0 && spec.Source != schema.SourceImageFolder {
			return usagef("--csv, --images and --out are required: the spec %s reads its rows from a CSV (an image folder ROOT/CLASS/IMAGE needs none: --spec imagefolder)", spec.Name)
		}
		if *size != 0 {
			spec.Image.Width, spec.Image.Height = *size, *size
		}
		if *resize != "" {
			spec.Image.Filter = *resize
		}
		if *encoding != "" {
			spec.Image.Encoding = *encoding
		}
		if err := spec.Validate(); err != nil {
			return &usageError{err}
		}
		w, err := write.parse(env)
		if err != nil {
			return err
		}
		cfg := pipeline.Config{
			Spec:        spec,
			CSV:         csvPaths,
			Images:      *images,
			Out:         *out,
			Splits:      w.Splits,
			Shards:      w.Shards,
			ShardSize:   w.ShardSize,
			Compression: w.Compression,
			Seed:        w.Seed,
			Overwrite:   w.Overwrite,
			Index:       w.Index,
			SHA256:      w.SHA256,
			Workers:     *workers,
			CommandLine: os.Args,

			RejectDuplicateKeys:   w.RejectDuplicateKeys,
			FollowSymlinksOutside: *followLinks,
			ToolVersion:           toolVersion(),
			Launch:                launch(),
		}
		if cfg.MaxErrors, err = pipeline.ParseErrorLimit(*maxErrors); err != nil {
			return &usageError{err}
		}
		err = runConvert(ctx, env, cfg, *quiet)
		if herr := (*schema.HeaderError)(nil); !flagSet(fs, "spec") && errors.As(err, &herr) {
			return fmt.Errorf("%w (no --spec was given, so the default spec %q was assumed)", err, *specName)
		}
		return err
	}
}

// runConvert runs the conversion, with a progress line while it runs and a
// summary after it.
func runConvert(ctx context.Context, env *Env, cfg pipeline.Config, quiet bool) error {
	defer pipeline.RouteLogs(cfg, env.Stderr)()
	start := time.Now()
	stop := func() {}
	if pipeline.WorkersInProcess(cfg) && !quiet && isTerminal(env.Stderr) {
		stop = showProgress(env.Stderr, start)
	}
	m, err := pipeline.Convert(ctx, cfg)
	stop()
	switch {
	case errors.Is(err, pipeline.ErrConfig), errors.Is(err, pipeline.ErrSplits):
		return &usageError{err}
	case err != nil:
		return err
	case m == nil:
		env.notef("job submitted without waiting for it (dry run or --async); nothing converted here")
		return nil
	}
	if !quiet {
		if err := pipeline.WriteSummary(env.Stdout, cfg.Out, m, pipeline.CurrentProgress(), time.Since(start)); err != nil {
			return err
		}
	}
	if m.Rows.Rejected > 0 {
		return partialf("%d of %d rows rejected; see %s", m.Rows.Rejected, m.Rows.Read, strings.TrimSuffix(cfg.Out, "/")+"/"+dataset.ErrorsName)
	}
	return nil
}

// showProgress redraws one status line on w every half second until the
// returned function is called, which clears it.
func showProgress(w io.Writer, start time.Time) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		var rate pipeline.RateWindow
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-tick.C:
				p := pipeline.CurrentProgress()
				r := rate.Add(now.Sub(start), p.ImagesWritten+p.Rejected)
				fmt.Fprintf(w, "\r\033[K%s", p.Line(r))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// toolVersion is the module version of this build ("(devel)" from a
// checkout).
func toolVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/pipeline"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register(&Command{
		Name:  "convert",
		Args:  "--spec planet|FILE --csv PATH --images DIR --out DIR [flags]",
		Short: "convert a CSV + JPEG folder into split, sharded TFRecord files (Apache Beam)",
		Long: `Convert reads the CSV (one row per image: the key column, the image path and the
label columns the spec names), reads and preprocesses every image as the spec says
(Keras load_img-identical by default), and writes tf.train.Example records:

  OUT/{split}-{SSSSS}-of-{NNNNN}.tfrecord[.gz|.zz]   the shards, shuffled at write time
  OUT/errors.csv                                      every rejected row: line,key,stage,reason
  OUT/dataset.json                                    the manifest, written last

Rows are assigned to splits by a seeded hash of their key (the same key always lands in
the same split) and to shards likewise; inside a shard, records are ordered by a seeded
hash, so the output is shuffled and byte-identical when the same input is converted again
with the same --seed. The manifest records, per shard, records, bytes and SHA-256, and
rows read = records written + rows rejected ("tfprep verify OUT" checks it all).

Bad rows never fail the conversion by default: a row that does not parse (stage csv),
whose labels or image path are invalid (label; image paths may not leave --images, by their
text or through a symbolic link unless --follow-symlinks-outside), whose
image is corrupt (image) or missing (io) goes to errors.csv and is counted. A key that
an earlier line has is written with a warning (rows.warned in the manifest, and the
summary), or rejected (stage label) with --duplicate-keys=reject. --max-errors
fails the conversion when more rows than that are rejected: no shard gets its final name
and no manifest is written. A conversion that read rows but wrote none always fails so
(errors.csv stays, and the message says which stage rejected most rows).

The pipeline runs on Apache Beam. By default it runs here, on the in-process Prism runner,
with nothing to install or start. Beam's flags choose another runner:
  --runner=universal --endpoint=HOST:PORT   a portable job server (Flink, Spark, Prism)
  --runner=dataflow --project=P --region=R --staging_location=gs://... [--dry_run]
--csv, --images and --out may be local paths, gs:// or s3:// URLs.

A progress line (rows done / total, percent, current rate, ETA, MB written, rejected) is
shown on stderr when it is a terminal and the workers run in this process; a summary table
(per split, with shard writing time summed over shards, then the wall time) ends the run.

Exit codes: 0 converted, no row rejected; 3 converted, some rows rejected (see errors.csv);
1 failed (nothing usable written); 2 usage error.` + convertExamples,
		Flags: convertFlags,
	})
}

const convertExamples = `

Examples:
  tfprep convert --spec planet --csv planet.csv --images train-jpg --out out/planet \
      --splits train=0.9,validation=0.1 --shard-size 128MiB --seed 42
  tfprep convert --spec planet --csv gs://b/planet.csv --images gs://b/train-jpg --out gs://b/tfr \
      --runner=dataflow --project=P --region=europe-west1 --staging_location=gs://b/staging \
      --worker_binary=bin/tfprep-linux-amd64`

func convertFlags(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
	inheritGlobalFlags(fs)
	specName := fs.String("spec", "planet", "dataset spec: a preset ("+strings.Join(schema.PresetNames(), ", ")+") or a YAML/JSON spec file")
	csvPath := fs.String("csv", "", "the CSV of image names and labels (required)")
	images := fs.String("images", "", "directory the spec's image paths are relative to (required)")
	out := fs.String("out", "", "output directory; must be empty unless --overwrite (required)")
	splits := fs.String("splits", "", "splits and their weights, e.g. train=0.9,validation=0.1 (default: all rows in train)")
	shards := fs.Int("shards", 0, "shards per split (default: from --shard-size)")
	shardSize := fs.String("shard-size", "128MiB", "target shard size when --shards is not given (B, KB, MB, GB, KiB, MiB, GiB)")
	compression := fs.String("compression", "none", "shard compression: none, gzip or zlib")
	seed := fs.Int64("seed", 0, "seed of split assignment and write-time shuffle")
	maxErrors := fs.String("max-errors", "", "fail when more rows than N, or than P% of the rows read, are rejected (default: no limit)")
	overwrite := fs.Bool("overwrite", false, "replace an earlier conversion in --out")
	followLinks := fs.Bool("follow-symlinks-outside", false, "read images through symbolic links that point outside --images (refused by default, stage io)")
	duplicates := fs.String("duplicate-keys", "warn", "rows whose key an earlier line has: warn (write them, listed as warnings) or reject (stage label)")
	index := fs.Bool("index", false, "write a DALI index sidecar (SHARD.idx) per shard; uncompressed shards only")
	sha := fs.Bool("sha256", false, "record each shard's SHA-256 in dataset.json besides its CRC-32C (costs CPU: SHA-256 runs at ~2 GB/s)")
	size := fs.Int("size", 0, "override the spec's image width and height (pixels)")
	resize := fs.String("resize", "", "override the spec's resize filter: nearest, bilinear, bicubic, box, hamming, lanczos")
	encoding := fs.String("encoding", "", "override the spec's image encoding: float32, uint8, png, jpeg")
	workers := fs.Int("workers", 0, "image decoding goroutines per shard (default: GOMAXPROCS of the worker)")
	quiet := fs.Bool("quiet", false, "no progress line and no summary")
	launch := launchFlags(fs) // convert_launch.go
	return func(ctx context.Context, env *Env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected arguments %q", args)
		}
		if *csvPath == "" || *images == "" || *out == "" {
			return usagef("--csv, --images and --out are required")
		}
		spec, err := dataset.ResolveSpec(ctx, *specName)
		if err != nil {
			return err
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
		cfg := pipeline.Config{
			Spec:        spec,
			CSV:         *csvPath,
			Images:      *images,
			Out:         *out,
			Shards:      *shards,
			Seed:        *seed,
			Overwrite:   *overwrite,
			Index:       *index,
			SHA256:      *sha,
			Workers:     *workers,
			CommandLine: os.Args,

			FollowSymlinksOutside: *followLinks,
			ToolVersion:           toolVersion(),
			Launch:                launch(),
		}
		switch *duplicates {
		case "warn":
		case "reject":
			cfg.RejectDuplicateKeys = true
		default:
			return usagef("--duplicate-keys %q: want warn or reject", *duplicates)
		}
		if cfg.Splits, err = pipeline.ParseSplits(*splits); err != nil {
			return &usageError{err}
		}
		if cfg.Shards == 0 {
			if cfg.ShardSize, err = parseSize(*shardSize); err != nil {
				return usagef("--shard-size: %w", err)
			}
		}
		if cfg.Compression, err = tfrecord.ParseCompression(*compression); err != nil {
			return usagef("--compression: %w", err)
		}
		if cfg.MaxErrors, err = pipeline.ParseErrorLimit(*maxErrors); err != nil {
			return &usageError{err}
		}
		return runConvert(ctx, env, cfg, *quiet)
	}
}

// runConvert runs the conversion, with a progress line while it runs and a
// summary after it.
func runConvert(ctx context.Context, env *Env, cfg pipeline.Config, quiet bool) error {
	local := pipeline.WorkersInProcess(cfg)
	// Beam and Prism log through slog. Here, for a local run, their
	// chatter would bury the progress line and the errors, which Convert
	// returns anyway; for other runners (the Dataflow dry run prints the job
	// through it) the log goes to the command's stderr.
	prev := slog.Default()
	if local {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	} else {
		slog.SetDefault(slog.New(slog.NewTextHandler(env.Stderr, nil)))
		// An in-process worker that ran earlier in this process leaves
		// Beam logging to its runner; route it back through slog.
		beamlog.SetLogger(&beamlog.Structural{})
	}
	defer slog.SetDefault(prev)

	start := time.Now()
	stop := func() {}
	if local && !quiet && isTerminal(env.Stderr) {
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
		printSummary(env.Stdout, cfg.Out, m, pipeline.CurrentProgress(), time.Since(start))
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
		var rate rateWindow
		for {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case now := <-tick.C:
				p := pipeline.CurrentProgress()
				r := rate.add(now.Sub(start), p.ImagesWritten+p.Rejected)
				fmt.Fprintf(w, "\r\033[K%s", progressLine(p, r))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// rateWindow is a moving-window rate: rows done per second over the last
// rateSpan of samples, so the rate follows the conversion as it is now.
type rateWindow struct {
	samples []rateSample
}

type rateSample struct {
	at   time.Duration
	done int64
}

const rateSpan = 10 * time.Second

// add records done rows at elapsed time at and returns the rate over the
// window (0 until two samples are apart).
func (r *rateWindow) add(at time.Duration, done int64) float64 {
	r.samples = append(r.samples, rateSample{at, done})
	for len(r.samples) > 2 && at-r.samples[1].at >= rateSpan {
		r.samples = r.samples[1:]
	}
	first := r.samples[0]
	if at <= first.at {
		return 0
	}
	return float64(done-first.done) / (at - first.at).Seconds()
}

// progressLine formats p with the current rate (rows done per second):
// rows done (written + rejected) of the total once the CSV has been read,
// the percentage, the rate, the ETA at that rate, the megabytes of shards
// written and the rows rejected.
func progressLine(p pipeline.Progress, rate float64) string {
	done := p.ImagesWritten + p.Rejected
	total, percent, eta := "?", "reading CSV", "ETA -"
	if p.CSVDone {
		total = group(p.RowsRead)
		percent = fmt.Sprintf("%.1f%%", 100*float64(done)/float64(max(p.RowsRead, 1)))
		if rate > 0 {
			eta = "ETA " + formatDuration(time.Duration(float64(max(p.RowsRead-done, 0))/rate*float64(time.Second)))
		}
	}
	return fmt.Sprintf("images %s / %s (%s)  %s/s  %s  %s MB written  %s rejected",
		group(done), total, percent, group(int64(math.Round(rate))), eta, megabytes(p.BytesWritten), group(p.Rejected))
}

// formatDuration rounds d to the second (to the millisecond under 10 s)
// in Go's notation: 1m5s, 2h0m3s, 4.217s.
func formatDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// megabytes formats n bytes in MB (10^6), one decimal, with thousands
// separators.
func megabytes(n int64) string {
	tenths := (n + 50_000) / 100_000
	return fmt.Sprintf("%s.%d", group(tenths/10), tenths%10)
}

// printSummary writes the per-split table: records, shards, megabytes and
// the time spent writing the split's shards summed over its shards ("-"
// when the workers ran elsewhere), then the wall time of the whole run, the
// row accounting and any warnings.
func printSummary(w io.Writer, out string, m *dataset.Manifest, p pipeline.Progress, elapsed time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\trecords\tshards\tsize (MB)\tshard writing time (summed over shards)\t")
	var records, shards, size int64
	var busy time.Duration
	timed := false
	for _, sp := range m.Splits {
		t := "-"
		if d, ok := p.SplitTime[sp.Name]; ok {
			t, busy, timed = formatDuration(d), busy+d, true
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\n", sp.Name, group(sp.Records), len(sp.Shards), megabytes(sp.Bytes), t)
		records += sp.Records
		shards += int64(len(sp.Shards))
		size += sp.Bytes
	}
	total := "-"
	if timed {
		total = formatDuration(busy)
	}
	fmt.Fprintf(tw, "total\t%s\t%d\t%s\t%s\t\n", group(records), shards, megabytes(size), total)
	tw.Flush()
	r := m.Rows
	fmt.Fprintf(w, "wall time: %s (shards are written in parallel, so their summed time may exceed it)\n", formatDuration(elapsed))
	fmt.Fprintf(w, "rows: %s read = %s written + %s rejected", group(r.Read), group(r.Written), group(r.Rejected))
	if r.Rejected > 0 {
		var parts []string
		for _, s := range dataset.Stages {
			if n := r.RejectedByStage[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", s, n))
			}
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	if r.Warned > 0 {
		fmt.Fprintf(w, "warning: %s rows kept with doubtful labels or repeated keys (listed in dataset.json; a spec with strict: true, or --duplicate-keys=reject, rejects them)", group(r.Warned))
		if len(r.Warnings) > 0 {
			fmt.Fprintf(w, ", first: line %d (%s): %s", r.Warnings[0].Line, r.Warnings[0].Key, r.Warnings[0].Reason)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "wrote %s (decoder %s, %s images/s over the wall time)\n", out, m.Decoder, group(int64(math.Round(float64(r.Written)/max(elapsed.Seconds(), 1e-3)))))
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// parseSize parses a byte size: a number with an optional unit B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), case-insensitive.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
	}
	lower := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	for _, u := range units {
		if num, ok := strings.CutSuffix(lower, u.suffix); ok {
			lower, scale = strings.TrimSpace(num), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(lower, 64)
	if err != nil || !(v*scale >= 1) || v*scale > 1<<50 {
		return 0, fmt.Errorf("%q is not a size such as 128MiB", s)
	}
	return int64(v * scale), nil
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

// Package pipeline is the Beam pipeline behind "tfprep convert": CSV +
// images → split, sharded, shuffled TFRecord files of tf.train.Example, a
// manifest and an errors file (the layout is package dataset's contract).
//
// The graph, one composite per step:
//
//	ReadRows     CSV files, in byte ranges read in parallel → csvRecord
//	             (+ csv-stage rejects, + readCount per range); for an image
//	             folder, ReadFolder: the listing of --images → csvRecord{path,
//	             class} (folder.go)
//	DecodeRows   csvRecord → splitRow via the spec (+ label-stage rejects)
//	AssignSplit  splitRow.Split = seeded hash of the key into TFX-style buckets
//	CountRows    rows per split, a combiner (for shard sizing and Finalize)
//	AssignShard  splitRow.Shard, keyed "split/shard", in batches of rows;
//	             with size-based sharding each split's rows are spread over
//	             shardBuckets groups, each joined with the split's count
//	WriteShards  GroupByKey of the small rows; per shard: order by seeded
//	             hash, read + preprocess images on a bounded goroutine pool,
//	             serialise, write to a temporary name unique to the attempt
//	             (+ image- and io-stage rejects; repeated keys, which
//	             land in the same shard, warned about or rejected)
//	Finalize     one step waiting on everything: row invariant, --max-errors,
//	             rename to final names, errors.csv, the manifest last; rows
//	             read and warnings reach it through combiners
//
// Image payloads never go through a GroupByKey: only rows (key, image path,
// labels) are shuffled, and each shard's images are read by the step that
// writes the shard.
//
// Every DoFn, function, emitter and iterator is registered, so the same
// binary runs as a worker of distributed runners (Dataflow, Flink, Spark
// through the portable job server) as well as on the in-process Prism
// runner, the default.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// defaultShardSize is the target shard size when neither Shards nor
// ShardSize is set: TensorFlow's guide recommends 100-200 MB per file.
const defaultShardSize = 128 << 20

// DefaultRunner runs the pipeline when --runner is not given: Prism, in
// this process, with nothing else to start.
const DefaultRunner = "prism"

// Errors of Convert, matched with errors.Is.
var (
	// ErrConfig: the configuration is unusable (bad flag values).
	ErrConfig = errors.New("pipeline: bad configuration")
	// ErrSplits: a --splits value cannot be parsed.
	ErrSplits = errors.New("pipeline: bad --splits")
)

// Config is one conversion.
type Config struct {
	Spec *schema.Spec // validated
	// CSV names the CSV files: paths or URLs (gs://, s3://), each a file or
	// a glob whose last element has path.Match wildcards (gs://b/rows-*.csv).
	// Every file must have the same header; their rows are read in
	// parallel, in byte ranges.
	CSV    []string
	Images string // the images root the spec's image paths are relative to
	Out    string // the output directory

	Splits    []SplitWeight // nil: one split, "train"
	Shards    int           // shards per split; 0: from ShardSize
	ShardSize int64         // target shard bytes when Shards is 0; 0: 128 MiB

	Compression tfrecord.Compression // None (also the zero value Auto), GZIP or ZLIB
	Index       bool                 // DALI index sidecars; uncompressed only
	SHA256      bool                 // record each shard's SHA-256 besides its CRC-32C
	Seed        int64
	MaxErrors   ErrorLimit
	Overwrite   bool // replace an earlier conversion in Out
	// RejectDuplicateKeys rejects (stage label) every row whose key an
	// earlier CSV line has; by default such rows are written and warned
	// about (rows.warned).
	RejectDuplicateKeys bool
	// FollowSymlinksOutside lets symbolic links under a local Images root
	// point outside it; by default such an image is refused (stage io).
	FollowSymlinksOutside bool
	// Workers is the number of images a shard-writing DoFn instance
	// decodes at once, for all the shards it writes; 0 = GOMAXPROCS of the
	// worker. On a bucket its reads in flight follow (dataset.DefaultFetch).
	Workers int

	CommandLine []string // recorded in the manifest
	ToolVersion string   // recorded in the manifest

	// Runner overrides the --runner flag; both empty means DefaultRunner.
	Runner string
	// Launch checks and bounds a job whose workers are other processes
	// (see cluster.go).
	Launch LaunchOptions
}

// Convert builds the pipeline for cfg, runs it and returns the manifest it
// wrote. Rejected rows are not an error (see Manifest.Rows); exceeding
// cfg.MaxErrors is (ErrTooManyRejected). An output directory that is not
// empty is refused unless cfg.Overwrite (dataset.ErrOutputExists), and one
// another run is writing is refused (dataset.ErrLocked): Convert holds the
// output's lease from before the job until it returns. An earlier dataset
// in cfg.Out is replaced only at the commit; until then it stays whole,
// whatever happens to this run. With Dataflow's --dry_run or an --async
// submission nothing is converted yet, and Convert returns a nil manifest
// and a nil error (an --async job releases the lease when it ends).
//
// When ctx is cancelled (a signal), the job is cancelled and what this run
// wrote is removed: the error wraps ErrInterrupted and context.Canceled. A
// commit already past its commit point is finished instead, and the error
// says so. A job on a job server (Flink, Spark, a Prism of its own) is asked
// to cancel and waited for, up to 30 s; when its end cannot be confirmed,
// nothing is removed and the lease is not released (it lapses): the error
// wraps ErrInterrupted and ErrJobMayRun and names the job.
func Convert(ctx context.Context, cfg Config) (*dataset.Manifest, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	progress.reset()
	// The CSVs the pre-flight kept whole for the job (csvsnapshot.go) go
	// once it is done.
	defer forgetCSVSnapshots(cfg.CSV)
	runner := cmp.Or(cfg.Runner, *runners.Runner, DefaultRunner)
	// Remote storage is probed while the workers' binary and the inputs are
	// checked (cluster.go); a failed probe is reported first.
	checks, probed := probeStorage(ctx, cfg, runner)
	launch, err := newLaunch(cfg, runner)
	if err != nil {
		return nil, cmp.Or(probed(), err)
	}
	defer launch.close()
	if launch.remote {
		checks = withoutCSVSnapshots(checks) // workers in other processes would not see them
	}
	async := *jobopts.Async && !flagIsTrue("dry_run")
	p, tempDir, lease, err := build(ctx, checks, probed, cfg, async)
	if err != nil {
		return nil, err
	}
	return runJob(ctx, launch, p, tempDir, cfg.Out, lease, async)
}

// runJob runs a pipeline that writes a dataset to out through tempDir under
// lease and returns the manifest it wrote (nil for a dry run or an --async
// submission, whose Finalize releases the lease).
func runJob(ctx context.Context, launch *launch, p *beam.Pipeline, tempDir, out string, lease *dataset.Lease, async bool) (*dataset.Manifest, error) {
	// cleanup must run even after ctx is cancelled.
	cleanup := context.WithoutCancel(ctx)
	defer committed.Delete(tempDir) // an --async job's, when it ran here
	release := func() {}
	// keepLease: the job may still be running (ErrJobMayRun); its lease is
	// left to lapse instead of released.
	keepLease := false
	if !async {
		keep, stop := context.WithCancel(cleanup)
		go lease.KeepAlive(keep)
		release = sync.OnceFunc(func() {
			stop()
			if !keepLease {
				lease.Release(cleanup) // at once if finalize released it
			}
		})
		defer release()
		leases.Store(tempDir, lease)
		defer leases.Delete(tempDir)
	}
	if launch.runner == "prism" && !launch.remote {
		if err := useLoopbackPrism(ctx); err != nil {
			dataset.RemoveTemp(cleanup, tempDir)
			return nil, err
		}
	}
	if err := launch.run(ctx, p); err != nil {
		if errors.Is(err, ErrJobMayRun) {
			// A job that may still run may still write to tempDir and
			// commit: nothing of it is removed, and its lease stays.
			keepLease = true
			return nil, fmt.Errorf("%w (%w)", ErrInterrupted, err)
		}
		// Finalize cleans up after itself; a job that failed before it
		// leaves the shards written so far under tempDir.
		committed, aerr := dataset.Abort(cleanup, out, tempDir)
		switch {
		case ctx.Err() != nil && committed && aerr == nil:
			return nil, fmt.Errorf("%w during the commit; the commit was finished: %s holds the new dataset (%w)", ErrInterrupted, out, ctx.Err())
		case ctx.Err() != nil:
			return nil, errors.Join(fmt.Errorf("%w; nothing written (%w)", ErrInterrupted, ctx.Err()), aerr)
		case committed && aerr == nil:
			// The job failed after its commit point (its Finalize could
			// not finish the commit) and Abort finished it: out holds
			// the complete new dataset.
			m, rerr := dataset.ReadManifest(out)
			if rerr == nil {
				return m, nil
			}
			aerr = rerr
		}
		return nil, errors.Join(launch.failed(err), aerr)
	}
	if flagIsTrue("dry_run") || async {
		return nil, nil
	}
	// The dataset is complete: the lease goes while its manifest is read
	// back (on a bucket, two round trips at once), unless finalize ran in
	// this process and left it here.
	var wg sync.WaitGroup
	wg.Go(release)
	m, ok := committedHere(tempDir)
	var err error
	if !ok {
		m, err = dataset.ReadManifest(out)
	}
	wg.Wait()
	return m, err
}

// ErrInterrupted: the conversion was stopped by its context (a signal).
var ErrInterrupted = errors.New("interrupted")

// build checks the inputs and prepares the output directory (refusing a
// non-empty one unless cfg.Overwrite), then constructs the pipeline without
// running it. It reads the CSV header, so that a spec that does not fit the
// CSV fails before any job starts. tempDir, under cfg.Out, receives the
// shards until Finalize commits them. The inputs are read with checks while
// the pre-flight probes run, and the output's lease is taken meanwhile;
// probed waits for the probes, and a failed probe is the error reported,
// with the lease released and nothing else written to cfg.Out.
func build(ctx, checks context.Context, probed func() error, cfg Config, async bool) (p *beam.Pipeline, tempDir string, lease *dataset.Lease, err error) {
	if err := cfg.check(); err != nil {
		return nil, "", nil, cmp.Or(probed(), err)
	}
	ttl := dataset.DefaultLeaseTTL
	if async {
		ttl = asyncLeaseTTL
	}
	// The output's lease is taken, and the output listed, while the inputs
	// are checked: on a bucket their round trips go at once. The lease is
	// released if an input or a probe fails; nothing else is written to
	// cfg.Out before they pass.
	type acquired struct {
		lease *dataset.Lease
		err   error
	}
	leased := make(chan acquired, 1)
	// A failed probe cancels the lease's requests: the store may not answer
	// them either.
	leaseCtx, cancelLease := context.WithCancelCause(ctx)
	defer cancelLease(nil)
	go func() {
		l, err := dataset.Acquire(leaseCtx, cfg.Out, strings.Join(cfg.CommandLine, " "), ttl)
		leased <- acquired{l, err}
	}()
	files, header, err := checkInputs(checks, &cfg)
	perr := probed()
	if perr != nil {
		cancelLease(perr)
	}
	got := <-leased
	if perr != nil || err != nil {
		if got.lease != nil {
			got.lease.Release(context.WithoutCancel(ctx))
		}
		return nil, "", nil, cmp.Or(perr, err)
	}
	if got.err != nil {
		return nil, "", nil, fmt.Errorf("pipeline: %w", got.err)
	}
	lease = got.lease
	folder := cfg.Spec.Source == schema.SourceImageFolder
	specJSON, err := cfg.Spec.Marshal()
	if err != nil {
		lease.Release(context.WithoutCancel(ctx))
		return nil, "", nil, fmt.Errorf("pipeline: %w", err)
	}
	// A dry run changes nothing in cfg.Out but its lease (taken and released).
	prepare := lease.Create
	if flagIsTrue("dry_run") {
		prepare = lease.Plan
	}
	if tempDir, err = prepare(ctx, cfg.Overwrite); err != nil {
		lease.Release(context.WithoutCancel(ctx))
		return nil, "", nil, fmt.Errorf("pipeline: %w", err)
	}
	releaseLease := ""
	if async {
		releaseLease = lease.Run
	}
	splits := cfg.Splits
	if len(splits) == 0 {
		splits = []SplitWeight{{Name: "train", Weight: 1}}
	}
	sharding := shardPlan{Shards: cfg.Shards, ShardSize: cfg.ShardSize, ExampleBytes: exampleBytes(cfg.Spec)}
	if sharding.Shards == 0 && sharding.ShardSize == 0 {
		sharding.ShardSize = defaultShardSize
	}
	compression := cfg.Compression
	if compression == tfrecord.Auto {
		compression = tfrecord.None
	}
	p, s := beam.NewPipelineWithRoot()
	var records, csvRejects, reads beam.PCollection
	var names []string // the files' names in reasons, when there are several
	if folder {
		records, csvRejects, reads = readFolder(s, cfg.Spec, cfg.Images)
	} else {
		ranges := csvRanges(files)
		csvRangesLeft.Store(int64(len(ranges)))
		if len(files) > 1 {
			for _, f := range files {
				names = append(names, f.Path)
			}
		}
		records, csvRejects, reads = readRows(s, ranges, header)
	}
	rows, labelRejects, warnings := decodeRows(s, string(specJSON), header, names, records)
	rows = assignSplit(s, cfg.Seed, splits, rows)
	counts := countRows(s, rows)
	keyed := assignShard(s, cfg.Seed, sharding, rows, counts)
	results, imageRejects, dupWarnings := writeShards(s, shardConfig{
		Spec:        string(specJSON),
		Images:      cfg.Images,
		TempDir:     tempDir,
		Compression: compression.String(),
		Index:       cfg.Index,
		SHA256:      cfg.SHA256,
		Seed:        cfg.Seed,
		Workers:     cfg.Workers,

		Files:                 names,
		RejectDuplicateKeys:   cfg.RejectDuplicateKeys,
		FollowSymlinksOutside: cfg.FollowSymlinksOutside,
	}, keyed)
	warnings = beam.Flatten(s, warnings, dupWarnings)
	rejects := beam.Flatten(s, csvRejects, labelRejects, imageRejects)
	finalize(s, finalizeConfig{
		Out:         cfg.Out,
		Images:      cfg.Images,
		TempDir:     tempDir,
		Spec:        string(specJSON),
		Splits:      splits,
		Sharding:    sharding,
		Compression: compression.String(),
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		Overwrite:   cfg.Overwrite,
		MaxErrors:   cfg.MaxErrors,
		CommandLine: cfg.CommandLine,
		ToolVersion: cfg.ToolVersion,
		LeaseRun:    releaseLease,
		HeldBy:      lease.Run,
	}, results, rejects, reads, counts, warnings)
	return p, tempDir, lease, nil
}

// checkInputs reads the CSV files' headers and checks them against the
// spec (for an image folder, it resolves the folder into cfg), and checks
// the images root. On buckets the reads of the CSVs and of the images root
// go at once; an input's error is reported first.
func checkInputs(ctx context.Context, cfg *Config) (files []csvFile, header []string, err error) {
	imagesChecked := make(chan error, 1)
	go func() { imagesChecked <- checkImages(ctx, cfg.Images) }()
	header = schema.FolderHeader()
	source := cfg.Images
	if cfg.Spec.Source == schema.SourceImageFolder {
		err = cfg.resolveFolder(ctx) // folder.go
	} else if files, header, err = csvInputs(ctx, cfg.CSV); err == nil {
		source = files[0].Path
	}
	if err != nil {
		<-imagesChecked
		return nil, nil, err
	}
	if _, err := cfg.Spec.NewRowDecoder(header); err != nil {
		<-imagesChecked
		return nil, nil, fmt.Errorf("pipeline: %s does not fit the spec: %w", source, err)
	}
	return files, header, <-imagesChecked
}

// asyncLeaseTTL is the lease of a job the launcher does not wait for: no
// one refreshes it, and the job's Finalize releases it.
const asyncLeaseTTL = 48 * time.Hour

func (cfg *Config) check() error {
	switch {
	case cfg.Spec == nil:
		return fmt.Errorf("%w: no spec", ErrConfig)
	case len(cfg.CSV) == 0 && cfg.Spec.Source != schema.SourceImageFolder, slices.Contains(cfg.CSV, ""):
		return fmt.Errorf("%w: no CSV file (--csv)", ErrConfig)
	case len(cfg.CSV) > 0 && cfg.Spec.Source == schema.SourceImageFolder:
		return fmt.Errorf("%w: the spec %s reads an image folder (source: imagefolder): its rows are the files under --images, ROOT/CLASS/IMAGE; --csv %s would not be read, so it is refused (for a CSV, use a spec with source: csv)", ErrConfig, cfg.Spec.Name, strings.Join(cfg.CSV, ","))
	case cfg.Images == "":
		return fmt.Errorf("%w: no images root (--images)", ErrConfig)
	case cfg.Out == "":
		return fmt.Errorf("%w: no output directory (--out)", ErrConfig)
	case cfg.Shards < 0 || cfg.Shards > 99999:
		return fmt.Errorf("%w: --shards %d not in [1, 99999]", ErrConfig, cfg.Shards)
	case cfg.ShardSize < 0:
		return fmt.Errorf("%w: negative --shard-size", ErrConfig)
	case cfg.Index && cfg.Compression != tfrecord.None && cfg.Compression != tfrecord.Auto:
		return fmt.Errorf("%w: --index needs uncompressed shards (DALI indexes byte offsets of the raw stream)", ErrConfig)
	case cfg.Workers < 0:
		return fmt.Errorf("%w: negative worker count", ErrConfig)
	}
	seen := map[string]bool{}
	for _, sp := range cfg.Splits {
		if err := dataset.ValidSplitName(sp.Name); err != nil {
			return fmt.Errorf("%w: %v", ErrSplits, err)
		}
		if seen[sp.Name] || !(sp.Weight > 0) {
			return fmt.Errorf("%w: split %q repeated or with weight %v", ErrSplits, sp.Name, sp.Weight)
		}
		seen[sp.Name] = true
	}
	return nil
}

// exampleBytes estimates the serialized size of one Example of spec: exact
// for raw (float32, uint8) images, the raw pixel size for PNG and JPEG.
func exampleBytes(spec *schema.Spec) int64 {
	opts := spec.ImageOptions()
	image := opts.OutputBytes()
	if image < 0 {
		image = max(opts.Width, 1) * max(opts.Height, 1) * opts.Channels()
	}
	row := schema.Row{Key: "train_00000"}
	for _, l := range spec.Labels {
		row.Labels = append(row.Labels, schema.Label{Feature: l.Feature, Values: make([]float32, l.Size)})
	}
	return int64(len(spec.AppendExample(nil, row, make([]byte, image))))
}

func flagIsTrue(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() == "true"
}

// runnerError shortens the error of a failed job. Runners report a failed
// DoFn with the whole execution plan around the DoFn's own message; that
// message, the last of this package's, is what the user needs. A rejected-row
// limit and a conversion that wrote nothing keep their sentinels so that
// errors.Is sees them across the runner.
func runnerError(runner string, err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrTooManyRejected.Error()); i >= 0 {
		return fmt.Errorf("%w%s", ErrTooManyRejected, firstLine(msg[i+len(ErrTooManyRejected.Error()):]))
	}
	if i := strings.LastIndex(msg, dataset.ErrNothingWritten.Error()); i >= 0 {
		return fmt.Errorf("%w%s", dataset.ErrNothingWritten, firstLine(msg[i+len(dataset.ErrNothingWritten.Error()):]))
	}
	if i := strings.LastIndex(msg, "pipeline: "); i >= 0 {
		return fmt.Errorf("%s runner: job failed: %s", runner, firstLine(msg[i:]))
	}
	return fmt.Errorf("pipeline: %s runner: %w", runner, err)
}

// firstLine cuts s at its first newline or double quote (runners quote the
// message in their own).
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\n\""); i >= 0 {
		return s[:i]
	}
	return s
}

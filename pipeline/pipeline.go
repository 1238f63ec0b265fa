// Package pipeline is the Beam pipeline behind "tfprep convert": CSV +
// images → split, sharded, shuffled TFRecord files of tf.train.Example, a
// manifest and an errors file (the layout is package dataset's contract).
//
// The graph, one composite per step:
//
//	ReadRows     CSV file → csvRecord (+ csv-stage rejects, + readCount)
//	DecodeRows   csvRecord → splitRow via the spec (+ label-stage rejects)
//	AssignSplit  splitRow.Split = seeded hash of the key into TFX-style buckets
//	CountRows    rows per split (for shard sizing and Finalize)
//	AssignShard  splitRow.Shard, keyed "split/shard", in batches of rows
//	WriteShards  GroupByKey of the small rows; per shard: order by seeded
//	             hash, read + preprocess images on a bounded goroutine pool,
//	             serialise, write to a temporary name unique to the attempt
//	             (+ image- and io-stage rejects)
//	Finalize     one step waiting on everything: row invariant, --max-errors,
//	             rename to final names, errors.csv, the manifest last
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
	"strings"

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
	Spec   *schema.Spec // validated
	CSV    string       // the CSV file: local path, gs:// or s3://
	Images string       // the images root the spec's image paths are relative to
	Out    string       // the output directory

	Splits    []SplitWeight // nil: one split, "train"
	Shards    int           // shards per split; 0: from ShardSize
	ShardSize int64         // target shard bytes when Shards is 0; 0: 128 MiB

	Compression tfrecord.Compression // None (also the zero value Auto), GZIP or ZLIB
	Index       bool                 // DALI index sidecars; uncompressed only
	Seed        int64
	MaxErrors   ErrorLimit
	Overwrite   bool // replace an earlier conversion in Out
	// Workers is the number of image goroutines per shard; 0 = GOMAXPROCS
	// of the worker.
	Workers int

	CommandLine []string // recorded in the manifest
	ToolVersion string   // recorded in the manifest

	// Runner overrides the --runner flag; both empty means DefaultRunner.
	Runner string
}

// Convert builds the pipeline for cfg, runs it and returns the manifest it
// wrote. Rejected rows are not an error (see Manifest.Rows); exceeding
// cfg.MaxErrors is (ErrTooManyRejected). An output directory that is not
// empty is refused unless cfg.Overwrite (dataset.ErrOutputExists). With
// Dataflow's --dry_run or an --async submission nothing is converted yet, and
// Convert returns a nil manifest and a nil error.
func Convert(ctx context.Context, cfg Config) (*dataset.Manifest, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	progress.reset()
	p, tempDir, err := build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	runner := cmp.Or(cfg.Runner, *runners.Runner, DefaultRunner)
	if runner == "prism" {
		if err := useLoopbackPrism(ctx); err != nil {
			return nil, err
		}
	}
	if _, err := beam.Run(ctx, runner, p); err != nil {
		// Finalize cleans up after itself; a job that failed before it
		// leaves the shards written so far under tempDir.
		dataset.RemoveTemp(ctx, tempDir)
		return nil, runnerError(runner, err)
	}
	if flagIsTrue("dry_run") || *jobopts.Async {
		return nil, nil
	}
	return dataset.ReadManifest(cfg.Out)
}

// build checks the inputs and prepares the output directory (refusing a
// non-empty one unless cfg.Overwrite), then constructs the pipeline without
// running it. It reads the CSV header, so that a spec that does not fit the
// CSV fails before any job starts. tempDir, under cfg.Out, receives the
// shards until Finalize commits them.
func build(ctx context.Context, cfg Config) (p *beam.Pipeline, tempDir string, err error) {
	if err := cfg.check(); err != nil {
		return nil, "", err
	}
	header, err := readHeader(ctx, cfg.CSV)
	if err != nil {
		return nil, "", err
	}
	if _, err := cfg.Spec.NewRowDecoder(header); err != nil {
		return nil, "", fmt.Errorf("pipeline: %s does not fit the spec: %w", cfg.CSV, err)
	}
	if err := checkImages(ctx, cfg.Images); err != nil {
		return nil, "", err
	}
	if tempDir, err = dataset.Create(ctx, cfg.Out, cfg.Overwrite); err != nil {
		return nil, "", fmt.Errorf("pipeline: %w", err)
	}
	specJSON, err := cfg.Spec.Marshal()
	if err != nil {
		return nil, "", fmt.Errorf("pipeline: %w", err)
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
	records, csvRejects, reads := readRows(s, beam.Create(s, cfg.CSV), header)
	rows, labelRejects, warnings := decodeRows(s, string(specJSON), header, records)
	rows = assignSplit(s, cfg.Seed, splits, rows)
	counts := countRows(s, rows)
	keyed := assignShard(s, cfg.Seed, sharding, rows, counts)
	results, imageRejects := writeShards(s, shardConfig{
		Spec:        string(specJSON),
		Images:      cfg.Images,
		TempDir:     tempDir,
		Compression: compression.String(),
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		Workers:     cfg.Workers,
	}, keyed)
	rejects := beam.Flatten(s, csvRejects, labelRejects, imageRejects)
	finalize(s, finalizeConfig{
		Out:         cfg.Out,
		TempDir:     tempDir,
		Spec:        string(specJSON),
		Splits:      splits,
		Sharding:    sharding,
		Compression: compression.String(),
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		MaxErrors:   cfg.MaxErrors,
		CommandLine: cfg.CommandLine,
		ToolVersion: cfg.ToolVersion,
	}, results, rejects, reads, counts, warnings)
	return p, tempDir, nil
}

func (cfg *Config) check() error {
	switch {
	case cfg.Spec == nil:
		return fmt.Errorf("%w: no spec", ErrConfig)
	case cfg.CSV == "":
		return fmt.Errorf("%w: no CSV file (--csv)", ErrConfig)
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
// limit keeps its sentinel so that errors.Is sees it across the runner.
func runnerError(runner string, err error) error {
	msg := err.Error()
	if i := strings.LastIndex(msg, ErrTooManyRejected.Error()); i >= 0 {
		return fmt.Errorf("%w%s", ErrTooManyRejected, firstLine(msg[i+len(ErrTooManyRejected.Error()):]))
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

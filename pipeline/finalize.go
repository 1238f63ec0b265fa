package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn7x1[context.Context, int, func(*dataset.ShardResult) bool, func(*dataset.ErrorRecord) bool, func(*readCount) bool, func(*splitCount) bool, func(*warningSummary) bool, error](&finalizeFn{})
	register.Function2x1[readCount, readCount, readCount](addReads)
	register.Combiner3[warningSummary, dataset.Warning, warningSummary](&warningsFn{})
	register.Iter1[warningSummary]()
	register.Iter1[dataset.ShardResult]()
	register.Iter1[dataset.ErrorRecord]()
	register.Iter1[readCount]()
}

// ErrTooManyRejected: more rows were rejected than --max-errors allows.
var ErrTooManyRejected = errors.New("pipeline: too many rejected rows")

// ErrorLimit is --max-errors: how many rejected rows a conversion tolerates
// before it fails. The zero value means no limit.
type ErrorLimit struct {
	Set       bool
	Count     int64   // the limit when !IsPercent
	Percent   float64 // the limit, in percent of the rows read, when IsPercent
	IsPercent bool
}

// ParseErrorLimit parses "N" (rows) or "P%" (percent of the rows read); ""
// means no limit.
func ParseErrorLimit(s string) (ErrorLimit, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return ErrorLimit{}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(v) || v < 0 || v > 100 {
			return ErrorLimit{}, fmt.Errorf("%w: --max-errors %q: want a percentage in [0, 100]", ErrConfig, s)
		}
		return ErrorLimit{Set: true, Percent: v, IsPercent: true}, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return ErrorLimit{}, fmt.Errorf("%w: --max-errors %q: want a row count >= 0 or a percentage such as 1%%", ErrConfig, s)
	}
	return ErrorLimit{Set: true, Count: v}, nil
}

// Exceeded reports whether rejected rows out of read break the limit.
func (l ErrorLimit) Exceeded(rejected, read int64) bool {
	switch {
	case !l.Set:
		return false
	case l.IsPercent:
		return float64(rejected) > l.Percent/100*float64(read)
	default:
		return rejected > l.Count
	}
}

func (l ErrorLimit) String() string {
	switch {
	case !l.Set:
		return "unlimited"
	case l.IsPercent:
		return strconv.FormatFloat(l.Percent, 'g', -1, 64) + "%"
	default:
		return strconv.FormatInt(l.Count, 10)
	}
}

// finalizeConfig configures finalize; it is serialised to the worker.
type finalizeConfig struct {
	Out         string
	Images      string // --images, named in the hint when nothing was written
	TempDir     string
	Spec        string // canonical spec JSON, embedded in the manifest
	Splits      []SplitWeight
	Sharding    shardPlan
	Compression string
	Index       bool
	Seed        int64
	Overwrite   bool // the launcher's; Commit refuses to replace a dataset without it
	MaxErrors   ErrorLimit
	CommandLine []string
	ToolVersion string
	// LeaseRun, set when the launcher does not wait for the job, is the run
	// whose lease on Out finalize releases when it is done.
	LeaseRun string
	// HeldBy is the run whose lease on Out the conversion holds: a finalize
	// in another process than the launcher's commits only while that run
	// still holds it (dataset.Assembly.LeaseRun).
	HeldBy string
}

// finalize is the single step that commits a conversion once every shard is
// written: it waits on PCollection<dataset.ShardResult> (one per shard),
// PCollection<dataset.ErrorRecord> (every rejected row, for errors.csv),
// PCollection<readCount> and PCollection<dataset.Warning>, each reduced to
// one element by a combiner (the rows read; the number of warnings and the
// dataset.MaxWarnings of the lowest lines, all the manifest keeps), and
// PCollection<splitCount> (a combiner's, one per split), brought together
// under one fixed key by a CoGroupByKey, and hands them to a dataset.Assembly, whose Commit checks
// the row invariant, writes errors.csv, enforces MaxErrors, renames the
// shards to their final names and writes the manifest last.
//
// The collections are grouped, not read as side inputs of an impulse:
// Prism re-evaluates a stage with side inputs in a loop that never sleeps
// while the stage waits or runs (its input watermark stays behind its
// upstream's), which took half of a core for the whole conversion. The
// grouping still runs finalize exactly once, after everything upstream: reads
// always holds one readCount per CSV file, so the group is never empty.
func finalize(s beam.Scope, cfg finalizeConfig, results, rejected, reads, counts, warnings beam.PCollection) {
	s = s.Scope("Finalize")
	reads = beam.Combine(s, addReads, reads)
	warned := beam.Combine(s, &warningsFn{}, warnings)
	grouped := beam.CoGroupByKey(s, beam.AddFixedKey(s, results), beam.AddFixedKey(s, rejected),
		beam.AddFixedKey(s, reads), beam.AddFixedKey(s, counts), beam.AddFixedKey(s, warned))
	beam.ParDo0(s, &finalizeFn{Config: cfg}, grouped)
}

// addReads is the combiner of the rows read.
func addReads(a, b readCount) readCount { return readCount{Rows: a.Rows + b.Rows} }

// warningSummary is what the manifest keeps of the warnings: how many, and
// the dataset.MaxWarnings of the lowest lines.
type warningSummary struct {
	Count  int64
	Lowest []dataset.Warning
}

// warningsFn combines warnings into a warningSummary.
type warningsFn struct{}

func (warningsFn) CreateAccumulator() warningSummary { return warningSummary{} }

func (warningsFn) AddInput(a warningSummary, w dataset.Warning) warningSummary {
	a.Count++
	a.Lowest = append(a.Lowest, w)
	if len(a.Lowest) > 2*dataset.MaxWarnings {
		a.Lowest = lowestWarnings(a.Lowest)
	}
	return a
}

func (warningsFn) MergeAccumulators(a, b warningSummary) warningSummary {
	return warningSummary{Count: a.Count + b.Count, Lowest: lowestWarnings(append(a.Lowest, b.Lowest...))}
}

func (warningsFn) ExtractOutput(a warningSummary) warningSummary {
	a.Lowest = lowestWarnings(a.Lowest)
	return a
}

// lowestWarnings returns the dataset.MaxWarnings warnings of the lowest
// lines (then keys, then reasons: the same whatever the order they came in).
func lowestWarnings(ws []dataset.Warning) []dataset.Warning {
	slices.SortFunc(ws, func(a, b dataset.Warning) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Reason, b.Reason))
	})
	return ws[:min(len(ws), dataset.MaxWarnings)]
}

type finalizeFn struct {
	Config finalizeConfig
}

// ProcessElement receives the one group of AddFixedKey's key 0.
func (f *finalizeFn) ProcessElement(ctx context.Context, _ int, results func(*dataset.ShardResult) bool, rejects func(*dataset.ErrorRecord) bool, reads func(*readCount) bool, counts func(*splitCount) bool, warnings func(*warningSummary) bool) error {
	cfg := f.Config
	if cfg.LeaseRun != "" {
		defer dataset.ReleaseLease(context.WithoutCancel(ctx), cfg.Out, cfg.LeaseRun)
	}
	spec, err := parseSpec(cfg.Spec)
	if err != nil {
		return err
	}
	c, err := tfrecord.ParseCompression(cfg.Compression)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	a := &dataset.Assembly{
		Location:    cfg.Out,
		TempDir:     cfg.TempDir,
		Spec:        spec,
		Compression: c,
		Index:       cfg.Index,
		Seed:        cfg.Seed,
		Overwrite:   cfg.Overwrite,
		Lease:       leaseHere(cfg.TempDir),
		LeaseRun:    cfg.HeldBy,
		CommandLine: cfg.CommandLine,
		ToolVersion: cfg.ToolVersion,
		Limit: func(rejected, read int64, errorsFile string) error {
			if cfg.MaxErrors.Exceeded(rejected, read) {
				return fmt.Errorf("%w: %d of %d rows rejected, --max-errors is %s (see %s)",
					ErrTooManyRejected, rejected, read, cfg.MaxErrors, errorsFile)
			}
			return nil
		},
	}
	var res dataset.ShardResult
	for results(&res) {
		if err := a.AddShard(res); err != nil {
			dataset.RemoveTemp(ctx, cfg.TempDir)
			return fmt.Errorf("pipeline: %w", err)
		}
		res = dataset.ShardResult{}
	}
	var rec dataset.ErrorRecord
	for rejects(&rec) {
		a.AddRejected(rec)
	}
	var rc readCount
	for reads(&rc) {
		a.AddRead(rc.Rows)
	}
	splitRows := map[string]int64{}
	var sc splitCount
	for counts(&sc) {
		splitRows[sc.Split] = sc.Rows
	}
	var w warningSummary
	for warnings(&w) {
		a.AddWarnings(w.Count, w.Lowest)
		w = warningSummary{}
	}
	fractions := Fractions(cfg.Splits)
	for i, sp := range cfg.Splits {
		a.Splits = append(a.Splits, dataset.SplitLayout{Name: sp.Name, Fraction: fractions[i], Shards: cfg.Sharding.Count(splitRows[sp.Name])})
	}
	m, err := a.Commit(ctx)
	if err != nil {
		if nw, ok := errors.AsType[*dataset.NothingWrittenError](err); ok {
			nw.Hint = nothingWrittenHint(nw.Stage, cfg)
			return err
		}
		if errors.Is(err, ErrTooManyRejected) {
			return err
		}
		return fmt.Errorf("pipeline: %w", err)
	}
	if data, err := m.Marshal(); err == nil {
		committed.Store(cfg.TempDir, data)
	}
	return nil
}

// committed holds, by staging directory, the manifest of each commit that
// finalize made in this process, for the launcher when the job ran here:
// the manifest it would otherwise read back from the output (on a bucket,
// a round trip).
var committed sync.Map

// leases holds, by staging directory, the lease of each job this process
// launched and waits for: a finalize that runs in the launcher's process
// releases it at the commit's last step (Assembly.Lease), one round trip
// before the launcher would.
var leases sync.Map

// leaseHere returns the lease the launcher of tempDir's job holds in this
// process, or nil when finalize runs elsewhere (a worker process, or an
// --async job, whose Finalize releases the lease by run).
func leaseHere(tempDir string) *dataset.Lease {
	l, ok := leases.Load(tempDir)
	if !ok {
		return nil
	}
	return l.(*dataset.Lease)
}

// committedHere returns the manifest finalize committed for tempDir in
// this process, as ReadManifest would return it, if it did.
func committedHere(tempDir string) (*dataset.Manifest, bool) {
	data, ok := committed.LoadAndDelete(tempDir)
	if !ok {
		return nil, false
	}
	m, err := dataset.ParseManifest(data.([]byte))
	return m, err == nil
}

// nothingWrittenHint says what to check when every row was rejected, most
// of them at stage.
func nothingWrittenHint(stage dataset.Stage, cfg finalizeConfig) string {
	switch stage {
	case dataset.StageIO:
		return fmt.Sprintf("is --images %s the folder that holds the images?", cfg.Images)
	case dataset.StageImage:
		return "are the files under --images images the decoder reads (JPEG, PNG)?"
	case dataset.StageLabel:
		return "does the spec describe this CSV's key, image and label columns?"
	default:
		return "is --csv a CSV file with a header and one row per image?"
	}
}

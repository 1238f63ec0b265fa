package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/tfrecord"
)

func init() {
	register.DoFn7x1[context.Context, int, func(*ShardResult) bool, func(*dataset.ErrorRecord) bool, func(*ReadCount) bool, func(*SplitCount) bool, func(*dataset.Warning) bool, error](&finalizeFn{})
	register.Iter1[dataset.Warning]()
	register.Iter1[ShardResult]()
	register.Iter1[dataset.ErrorRecord]()
	register.Iter1[ReadCount]()
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

// FinalizeConfig configures Finalize; it is serialised to the worker.
type FinalizeConfig struct {
	Out         string
	TempDir     string
	Spec        string // canonical spec JSON, embedded in the manifest
	Features    []dataset.Feature
	Labels      []dataset.LabelCount // names per label feature; counts empty
	Splits      []SplitWeight
	Sharding    Sharding
	Compression string
	Index       bool
	Seed        int64
	MaxErrors   ErrorLimit
	CommandLine []string
	ToolVersion string
}

// Finalize is the single step that commits a conversion once every shard is
// written: it waits on PCollection<ShardResult>, PCollection<
// dataset.ErrorRecord>, PCollection<ReadCount>, PCollection<SplitCount> and
// PCollection<dataset.Warning>, brought together under one fixed key by a
// CoGroupByKey, then
//
//  1. checks rows read = records written + rows rejected;
//  2. enforces MaxErrors (failing: errors.csv is written for diagnosis, the
//     temporary shards are deleted, no shard gets its final name, no
//     manifest is written);
//  3. renames the temporary shards to their final names, creating empty
//     shards for shard numbers that received no rows;
//  4. writes errors.csv, then dataset.json last, and removes the temporary
//     directory with anything earlier failed attempts left in it.
//
// If a step fails after some shards were renamed, they are removed again.
//
// The collections are grouped, not read as side inputs of an impulse:
// Prism re-evaluates a stage with side inputs in a loop that never sleeps
// while the stage waits or runs (its input watermark stays behind its
// upstream's), which took half of a core for the whole conversion. The
// grouping still runs Finalize exactly once, after everything upstream: reads
// always holds one ReadCount per CSV file, so the group is never empty.
func Finalize(s beam.Scope, cfg FinalizeConfig, results, rejected, reads, counts, warnings beam.PCollection) {
	s = s.Scope("Finalize")
	grouped := beam.CoGroupByKey(s, beam.AddFixedKey(s, results), beam.AddFixedKey(s, rejected),
		beam.AddFixedKey(s, reads), beam.AddFixedKey(s, counts), beam.AddFixedKey(s, warnings))
	beam.ParDo0(s, &finalizeFn{Config: cfg}, grouped)
}

type finalizeFn struct {
	Config FinalizeConfig
}

// ProcessElement receives the one group of AddFixedKey's key 0.
func (f *finalizeFn) ProcessElement(ctx context.Context, _ int, results func(*ShardResult) bool, rejects func(*dataset.ErrorRecord) bool, reads func(*ReadCount) bool, counts func(*SplitCount) bool, warnings func(*dataset.Warning) bool) error {
	cfg := f.Config
	out, err := openDir(ctx, cfg.Out)
	if err != nil {
		return err
	}
	defer out.fs.Close()

	byShard := map[string]ShardResult{}
	var res ShardResult
	for results(&res) {
		k := shardKey(res.Split, res.Shard)
		if _, dup := byShard[k]; dup {
			return fmt.Errorf("pipeline: shard %s reported twice", k)
		}
		byShard[k] = res
		res = ShardResult{}
	}
	var errs []dataset.ErrorRecord
	var rec dataset.ErrorRecord
	for rejects(&rec) {
		errs = append(errs, rec)
	}
	dataset.SortErrorRecords(errs)
	var read int64
	var rc ReadCount
	for reads(&rc) {
		read += rc.Rows
	}
	splitRows := map[string]int64{}
	var sc SplitCount
	for counts(&sc) {
		splitRows[sc.Split] = sc.Rows
	}
	var warned int64
	var listed []dataset.Warning
	var w dataset.Warning
	for warnings(&w) {
		warned++
		listed = append(listed, w)
		if len(listed) > 2*dataset.MaxWarnings {
			listed = lowestLines(listed, dataset.MaxWarnings)
		}
	}
	listed = lowestLines(listed, dataset.MaxWarnings)

	m := &dataset.Manifest{
		FormatVersion: dataset.FormatVersion,
		Tool:          "tfprep",
		ToolVersion:   cfg.ToolVersion,
		CommandLine:   cfg.CommandLine,
		Spec:          []byte(cfg.Spec),
		Features:      cfg.Features,
		Decoder:       imageprep.DecoderName(),
		Seed:          cfg.Seed,
		Compression:   cfg.Compression,
		Index:         cfg.Index,
		Rows: dataset.Rows{Read: read, Rejected: int64(len(errs)), RejectedByStage: dataset.CountByStage(errs),
			Warned: warned, Warnings: listed},
	}
	for _, r := range byShard {
		m.Rows.Written += r.Records
	}
	fail := func(err error) error {
		out.removeAll(ctx, cfg.TempDir)
		return err
	}
	if err := dataset.CheckRows(m.Rows.Read, m.Rows.Written, m.Rows.Rejected); err != nil {
		return fail(fmt.Errorf("pipeline: %w", err))
	}
	if err := out.writeErrors(ctx, errs); err != nil {
		return fail(err)
	}
	if cfg.MaxErrors.Exceeded(m.Rows.Rejected, m.Rows.Read) {
		return fail(fmt.Errorf("%w: %d of %d rows rejected, --max-errors is %s (see %s)",
			ErrTooManyRejected, m.Rows.Rejected, m.Rows.Read, cfg.MaxErrors, joinPath(cfg.Out, dataset.ErrorsName)))
	}

	c, err := tfrecord.ParseCompression(cfg.Compression)
	if err != nil {
		return fail(err)
	}
	var renamed []string
	rollback := func(err error) error {
		for _, p := range renamed {
			out.remove(ctx, p)
		}
		return fail(err)
	}
	var total float64
	for _, sp := range cfg.Splits {
		total += sp.Weight
	}
	for _, sp := range cfg.Splits {
		split := dataset.Split{Name: sp.Name, Fraction: sp.Weight / total}
		labelCounts := make([][]int64, len(cfg.Labels))
		for i, l := range cfg.Labels {
			labelCounts[i] = make([]int64, len(l.Names))
		}
		n := cfg.Sharding.Count(splitRows[sp.Name])
		for i := range n {
			k := shardKey(sp.Name, i)
			r, ok := byShard[k]
			if !ok {
				if r, err = out.writeEmptyShard(ctx, cfg.TempDir, sp.Name, i, c, cfg.Index); err != nil {
					return rollback(err)
				}
			}
			delete(byShard, k)
			name := dataset.ShardName(sp.Name, i, n, c)
			final := joinPath(cfg.Out, name)
			if err := out.commit(ctx, r.Temp, final, r.Bytes); err != nil {
				return rollback(err)
			}
			renamed = append(renamed, final)
			if cfg.Index {
				finalIndex := joinPath(cfg.Out, dataset.IndexName(name))
				if err := out.commit(ctx, r.Index, finalIndex, -1); err != nil {
					return rollback(err)
				}
				renamed = append(renamed, finalIndex)
			}
			split.Shards = append(split.Shards, dataset.Shard{File: name, Records: r.Records, Bytes: r.Bytes, SHA256: r.SHA256})
			split.Records += r.Records
			split.Bytes += r.Bytes
			for li, counts := range r.Labels {
				for j, v := range counts {
					if li < len(labelCounts) && j < len(labelCounts[li]) {
						labelCounts[li][j] += v
					}
				}
			}
		}
		for i, l := range cfg.Labels {
			split.Labels = append(split.Labels, dataset.LabelCount{Feature: l.Feature, Names: l.Names, Counts: labelCounts[i]})
		}
		m.Splits = append(m.Splits, split)
	}
	for k := range byShard {
		return rollback(fmt.Errorf("pipeline: shard %s is outside the split's shard count", k))
	}
	m.Created = time.Now().UTC().Truncate(time.Second)
	data, err := m.Marshal()
	if err != nil {
		return rollback(fmt.Errorf("pipeline: %w", err))
	}
	if err := out.writeAtomic(ctx, joinPath(cfg.Out, dataset.ManifestName), data); err != nil {
		return rollback(err)
	}
	out.removeAll(ctx, cfg.TempDir)
	return nil
}

// dir is an output directory on one of Beam's filesystems.
type dir struct {
	fs    filesystem.Interface
	root  string
	local bool
}

func openDir(ctx context.Context, root string) (*dir, error) {
	fsys, err := filesystem.New(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &dir{fs: fsys, root: root, local: !strings.Contains(root, "://")}, nil
}

func (d *dir) remove(ctx context.Context, path string) error {
	if d.local {
		return os.RemoveAll(path)
	}
	rm, ok := d.fs.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("pipeline: the filesystem of %s cannot remove files", d.root)
	}
	return rm.Remove(ctx, path)
}

// removeAll removes a directory tree; on object stores, every object under
// the prefix.
func (d *dir) removeAll(ctx context.Context, path string) {
	if d.local {
		os.RemoveAll(path)
		return
	}
	names, _ := d.fs.List(ctx, strings.TrimSuffix(path, "/")+"/*")
	for _, name := range names {
		d.remove(ctx, name)
	}
}

// commit moves a temporary file to its final name. A retried Finalize finds
// the move already done: the temporary file is gone and the final one has
// the expected size (size < 0 skips the size check).
func (d *dir) commit(ctx context.Context, temp, final string, size int64) error {
	err := filesystem.Rename(ctx, d.fs, temp, final)
	if err == nil {
		return nil
	}
	if got, serr := d.fs.Size(ctx, final); serr == nil && (size < 0 || got == size) {
		if _, terr := d.fs.Size(ctx, temp); terr != nil {
			return nil
		}
	}
	return fmt.Errorf("pipeline: renaming %s to %s: %w", temp, final, err)
}

// writeAtomic writes data to path through a temporary name.
func (d *dir) writeAtomic(ctx context.Context, path string, data []byte) error {
	tmp := path + ".tmp-" + randomID()
	if err := filesystem.Write(ctx, d.fs, tmp, data); err != nil {
		return fmt.Errorf("pipeline: writing %s: %w", tmp, err)
	}
	if err := filesystem.Rename(ctx, d.fs, tmp, path); err != nil {
		d.remove(ctx, tmp)
		return fmt.Errorf("pipeline: writing %s: %w", path, err)
	}
	return nil
}

func (d *dir) writeErrors(ctx context.Context, errs []dataset.ErrorRecord) error {
	var buf bytes.Buffer
	if err := dataset.WriteErrors(&buf, errs); err != nil {
		return err
	}
	return d.writeAtomic(ctx, joinPath(d.root, dataset.ErrorsName), buf.Bytes())
}

// writeEmptyShard writes a shard with no records (a valid empty stream,
// which for gzip and zlib is not zero bytes) under tempDir.
func (d *dir) writeEmptyShard(ctx context.Context, tempDir, split string, shard int, c tfrecord.Compression, index bool) (ShardResult, error) {
	res := ShardResult{Split: split, Shard: shard, Temp: joinPath(tempDir, fmt.Sprintf("%s-%05d.%s.tfrecord%s", split, shard, randomID(), c.Suffix()))}
	if index {
		res.Index = res.Temp + ".idx"
	}
	stats, _, err := writeShardFile(ctx, d.fs, &ShardWriter{Compression: c}, nil, res.Temp, res.Index)
	if err != nil {
		return ShardResult{}, fmt.Errorf("pipeline: writing empty shard %s: %w", res.Temp, err)
	}
	res.Bytes, res.SHA256 = stats.Bytes, stats.SHA256
	return res, nil
}

// lowestLines returns the n warnings of the lowest CSV lines, in line order.
func lowestLines(ws []dataset.Warning, n int) []dataset.Warning {
	slices.SortFunc(ws, func(a, b dataset.Warning) int { return cmp.Compare(a.Line, b.Line) })
	return ws[:min(n, len(ws))]
}

package dataset

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
)

// ErrOutputExists: the location is not empty and overwriting was not asked
// for, or holds files this package did not write.
var ErrOutputExists = errors.New("dataset: output directory is not empty")

// tempPrefix starts the name of a conversion's temporary directory.
const tempPrefix = ".tfprep-tmp-"

// Create makes sure location can receive a new dataset and returns the
// name of a fresh temporary directory inside it for WriteTemp. location
// must be empty, or, with overwrite, hold only files of an earlier
// conversion, which are removed (dataset.json first, so that an
// interruption never leaves a manifest describing missing shards).
func Create(ctx context.Context, location string, overwrite bool) (tempDir string, err error) {
	store, err := storageFor(location)
	if err != nil {
		return "", err
	}
	names, err := store.List(ctx, location)
	if err != nil {
		return "", fmt.Errorf("dataset: listing %s: %w", location, err)
	}
	tempDir = joinPath(location, tempPrefix+randomID())
	if len(names) == 0 {
		if err := store.MkdirAll(ctx, location); err != nil {
			return "", fmt.Errorf("dataset: %w", err)
		}
		return tempDir, nil
	}
	if !overwrite {
		return "", fmt.Errorf("%w: %s holds %d files (such as %s); use --overwrite to replace an earlier conversion", ErrOutputExists, location, len(names), names[0])
	}
	var foreign []string
	for _, name := range names {
		if !ownFile(name) {
			foreign = append(foreign, name)
		}
	}
	if len(foreign) > 0 {
		return "", fmt.Errorf("%w: %s holds files tfprep did not write (%s); refusing to overwrite", ErrOutputExists, location, strings.Join(foreign, ", "))
	}
	if slices.Contains(names, ManifestName) {
		if err := store.Remove(ctx, joinPath(location, ManifestName)); err != nil {
			return "", fmt.Errorf("dataset: %w", err)
		}
	}
	for _, name := range names {
		if name != ManifestName {
			if err := store.RemoveAll(ctx, joinPath(location, name)); err != nil {
				return "", fmt.Errorf("dataset: %w", err)
			}
		}
	}
	return tempDir, nil
}

// ownFile reports whether a base name is one a conversion writes.
func ownFile(name string) bool {
	switch {
	case name == ManifestName, name == ErrorsName,
		strings.HasPrefix(name, tempPrefix),
		strings.HasPrefix(name, ManifestName+".tmp-"),
		strings.HasPrefix(name, ErrorsName+".tmp-"):
		return true
	}
	_, err := ParseShardName(strings.TrimSuffix(name, ".idx"))
	return err == nil
}

// RemoveTemp removes a temporary directory made by Create with everything
// in it: the cleanup after a conversion that failed before Commit.
func RemoveTemp(ctx context.Context, tempDir string) error {
	store, err := storageFor(tempDir)
	if err != nil {
		return err
	}
	return store.RemoveAll(ctx, tempDir)
}

// SplitLayout is one split of a dataset being assembled.
type SplitLayout struct {
	Name     string
	Fraction float64 // share of the keys assigned to the split
	Shards   int     // number of shards; numbers with no ShardResult get an empty shard
}

// Assembly gathers what a conversion produced, in any order (ShardResults
// of WriteTemp, rejected rows, read counts, label warnings), and commits it
// as a dataset at Location. Its configuration fields are set before Commit.
type Assembly struct {
	Location    string // the dataset directory, prepared by Create
	TempDir     string // Create's temporary directory, holding the shards
	Spec        *schema.Spec
	Compression tfrecord.Compression // of the shards (Auto means None)
	Index       bool                 // shards have index sidecars
	Seed        int64
	CommandLine []string
	ToolVersion string
	Created     time.Time // zero: when Commit runs, to the second
	Splits      []SplitLayout
	// Limit, when set, may refuse the rejected rows once errors.csv is
	// written (at errorsFile): its error fails Commit before any shard gets
	// its final name.
	Limit func(rejected, read int64, errorsFile string) error

	shards   map[string]ShardResult
	rejected []ErrorRecord
	read     int64
	warned   int64
	warnings []Warning
}

func shardKey(split string, shard int) string { return fmt.Sprintf("%s/%05d", split, shard) }

// AddShard records a written shard; a shard reported twice is an error.
func (a *Assembly) AddShard(r ShardResult) error {
	if a.shards == nil {
		a.shards = map[string]ShardResult{}
	}
	k := shardKey(r.Split, r.Shard)
	if _, dup := a.shards[k]; dup {
		return fmt.Errorf("dataset: shard %s reported twice", k)
	}
	a.shards[k] = r
	return nil
}

// AddRejected records a rejected input row.
func (a *Assembly) AddRejected(r ErrorRecord) { a.rejected = append(a.rejected, r) }

// AddRead counts input rows read, whether they parsed or not.
func (a *Assembly) AddRead(rows int64) { a.read += rows }

// AddWarning records a row kept with a doubtful label; the manifest lists
// the MaxWarnings of the lowest lines and counts them all. Memory stays
// bounded whatever the number of warnings.
func (a *Assembly) AddWarning(w Warning) {
	a.warned++
	a.warnings = append(a.warnings, w)
	if len(a.warnings) > 2*MaxWarnings {
		a.warnings = lowestLines(a.warnings, MaxWarnings)
	}
}

// lowestLines returns the n warnings of the lowest CSV lines, in line order.
func lowestLines(ws []Warning, n int) []Warning {
	slices.SortFunc(ws, func(a, b Warning) int { return cmp.Compare(a.Line, b.Line) })
	return ws[:min(n, len(ws))]
}

// Commit is the single step that turns the gathered results into a
// dataset, once every shard is written:
//
//  1. it checks rows read = records written + rows rejected (ErrInvariant);
//  2. writes errors.csv, refuses a conversion that read rows but wrote none
//     (a *NothingWrittenError), and asks Limit (failing, errors.csv stays for
//     diagnosis, the temporary shards are deleted, no shard gets its final
//     name, no manifest is written);
//  3. renames the temporary shards to their final names, creating empty
//     shards for shard numbers that received no rows;
//  4. writes dataset.json last, and removes the temporary directory with
//     anything earlier failed attempts left in it.
//
// If a step fails after some shards were renamed, they are removed again. A
// retried Commit finds the renames already done and goes on.
func (a *Assembly) Commit(ctx context.Context) (*Manifest, error) {
	store, err := storageFor(a.Location)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Manifest, error) {
		store.RemoveAll(ctx, a.TempDir)
		return nil, err
	}
	specJSON, err := a.Spec.Marshal()
	if err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	c := a.Compression
	if c == tfrecord.Auto {
		c = tfrecord.None
	}
	errs := slices.Clone(a.rejected)
	SortErrorRecords(errs)
	m := &Manifest{
		FormatVersion: FormatVersion,
		Tool:          "tfprep",
		ToolVersion:   a.ToolVersion,
		CommandLine:   a.CommandLine,
		Spec:          specJSON,
		Features:      a.Spec.Features(),
		Decoder:       imageprep.DecoderName(),
		Seed:          a.Seed,
		Compression:   c.String(),
		Index:         a.Index,
		Rows: Rows{Read: a.read, Rejected: int64(len(errs)), RejectedByStage: CountByStage(errs),
			Warned: a.warned, Warnings: lowestLines(slices.Clone(a.warnings), MaxWarnings)},
	}
	for _, r := range a.shards {
		m.Rows.Written += r.Records
	}
	if err := CheckRows(m.Rows.Read, m.Rows.Written, m.Rows.Rejected); err != nil {
		return fail(err)
	}
	var buf bytes.Buffer
	if err := WriteErrors(&buf, errs); err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	errorsFile := joinPath(a.Location, ErrorsName)
	if err := writeAtomic(ctx, store, errorsFile, buf.Bytes()); err != nil {
		return fail(err)
	}
	if m.Rows.Read > 0 && m.Rows.Written == 0 {
		return fail(nothingWritten(m.Rows.Read, errs, errorsFile))
	}
	if a.Limit != nil {
		if err := a.Limit(m.Rows.Rejected, m.Rows.Read, errorsFile); err != nil {
			return fail(err)
		}
	}

	var renamed []string
	rollback := func(err error) (*Manifest, error) {
		for _, p := range renamed {
			store.Remove(ctx, p)
		}
		return fail(err)
	}
	pending := maps.Clone(a.shards)
	empty := &ShardWriter{Compression: c, Index: a.Index}
	for _, layout := range a.Splits {
		split := Split{Name: layout.Name, Fraction: layout.Fraction}
		labels := newLabelCounts(a.Spec)
		for i := range layout.Shards {
			k := shardKey(layout.Name, i)
			r, ok := pending[k]
			if !ok {
				if r, _, err = empty.WriteTemp(ctx, a.TempDir, layout.Name, i, nil); err != nil {
					return rollback(err)
				}
			}
			delete(pending, k)
			name := ShardName(layout.Name, i, layout.Shards, c)
			final := joinPath(a.Location, name)
			if err := commitFile(ctx, store, r.Temp, final, r.Bytes); err != nil {
				return rollback(err)
			}
			renamed = append(renamed, final)
			if a.Index {
				finalIndex := joinPath(a.Location, IndexName(name))
				if err := commitFile(ctx, store, r.Index, finalIndex, -1); err != nil {
					return rollback(err)
				}
				renamed = append(renamed, finalIndex)
			}
			split.Shards = append(split.Shards, Shard{File: name, Records: r.Records, Bytes: r.Bytes, SHA256: r.SHA256})
			split.Records += r.Records
			split.Bytes += r.Bytes
			labels.merge(r.Labels)
		}
		split.Labels = labels.manifest()
		m.Splits = append(m.Splits, split)
	}
	for k := range pending {
		return rollback(fmt.Errorf("dataset: shard %s is outside the split's shard count", k))
	}
	m.Created = a.Created
	if m.Created.IsZero() {
		m.Created = time.Now().UTC().Truncate(time.Second)
	}
	if err := writeManifest(ctx, store, a.Location, m); err != nil {
		return rollback(err)
	}
	store.RemoveAll(ctx, a.TempDir)
	return m, nil
}

// commitFile moves a temporary file to its final name. A retried Commit
// finds the move already done: the temporary file is gone and the final one
// has the expected size (size < 0 skips the size check).
func commitFile(ctx context.Context, store storage, temp, final string, size int64) error {
	err := store.Rename(ctx, temp, final)
	if err == nil {
		return nil
	}
	if got, serr := store.Size(ctx, final); serr == nil && (size < 0 || got == size) {
		if _, terr := store.Size(ctx, temp); terr != nil {
			return nil
		}
	}
	return fmt.Errorf("dataset: renaming %s to %s: %w", temp, final, err)
}

package dataset

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"golang.org/x/sync/errgroup"
)

// ErrOutputExists: the location is not empty and overwriting was not asked
// for, or holds files this package did not write.
var ErrOutputExists = errors.New("dataset: output directory is not empty")

// tempPrefix starts the name of a conversion's staging directory.
const tempPrefix = ".tfprep-tmp-"

// FailedErrorsName is where a conversion refused by its rejected-row limit
// leaves its errors.csv when the location holds an earlier dataset, whose
// own errors.csv it must not replace.
const FailedErrorsName = "errors.failed.csv"

// Create makes sure location can receive a new dataset and returns the
// name of a fresh staging directory inside it for WriteTemp. It deletes
// nothing of an earlier dataset: that is replaced only at Commit's commit
// point. It finishes a commit that was interrupted (the journal is rolled
// forward) and deletes what dead runs left (staging directories and
// temporary files, found by a recursive listing). location must then be
// empty or, with overwrite, hold only files of an earlier conversion. A
// live lease of another process on location is refused (ErrLocked).
func Create(ctx context.Context, location string, overwrite bool) (tempDir string, err error) {
	return prepare(ctx, location, overwrite, false, nil)
}

// Plan is Create without effects, for a dry run: it refuses what Create
// refuses and names a staging directory, but rolls nothing forward, deletes
// nothing and makes nothing. What Create would clear first (an interrupted
// commit's journal, the leftovers of dead runs) does not count against
// location here.
func Plan(ctx context.Context, location string, overwrite bool) (tempDir string, err error) {
	return prepare(ctx, location, overwrite, true, nil)
}

// prepare is Create (Plan when dry) with all, location's listing, already
// taken by the caller, which holds the lease; nil all: prepare checks the
// lease and lists.
func prepare(ctx context.Context, location string, overwrite, dry bool, all []string) (tempDir string, err error) {
	store, err := storageFor(location)
	if err != nil {
		return "", err
	}
	if all == nil {
		if err := checkLease(ctx, store, location); err != nil {
			return "", err
		}
		if all, err = store.ListAll(ctx, location); err != nil {
			return "", fmt.Errorf("dataset: listing %s: %w", location, err)
		}
	}
	if !dry {
		if all, err = recoverLocation(ctx, store, location, all); err != nil {
			return "", err
		}
	}
	var names []string
	for _, p := range all {
		name, _, _ := strings.Cut(p, "/")
		if isLeaseName(name) || isLeftover(name) || (dry && name == JournalName) {
			continue
		}
		if len(names) == 0 || names[len(names)-1] != name {
			names = append(names, name)
		}
	}
	tempDir = joinPath(location, tempPrefix+randomID())
	if len(names) == 0 {
		if dry {
			return tempDir, nil
		}
		if err := store.MkdirAll(ctx, location); err != nil {
			return "", fmt.Errorf("dataset: %w", err)
		}
		return tempDir, nil
	}
	if !overwrite {
		return "", fmt.Errorf("%w: %s holds %s (such as %s); use --overwrite to replace an earlier conversion", ErrOutputExists, location, plural(len(names), "file"), names[0])
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
	return tempDir, nil
}

// recoverLocation rolls an interrupted commit forward and deletes the
// leftovers of dead runs: staging directories and temporary files, found in
// all, the location's listing. It returns the listing as it is afterwards
// (leftovers still in it are gone). The caller owns the location (it holds
// the lease).
func recoverLocation(ctx context.Context, store storage, location string, all []string) ([]string, error) {
	if slices.Contains(all, JournalName) {
		// A journal gone since the listing was finished by another run;
		// any other failure, a roll-forward's included, is reported.
		j, err := readJournal(ctx, store, location)
		switch {
		case err == nil:
			if err := rollForward(ctx, store, location, j, rollOptions{resumed: true}); err != nil {
				return nil, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		if all, err = store.ListAll(ctx, location); err != nil {
			return nil, fmt.Errorf("dataset: listing %s: %w", location, err)
		}
	}
	var g errgroup.Group
	g.SetLimit(commitParallelism)
	done := map[string]bool{}
	for _, p := range all {
		name, _, nested := strings.Cut(p, "/")
		// A lease's temporary is never one: another run trying to take
		// the lease may be writing it (local disk) right now.
		if done[name] || !isLeftover(name) {
			continue
		}
		done[name] = true
		remove := store.Remove
		if nested {
			remove = store.RemoveAll
		}
		g.Go(func() error {
			if err := remove(ctx, joinPath(location, name)); err != nil {
				return fmt.Errorf("dataset: removing %s left by an earlier run: %w", joinPath(location, name), err)
			}
			return nil
		})
	}
	return all, g.Wait()
}

// isLeftover reports whether a base name is a staging directory or a
// temporary file: tfprep's own, and garbage once no run holds the lease.
// A temporary file is one of writeAtomic's: an own file's name (the
// manifest, errors.csv, a shard the journal carries) or the journal's,
// then ".tmp-" and a random id.
func isLeftover(name string) bool {
	if strings.HasPrefix(name, tempPrefix) {
		return true
	}
	base, _, ok := strings.Cut(name, ".tmp-")
	return ok && (base == JournalName || !isLeftover(base) && ownFile(base))
}

// ownFile reports whether a base name is one a conversion writes.
func ownFile(name string) bool {
	switch {
	case name == ManifestName, name == ErrorsName, name == FailedErrorsName, isLeftover(name):
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
	// Overwrite is Create's overwrite: the dataset may replace an earlier
	// one. Without it Commit refuses a location that holds one
	// (ErrOutputExists): Create can take a location for empty while a run
	// that just finished is committing there (see Lease.Create).
	Overwrite bool
	// Lease, when set, is the run's lease on Location, held by this
	// process: Commit releases it at its last step, while the journal is
	// removed (on a bucket one round trip fewer than releasing it after
	// Commit). A Commit that fails leaves it to the caller. Commit refuses
	// to pass its commit point under a lease it no longer holds.
	Lease *Lease
	// LeaseRun, when Lease is nil (a Commit in another process than the
	// lease's holder, such as a runner's worker), is the run that holds the
	// lease: Commit reads the lease while it lists the location and refuses
	// to pass its commit point if another run holds it now.
	LeaseRun    string
	CommandLine []string
	ToolVersion string
	Created     time.Time // zero: when Commit runs, to the second
	Splits      []SplitLayout
	// Decoder is the manifest's decoder when no shard names the decoder
	// that made it (records copied, not decoded: reshard, merge); "" means
	// this process's imageprep.DecoderName.
	Decoder string
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

// AddWarnings records total warnings of which ws are some (a combiner's
// choice, such as the MaxWarnings of the lowest lines).
func (a *Assembly) AddWarnings(total int64, ws []Warning) {
	for _, w := range ws {
		a.AddWarning(w)
	}
	a.warned += total - int64(len(ws))
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
//  2. stages errors.csv, refuses a conversion that read rows but wrote none
//     (a *NothingWrittenError, errors.csv kept as for Limit), and asks Limit (failing, errors.csv is kept for
//     diagnosis — as errors.csv if the location holds no finished dataset,
//     as errors.failed.csv beside an earlier one —, the staging directory is
//     deleted and the earlier dataset is untouched);
//  3. stages empty shards for shard numbers that received no rows, and the
//     manifest;
//  4. writes the commit journal (the commit point) and rolls it forward:
//     the old manifest goes, the staged files move to their final names,
//     old files not replaced are deleted, dataset.json is written last.
//
// A failure before the journal leaves the location as it was. The staging
// directory goes with a failure that a retry would meet again (rows that do
// not add up, too many rejected); it stays after a storage error, so that a
// runner's retry of the same Commit finds its shards (the launcher's Abort,
// or the next Create, removes it once no run needs it). A journal write
// whose outcome is unknown (a lost answer) is read back: if the journal
// landed, the commit goes on from it. A failure after the commit point
// leaves the journal, and the next Create on the location finishes the
// commit.
func (a *Assembly) Commit(ctx context.Context) (*Manifest, error) {
	store, err := storageFor(a.Location)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Manifest, error) {
		store.RemoveAll(ctx, a.TempDir)
		return nil, err
	}
	keepStaging := func(err error) (*Manifest, error) {
		return nil, fmt.Errorf("%w (the staged shards stay in %s for a retry)", err, a.TempDir)
	}
	staging := a.TempDir[strings.LastIndex(a.TempDir, "/")+1:]
	if !strings.HasPrefix(staging, tempPrefix) || joinPath(a.Location, staging) != a.TempDir {
		return fail(fmt.Errorf("dataset: staging directory %s is not one Create made in %s", a.TempDir, a.Location))
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
	// A shard no row reached is written here; it carries a SHA-256 when
	// the written shards do (convert --sha256).
	empty := &ShardWriter{Compression: c, Index: a.Index}
	for _, r := range a.shards {
		empty.SHA256 = empty.SHA256 || r.SHA256 != ""
	}
	type shardID struct {
		split string
		shard int
	}
	var missing []shardID
	for _, layout := range a.Splits {
		for i := range layout.Shards {
			if _, ok := a.shards[shardKey(layout.Name, i)]; !ok {
				missing = append(missing, shardID{layout.Name, i})
			}
		}
	}
	// The empty shards, and errors.csv unless it is large, travel in the
	// journal: rollForward writes them with the moves. The location is
	// listed (unless Create listed it under the lease) while a large
	// errors.csv is staged: on a bucket each is a round trip, so they go
	// at once, and a commit with neither has none before its journal.
	emptyShards := map[string]emptyShard{}
	for _, id := range missing {
		e, err := writeEmptyShard(ctx, empty, id.split, id.shard, a.Index)
		if err != nil {
			return fail(err)
		}
		emptyShards[shardKey(id.split, id.shard)] = e
	}
	stagedErrors := ""
	if buf.Len() > maxInlineErrors {
		stagedErrors = joinPath(a.TempDir, ErrorsName)
	}
	old, listed := []string(nil), false
	if a.Lease != nil {
		old, listed = a.Lease.listingForCommit(ctx)
	}
	// No cancellation on the first error: an upload cancelled mid-way may
	// still land after fail has cleared the staging directory.
	var g errgroup.Group
	if stagedErrors != "" {
		g.Go(func() error { return writeAtomic(ctx, store, stagedErrors, buf.Bytes()) })
	}
	if !listed {
		g.Go(func() (err error) {
			if old, err = store.List(ctx, a.Location); err != nil {
				return fmt.Errorf("dataset: listing %s: %w", a.Location, err)
			}
			return nil
		})
	}
	var holder string // the lease's run, read when another process holds it for us
	if a.Lease == nil && a.LeaseRun != "" {
		g.Go(func() (err error) {
			holder, err = leaseHolder(ctx, store, a.Location)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return keepStaging(err)
	}
	if !a.Overwrite {
		for _, name := range old {
			if ownFile(name) && !isLeftover(name) {
				return fail(fmt.Errorf("%w: %s holds %s, written since this conversion started; use --overwrite to replace an earlier conversion", ErrOutputExists, a.Location, name))
			}
		}
	}
	// A failed conversion keeps its errors for diagnosis: as errors.csv
	// where no finished dataset is, as errors.failed.csv beside an earlier
	// one, which stays untouched.
	hadManifest := slices.Contains(old, ManifestName)
	keep := ErrorsName
	if hadManifest {
		keep = FailedErrorsName
	}
	errorsFile := joinPath(a.Location, keep)
	keepErrors := func(err error) (*Manifest, error) {
		var kerr error
		if stagedErrors != "" {
			kerr = commitFile(ctx, store, stagedErrors, errorsFile, int64(buf.Len()))
		} else {
			kerr = writeAtomic(ctx, store, errorsFile, buf.Bytes())
		}
		if kerr != nil {
			err = errors.Join(err, kerr)
		}
		return fail(err)
	}
	if m.Rows.Read > 0 && m.Rows.Written == 0 {
		return keepErrors(nothingWritten(m.Rows.Read, errs, errorsFile))
	}
	if a.Limit != nil {
		if err := a.Limit(m.Rows.Rejected, m.Rows.Read, errorsFile); err != nil {
			return keepErrors(err)
		}
	}

	j := &journal{Run: strings.TrimPrefix(staging, tempPrefix), Staging: staging, Fresh: !hadManifest}
	stage := func(temp, name string, size int64) {
		j.Moves = append(j.Moves, move{From: staging + "/" + strings.TrimPrefix(temp, a.TempDir+"/"), To: name, Size: size})
	}
	if stagedErrors != "" {
		stage(stagedErrors, ErrorsName, int64(buf.Len()))
	} else {
		j.Writes = append(j.Writes, fileWrite{To: ErrorsName, Data: buf.Bytes()})
	}
	shards := maps.Clone(a.shards)
	for k, e := range emptyShards {
		shards[k] = e.res
	}
	var decoders []string
	for _, layout := range a.Splits {
		split := Split{Name: layout.Name, Fraction: layout.Fraction}
		labels := newLabelCounts(a.Spec)
		for i := range layout.Shards {
			k := shardKey(layout.Name, i)
			r := shards[k]
			delete(shards, k)
			name := ShardName(layout.Name, i, layout.Shards, c)
			if e, ok := emptyShards[k]; ok {
				j.Writes = append(j.Writes, fileWrite{To: name, Data: e.data})
				if a.Index {
					j.Writes = append(j.Writes, fileWrite{To: IndexName(name), Data: e.index})
				}
			} else {
				stage(r.Temp, name, r.Bytes)
				if a.Index {
					stage(r.Index, IndexName(name), -1)
				}
			}
			split.Shards = append(split.Shards, Shard{File: name, Records: r.Records, Bytes: r.Bytes, CRC32C: r.CRC32C, SHA256: r.SHA256, Decoder: r.Decoder})
			decoders = append(decoders, r.Decoder)
			split.Records += r.Records
			split.Bytes += r.Bytes
			labels.merge(r.Labels)
		}
		split.Labels = labels.manifest()
		m.Splits = append(m.Splits, split)
	}
	for k := range shards {
		return fail(fmt.Errorf("dataset: shard %s is outside the split's shard count", k))
	}
	m.Decoder, m.Decoders = shardDecoders(decoders, cmp.Or(a.Decoder, imageprep.DecoderName()))
	m.Created = a.Created
	if m.Created.IsZero() {
		m.Created = time.Now().UTC().Truncate(time.Second)
	}
	// The manifest travels in the journal: rollForward writes it last.
	if j.Manifest, err = m.Marshal(); err != nil {
		return fail(err)
	}
	replaced := map[string]bool{}
	for _, mv := range j.Moves {
		replaced[mv.To] = true
	}
	for _, w := range j.Writes {
		replaced[w.To] = true
	}
	for _, name := range old {
		if name != ManifestName && !replaced[name] && ownFile(name) && !isLeftover(name) {
			j.Delete = append(j.Delete, name)
		}
	}
	data, err := json.Marshal(j)
	if err != nil {
		return fail(fmt.Errorf("dataset: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("dataset: commit cancelled before its commit point: %w", err))
	}
	if err := a.checkHeld(ctx, holder); err != nil {
		// The location may be another run's now: its Create removes
		// the staging directory, as a dead run's.
		return nil, err
	}
	var o rollOptions
	if a.Lease != nil {
		o.release = a.Lease.Release
	}
	journalPath := joinPath(a.Location, JournalName)
	if err := store.CreateNew(ctx, journalPath, data); err != nil {
		// The journal may be there all the same: its answer lost, or
		// written by an earlier attempt of this Commit that failed later.
		werr := fmt.Errorf("dataset: writing the commit journal %s: %w", journalPath, err)
		found, rerr := readJournal(ctx, store, a.Location)
		switch {
		case errors.Is(rerr, fs.ErrNotExist):
			return keepStaging(werr)
		case rerr != nil:
			return keepStaging(errors.Join(werr, rerr))
		case found.Run != j.Run || found.Staging != j.Staging:
			if errors.Is(err, fs.ErrExist) {
				return fail(werr) // another run's journal: never this one's to finish
			}
			return keepStaging(werr)
		}
		// This commit's journal: it landed though its answer was lost, or
		// an earlier attempt of this Commit wrote it (and may have begun
		// to roll it forward). The journal found is the commit.
		if !bytes.Equal(found.Manifest, j.Manifest) {
			fm := &Manifest{}
			if err := json.Unmarshal(found.Manifest, fm); err != nil {
				return nil, fmt.Errorf("%w in %s (run %s): its manifest: %w", ErrCommitInterrupted, a.Location, found.Run, err)
			}
			j, m = found, fm
		}
		o.resumed = true
	}
	// The commit point: from here on the new dataset wins.
	if err := rollForward(ctx, store, a.Location, j, o); err != nil {
		return nil, err
	}
	return m, nil
}

// checkHeld refuses a commit under a lease this run no longer holds: taken
// over by another run after this one went quiet for its TTL (a suspended
// machine, a network outage), the location is that run's, which removes
// this one's staging directory as a dead run's. A lease held by this
// process is known lost when a refresh found it so; one not confirmed for
// half its TTL is refreshed first. holder is the lease's run as Commit read
// it when another process holds the lease (LeaseRun).
func (a *Assembly) checkHeld(ctx context.Context, holder string) error {
	l := a.Lease
	switch {
	case l != nil:
		if l.heldLately() {
			return nil
		}
		if l.lost.Load() {
			return fmt.Errorf("%w: the lease on %s was taken over by another run while this one ran; nothing committed", ErrLocked, a.Location)
		}
		if err := l.Refresh(ctx); err != nil {
			return fmt.Errorf("dataset: confirming the lease on %s before the commit: %w; nothing committed", a.Location, err)
		}
	case a.LeaseRun != "" && holder != a.LeaseRun:
		by := "no run"
		if holder != "" {
			by = "run " + holder
		}
		return fmt.Errorf("%w: the lease on %s is held by %s, not by this conversion's run %s; nothing committed", ErrLocked, a.Location, by, a.LeaseRun)
	}
	return nil
}

// leaseHolder returns the run that holds location's lease ("" if none does).
func leaseHolder(ctx context.Context, store storage, location string) (string, error) {
	h, err := readLease(ctx, store, location)
	if err != nil || h == nil {
		return "", err
	}
	return h.RunID, nil
}

// maxInlineErrors is the largest errors.csv a journal carries (a larger one
// is staged and moved like a shard); a variable for tests.
var maxInlineErrors = 1 << 20

// emptyShard is a shard no row reached, made in memory: the journal carries
// its bytes.
type emptyShard struct {
	res         ShardResult
	data, index []byte
}

// writeEmptyShard makes shard number shard of split with no record (with its
// index sidecar when index is set) as w writes it.
func writeEmptyShard(ctx context.Context, w *ShardWriter, split string, shard int, index bool) (emptyShard, error) {
	var data, idx bytes.Buffer
	var idxW io.Writer
	if index {
		idxW = &idx
	}
	stats, _, err := w.Write(ctx, nil, &data, idxW)
	if err != nil {
		return emptyShard{}, err
	}
	res := ShardResult{Split: split, Shard: shard, Records: stats.Records, Bytes: stats.Bytes, CRC32C: stats.CRC32C, SHA256: stats.SHA256, Labels: stats.Labels}
	return emptyShard{res: res, data: data.Bytes(), index: idx.Bytes()}, nil
}

// commitFile gives a temporary file its final name (Place: on buckets the
// temporary one stays until the staging directory goes). A retried Commit
// finds the move already done: the temporary file is gone and the final one
// has the expected size (size < 0 skips the size check).
func commitFile(ctx context.Context, store storage, temp, final string, size int64) error {
	err := store.Place(ctx, temp, final)
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

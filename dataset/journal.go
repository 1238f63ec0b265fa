package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// JournalName is the commit journal: written, only if absent, once a new
// dataset is complete in its staging directory, it is the commit point.
// From then on the new dataset wins: a commit interrupted after it is
// finished by the next run (rollForward), and readers refuse the location
// while it exists.
const JournalName = ".tfprep-commit"

// ErrCommitInterrupted: the location holds a commit journal; the commit
// must be finished before the dataset can be read.
var ErrCommitInterrupted = errors.New("dataset: a commit was interrupted")

// commitParallelism bounds the moves of a commit in flight.
const commitParallelism = 16

// moveAttempts is how often a move is tried before the commit gives up
// (leaving the journal for the next run, never deleting a source).
const moveAttempts = 4

// journal lists what a commit does; every name is relative to the location.
type journal struct {
	Run     string `json:"run"`
	Staging string `json:"staging"` // the staging directory
	Moves   []move `json:"moves"`
	// Delete lists the files of the earlier dataset the new one does not
	// replace by a move.
	Delete []string `json:"delete"`
	// Fresh: the location held no dataset.json when the journal was
	// written, so there is no old manifest to remove first.
	Fresh bool `json:"fresh,omitempty"`
	// Manifest is the new dataset.json, written last. Journals of earlier
	// tfprep versions lack it: their staging directory holds the manifest.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Writes are files the journal carries, written with the moves: the
	// empty shards and errors.csv (unless large). Journals of earlier
	// versions lack them: their staging directory holds every file.
	Writes []fileWrite `json:"writes,omitempty"`
}

// fileWrite is a file a journal carries and its final name.
type fileWrite struct {
	To   string `json:"to"`
	Data []byte `json:"data"`
}

// move is one staged file and its final name; Size < 0 skips the size
// check of a move found done.
type move struct {
	From string `json:"from"`
	To   string `json:"to"`
	Size int64  `json:"size"`
}

func readJournal(ctx context.Context, store storage, location string) (*journal, error) {
	data, err := readAll(ctx, store, joinPath(location, JournalName))
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		// A journal is written whole and synced before its commit goes on
		// (storage.CreateNewFile). A torn one was written in place by an
		// earlier tfprep, killed (nothing followed) or cut by a power loss
		// (later steps may have reached the disk, the journal's data not):
		// it cannot be carried out and running again cannot help. It is
		// not deleted here: the user deletes it, and the next convert clears
		// the staging directory it named as a leftover.
		path := joinPath(location, JournalName)
		return nil, fmt.Errorf("%w in %s before its commit point: its journal %s is damaged (%d bytes, not a whole commit journal: %w); "+
			"the run that wrote it died before the journal was on the disk, and running again cannot finish that commit: "+
			"delete %s (nothing can be carried out from it) and run the same tfprep convert again (with --overwrite if the location holds an earlier conversion's files)",
			ErrCommitInterrupted, location, path, len(data), err, path)
	}
	return &j, nil
}

// checkNoJournal refuses a location where a commit was interrupted.
func checkNoJournal(ctx context.Context, store storage, location string) error {
	j, err := readJournal(ctx, store, location)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, ErrCommitInterrupted) {
		return err // damaged: its own advice
	}
	run := "unknown"
	if err == nil {
		run = j.Run
	}
	return fmt.Errorf("%w in %s (run %s); run the same tfprep convert again to finish it", ErrCommitInterrupted, location, run)
}

// rollForward carries out a journal's commit; every step is idempotent, so
// a commit interrupted anywhere is finished by running it again:
//
//  0. a resumed commit first reads dataset.json: if it is the journal's
//     manifest, the commit got past step 3's write (it stopped, or released
//     its lease, while the journal was being removed) and only the staging
//     directory and the journal remain to go; the manifest stays;
//  1. remove the old dataset.json, if there was one (the old dataset stops
//     claiming to be complete);
//  2. place the staged files at their final names, write the files the
//     journal carries, and delete the old files the new dataset does not
//     replace, all in parallel, retrying failures
//     (a move found done — source gone, target of the expected size —
//     counts as done);
//  3. write dataset.json, from the journal, then remove the journal; the
//     staging directory is removed meanwhile (a staging directory gone
//     before its journal is a commit whose moves are done), and o.release,
//     if set, runs while the journal is removed.
func rollForward(ctx context.Context, store storage, location string, j *journal, o rollOptions) error {
	fail := func(err error) error {
		return fmt.Errorf("%w in %s (run %s): %w; run the same tfprep convert again to finish it", ErrCommitInterrupted, location, j.Run, err)
	}
	written, err := manifestWritten(ctx, store, location, j, o.resumed)
	if err != nil {
		return fail(err)
	}
	data := []byte(j.Manifest)
	if !written {
		if !j.Fresh {
			if err := store.Remove(ctx, joinPath(location, ManifestName)); err != nil {
				return fail(err)
			}
		}
		if data, err = placeFiles(ctx, store, location, j); err != nil {
			return fail(err)
		}
	}
	// Every staged file is in place: the staging directory goes while the
	// manifest is written. One that cannot be removed is an orphan the next
	// run clears.
	removed := make(chan struct{})
	go func() {
		defer close(removed)
		retry(ctx, func() error { return store.RemoveAll(ctx, joinPath(location, j.Staging)) })
	}()
	if !written {
		err = retry(ctx, func() error { return writeAtomic(ctx, store, joinPath(location, ManifestName), data) })
	}
	if err == nil {
		// The dataset is complete: a run that takes the lease now and
		// finds the journal finishes the commit by removing it, keeping the
		// manifest (step 0), so the lease goes while the journal is removed.
		var released sync.WaitGroup
		if o.release != nil {
			released.Go(func() { o.release(context.WithoutCancel(ctx)) })
		}
		err = retry(ctx, func() error { return store.Remove(ctx, joinPath(location, JournalName)) })
		released.Wait()
	}
	<-removed
	if err != nil {
		return fail(err)
	}
	return nil
}

// rollOptions are how a commit is carried out.
type rollOptions struct {
	// resumed: the journal was found, not just written by this call's
	// Commit: the commit may have got as far as its manifest.
	resumed bool
	// release, when set, runs while the journal is removed, once the
	// manifest is written: the release of the run's lease (Assembly.Lease).
	release func(context.Context) error
}

// manifestWritten reports whether a resumed commit got as far as its
// manifest: dataset.json is the journal's own (written only once every move
// and delete is done), so that only the staging directory and the journal
// remain to go, and the manifest must stay (rollForward's step 1 would
// otherwise remove it). A commit that is not resumed, or a journal of an
// earlier version (no manifest in it), is carried out from its first step.
func manifestWritten(ctx context.Context, store storage, location string, j *journal, resumed bool) (bool, error) {
	if !resumed || len(j.Manifest) == 0 {
		return false, nil
	}
	cur, err := readAll(ctx, store, joinPath(location, ManifestName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return sameJSON(cur, j.Manifest), nil
}

// placeFiles is rollForward's second step, and returns the manifest to
// write.
func placeFiles(ctx context.Context, store storage, location string, j *journal) ([]byte, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(commitParallelism)
	for _, mv := range j.Moves {
		g.Go(func() error {
			return retry(gctx, func() error {
				return commitFile(gctx, store, joinPath(location, mv.From), joinPath(location, mv.To), mv.Size)
			})
		})
	}
	for _, w := range j.Writes {
		g.Go(func() error {
			return retry(gctx, func() error { return writeAtomic(gctx, store, joinPath(location, w.To), w.Data) })
		})
	}
	for _, name := range j.Delete {
		g.Go(func() error {
			return retry(gctx, func() error { return store.Remove(gctx, joinPath(location, name)) })
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(j.Manifest) > 0 {
		return j.Manifest, nil
	}
	return readAll(ctx, store, joinPath(location, j.Staging+"/"+ManifestName))
}

// sameJSON reports whether a and b are the same JSON text but for spacing
// (a journal holds its manifest compacted).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

// retry runs op until it succeeds, up to moveAttempts times with
// exponential backoff, or ctx is done.
func retry(ctx context.Context, op func() error) error {
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == moveAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// Abort cleans up after a conversion stopped before it finished (a signal,
// a failed job): if its commit reached the commit point (the journal names
// tempDir), the commit is finished (committed is true); otherwise tempDir,
// the staging directory Create or Plan named, is removed and the location
// is as it was.
func Abort(ctx context.Context, location, tempDir string) (committed bool, err error) {
	store, err := storageFor(location)
	if err != nil {
		return false, err
	}
	j, err := readJournal(ctx, store, location)
	switch {
	case err == nil && joinPath(location, j.Staging) == tempDir:
		return true, rollForward(ctx, store, location, j, rollOptions{resumed: true})
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	// No journal, or another run's (left for the next Create to finish:
	// a dry run's Abort must not act on it).
	return false, store.RemoveAll(ctx, tempDir)
}

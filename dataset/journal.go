package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
		return nil, fmt.Errorf("dataset: %s: %w", joinPath(location, JournalName), err)
	}
	return &j, nil
}

// checkNoJournal refuses a location where a commit was interrupted.
func checkNoJournal(ctx context.Context, store storage, location string) error {
	j, err := readJournal(ctx, store, location)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
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
//  1. remove the old dataset.json, if there was one (the old dataset stops
//     claiming to be complete);
//  2. place the staged files at their final names and delete the old files
//     the new dataset does not replace, all in parallel, retrying failures
//     (a move found done — source gone, target of the expected size —
//     counts as done);
//  3. write dataset.json, from the journal, then remove the journal; the
//     staging directory is removed meanwhile (a staging directory gone
//     before its journal is a commit whose moves are done).
func rollForward(ctx context.Context, store storage, location string, j *journal) error {
	fail := func(err error) error {
		return fmt.Errorf("%w in %s (run %s): %w; run the same tfprep convert again to finish it", ErrCommitInterrupted, location, j.Run, err)
	}
	if !j.Fresh {
		if err := store.Remove(ctx, joinPath(location, ManifestName)); err != nil {
			return fail(err)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(commitParallelism)
	for _, mv := range j.Moves {
		g.Go(func() error {
			return retry(gctx, func() error {
				return commitFile(gctx, store, joinPath(location, mv.From), joinPath(location, mv.To), mv.Size)
			})
		})
	}
	for _, name := range j.Delete {
		g.Go(func() error {
			return retry(gctx, func() error { return store.Remove(gctx, joinPath(location, name)) })
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	data := []byte(j.Manifest)
	if len(data) == 0 {
		var err error
		if data, err = readAll(ctx, store, joinPath(location, j.Staging+"/"+ManifestName)); err != nil {
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
	err := retry(ctx, func() error { return writeAtomic(ctx, store, joinPath(location, ManifestName), data) })
	if err == nil {
		err = store.Remove(ctx, joinPath(location, JournalName))
	}
	<-removed
	if err != nil {
		return fail(err)
	}
	return nil
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
		return true, rollForward(ctx, store, location, j)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	// No journal, or another run's (left for the next Create to finish:
	// a dry run's Abort must not act on it).
	return false, store.RemoveAll(ctx, tempDir)
}

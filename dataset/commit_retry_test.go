package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"

	objstore "github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

// stagedFiles returns the files under a commit's staging directory.
func stagedFiles(t *testing.T, a *Assembly) []string {
	t.Helper()
	store, err := storageFor(a.Location)
	if err != nil {
		t.Fatal(err)
	}
	names, err := store.ListAll(context.Background(), a.TempDir)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// requireOld checks that dir still holds the earlier dataset of 2 train
// shards, readable, with no journal.
func requireOld(t *testing.T, dir string) {
	t.Helper()
	d, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("the earlier dataset: %v", err)
	}
	if got := len(d.Manifest.Split("train").Shards); got != 2 {
		t.Fatalf("train has %d shards, want the earlier dataset's 2", got)
	}
}

// overOld commits at dir an earlier dataset of 2 train shards and returns
// the Assembly of a new one of 3 that overwrites it.
func overOld(t *testing.T, dir string) *Assembly {
	t.Helper()
	if _, err := sampleAssembly(t, dir, tfrecord.None, false, false, 2).Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return sampleAssembly(t, dir, tfrecord.None, false, true, 3)
}

// TestCommitRetriedAfterStorageError: a Commit that fails on a storage
// error before its commit point keeps its staged shards, so that a runner's
// retry of the same Commit (a Finalize bundle retried) commits them. Before,
// the first attempt removed them and the retry wrote a journal naming files
// that were gone: the earlier dataset's manifest went and the commit could
// never finish.
func TestCommitRetriedAfterStorageError(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		a := overOld(t, dir)
		wrapStorage = func(s storage) storage { return failList{s} }
		_, err := a.Commit(ctx)
		wrapStorage = nil
		if err == nil {
			t.Fatal("Commit whose listing fails succeeded")
		}
		if len(stagedFiles(t, a)) == 0 {
			t.Fatalf("a storage error removed the staged shards (%v)", err)
		}
		requireOld(t, dir)
		if _, err := a.Commit(ctx); err != nil {
			t.Fatalf("the retried Commit: %v", err)
		}
		removeStaging(t, dir)
		verifyClean(t, dir, 3)
	})
}

// lostAnswer is storage whose CreateNew writes the file and then reports a
// timeout, as when the answer to a request that landed is lost.
type lostAnswer struct{ storage }

func (d lostAnswer) CreateNew(ctx context.Context, path string, data []byte) error {
	if err := d.storage.CreateNew(ctx, path, data); err != nil {
		return err
	}
	return &fs.PathError{Op: "createnew", Path: path, Err: syscall.ETIMEDOUT}
}

// TestCommitJournalAnswerLost: a journal that landed though its write
// reported an error is the commit point all the same: Commit reads it back
// and finishes the commit (before, it removed the staged shards the journal
// names, and the next run could never finish it).
func TestCommitJournalAnswerLost(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		a := overOld(t, dir)
		wrapStorage = func(s storage) storage { return lostAnswer{s} }
		m, err := a.Commit(ctx)
		wrapStorage = nil
		if err != nil {
			t.Fatalf("Commit whose journal landed with a lost answer: %v", err)
		}
		if got := len(m.Split("train").Shards); got != 3 {
			t.Errorf("manifest returned has %d train shards, want 3", got)
		}
		removeStaging(t, dir)
		verifyClean(t, dir, 3)
	})
}

// TestCommitRetriedAfterCommitPoint: a Commit that failed after its journal
// (every move failed), retried, finishes the commit from the journal the
// first attempt wrote, and returns that journal's manifest.
func TestCommitRetriedAfterCommitPoint(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		a := overOld(t, dir)
		wrapStorage = func(s storage) storage { return failPlace{s} }
		_, err := a.Commit(ctx)
		wrapStorage = nil
		if !errors.Is(err, ErrCommitInterrupted) {
			t.Fatalf("Commit whose moves fail: got %v, want ErrCommitInterrupted", err)
		}
		first, err := readJournal(ctx, mustStore(t, dir), dir)
		if err != nil {
			t.Fatal(err)
		}
		a.Created = time.Now().Add(time.Hour) // the retry's manifest would differ
		m, err := a.Commit(ctx)
		if err != nil {
			t.Fatalf("the retried Commit: %v", err)
		}
		var want Manifest
		if err := json.Unmarshal(first.Manifest, &want); err != nil {
			t.Fatal(err)
		}
		if !m.Created.Equal(want.Created) {
			t.Errorf("the retry returned its own manifest (created %v), not the journal's (%v)", m.Created, want.Created)
		}
		removeStaging(t, dir)
		verifyClean(t, dir, 3)
	})
}

func mustStore(t *testing.T, dir string) storage {
	t.Helper()
	s, err := storageFor(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCommitRefusesLostLease: a run whose lease another run took over (it
// went quiet beyond the TTL) does not pass its commit point: the location is
// the other run's. A lease not confirmed for half its TTL is refreshed
// first, and refused if it is lost.
func TestCommitRefusesLostLease(t *testing.T) {
	for _, how := range []string{"refresh found it lost", "not confirmed lately"} {
		t.Run(how, func(t *testing.T) {
			bucketsAndDisk(t, func(t *testing.T, dir string) {
				ctx := context.Background()
				a := overOld(t, dir)
				lease, err := Acquire(ctx, dir, "run a", 0)
				if err != nil {
					t.Fatal(err)
				}
				a.Lease = lease
				// Run b takes the lease over.
				h := objstore.Holder{RunID: "b", Host: "elsewhere", PID: 1, Created: time.Now(), Updated: time.Now(), TTL: time.Hour}
				data, _ := json.Marshal(h)
				store := mustStore(t, dir)
				if err := store.Remove(ctx, joinPath(dir, LockName)); err != nil {
					t.Fatal(err)
				}
				if err := store.CreateNew(ctx, joinPath(dir, LockName), data); err != nil {
					t.Fatal(err)
				}
				if how == "refresh found it lost" {
					if err := lease.Refresh(ctx); !errors.Is(err, ErrLocked) {
						t.Fatalf("refresh of a lease taken over: %v", err)
					}
				} else {
					lease.confirmed.Store(time.Now().Add(-time.Hour).UnixNano())
				}
				if _, err := a.Commit(ctx); !errors.Is(err, ErrLocked) {
					t.Fatalf("Commit under a lease taken over: got %v, want ErrLocked", err)
				}
				requireOld(t, dir)
				if got, err := leaseHolder(ctx, store, dir); err != nil || got != "b" {
					t.Errorf("the lease is now %q (%v), want run b's", got, err)
				}
			})
		})
	}
}

// TestCommitChecksLeaseRun: a Commit in another process than the lease's
// holder (Assembly.LeaseRun) commits only while that run holds the lease.
func TestCommitChecksLeaseRun(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		a := overOld(t, dir)
		lease, err := Acquire(ctx, dir, "launcher", 0)
		if err != nil {
			t.Fatal(err)
		}
		a.LeaseRun = "another-run"
		if _, err := a.Commit(ctx); !errors.Is(err, ErrLocked) {
			t.Fatalf("Commit for a run that does not hold the lease: got %v, want ErrLocked", err)
		}
		requireOld(t, dir)
		a.LeaseRun = lease.Run
		lease.Release(ctx)
		if _, err := a.Commit(ctx); !errors.Is(err, ErrLocked) {
			t.Fatalf("Commit with no lease held: got %v, want ErrLocked", err)
		}
		requireOld(t, dir)
		lease, err = Acquire(ctx, dir, "launcher", 0)
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release(ctx)
		a.LeaseRun = lease.Run
		if _, err := a.Commit(ctx); err != nil {
			t.Fatalf("Commit for the run holding the lease: %v", err)
		}
		removeStaging(t, dir)
		verifyClean(t, dir, 3)
	})
}

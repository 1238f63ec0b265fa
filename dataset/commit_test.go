package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/schema"
	objstore "github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"

	"github.com/google/go-cmp/cmp"
)

func TestLowestLines(t *testing.T) {
	var ws []Warning
	for _, line := range []int{9, 3, 7, 1, 5} {
		ws = append(ws, Warning{Line: line})
	}
	var got []int
	for _, w := range lowestLines(ws, 3) {
		got = append(got, w.Line)
	}
	if diff := cmp.Diff([]int{1, 3, 5}, got); diff != "" {
		t.Errorf("lowestLines (-want +got):\n%s", diff)
	}
}

// faultStore is storage (local disk or a bucket) whose mutating calls first
// ask fault, and fail with its error: op is "create", "createnew",
// "rename", "place", "remove" or "removeall", path the file created or
// removed, or the target of a rename or place.
type faultStore struct {
	storage
	fault func(op, path string) error
}

func (d faultStore) Create(ctx context.Context, path string) (io.WriteCloser, error) {
	if err := d.fault("create", path); err != nil {
		return nil, err
	}
	return d.storage.Create(ctx, path)
}

func (d faultStore) CreateNew(ctx context.Context, path string, data []byte) error {
	if err := d.fault("createnew", path); err != nil {
		return err
	}
	return d.storage.CreateNew(ctx, path, data)
}

func (d faultStore) Rename(ctx context.Context, from, to string) error {
	if err := d.fault("rename", to); err != nil {
		return err
	}
	return d.storage.Rename(ctx, from, to)
}

func (d faultStore) Place(ctx context.Context, from, to string) error {
	if err := d.fault("place", to); err != nil {
		return err
	}
	return d.storage.Place(ctx, from, to)
}

func (d faultStore) Remove(ctx context.Context, path string) error {
	if err := d.fault("remove", path); err != nil {
		return err
	}
	return d.storage.Remove(ctx, path)
}

func (d faultStore) RemoveAll(ctx context.Context, path string) error {
	if err := d.fault("removeall", path); err != nil {
		return err
	}
	return d.storage.RemoveAll(ctx, path)
}

// injectFaults makes storageFor serve storage whose mutating calls fail from
// the failAt-th on (crash: every later one too, as if the process died;
// otherwise only that one, with ENOSPC, as a full disk would) until the test
// ends; it returns the call counter, so that a test counts the calls of a
// clean run.
func injectFaults(t *testing.T, failAt int64, crash bool) *atomic.Int64 {
	calls := new(atomic.Int64)
	fault := func(op, path string) error {
		n := calls.Add(1)
		if failAt > 0 && (n == failAt || crash && n > failAt) {
			return &fs.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
	wrapStorage = func(s storage) storage { return faultStore{s, fault} }
	t.Cleanup(func() { wrapStorage = nil })
	return calls
}

// verifyClean checks that dir holds a Verify-clean dataset of trainShards
// train shards and nothing else of tfprep's: no journal, staging directory
// or temporary file.
func verifyClean(t *testing.T, dir string, trainShards int) {
	t.Helper()
	ctx := context.Background()
	r, err := Verify(ctx, dir, true)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !r.OK {
		t.Errorf("verify: %+v", r.Discrepancies)
	}
	d, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(d.Manifest.Split("train").Shards); got != trainShards {
		t.Errorf("train has %d shards, want %d (the wrong dataset)", got, trainShards)
	}
	store, err := storageFor(dir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.ListAll(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if name, _, _ := strings.Cut(p, "/"); isLeftover(name) || name == JournalName {
			t.Errorf("left behind: %s", p)
		}
	}
}

// TestCommitFaults fails the seam at every mutating call of an overwriting
// commit, once (a full disk) or from then on (a crash), and checks that
// the location ends as the old dataset or the new one, Verify-clean: at
// once when the failure came before the commit point, after the next
// Create rolled the journal forward when it came after.
func TestCommitFaults(t *testing.T) {
	for _, store := range []string{"local", "gs", "s3"} {
		t.Run(store, func(t *testing.T) {
			var n atomic.Int64
			location := func(t *testing.T) string { return filepath.Join(t.TempDir(), "out") }
			switch store {
			case "gs":
				g := storagetest.StartGCS(t, "bucket")
				location = func(t *testing.T) string { return g.Location(t, "bucket", fmt.Sprintf("run%d/out", n.Add(1))) }
			case "s3":
				s := storagetest.StartS3(t, "bucket")
				location = func(t *testing.T) string { return s.Location(t, "bucket", fmt.Sprintf("run%d/out", n.Add(1))) }
			}
			testCommitFaults(t, location)
		})
	}
}

// testCommitFaults is TestCommitFaults at the locations newDir returns.
func testCommitFaults(t *testing.T, newDir func(t *testing.T) string) {
	ctx := context.Background()
	clean := injectFaults(t, 0, false)
	dir := newDir(t)
	if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := sampleAssembly(t, dir, tfrecord.None, true, true, 3)
	clean.Store(0)
	if _, err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	calls := clean.Load()
	if calls < 10 {
		t.Fatalf("a clean commit made %d calls; the fault hook sees nothing", calls)
	}
	for _, crash := range []bool{false, true} {
		for n := int64(1); n <= calls; n++ {
			t.Run(fmt.Sprintf("crash=%v/call%d", crash, n), func(t *testing.T) {
				dir := newDir(t)
				injectFaults(t, 0, false)
				if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
					t.Fatal(err)
				}
				a := sampleAssembly(t, dir, tfrecord.None, true, true, 3)
				injectFaults(t, n, crash)
				_, err := a.Commit(ctx)
				injectFaults(t, 0, false)
				if err == nil {
					if crash {
						// The run died after its commit: the next one clears its staging.
						if _, err := Create(ctx, dir, true); err != nil {
							t.Fatal(err)
						}
						removeStaging(t, dir)
					}
					verifyClean(t, dir, 3)
					return
				}
				store, serr := storageFor(dir)
				if serr != nil {
					t.Fatal(serr)
				}
				if _, jerr := store.Size(ctx, joinPath(dir, JournalName)); jerr != nil {
					// Failed before the commit point: the old dataset is
					// whole. A storage error kept the staging directory for
					// a retry; the launcher's Abort (or, after a crash, the
					// next Create) removes it.
					if crash {
						if _, err := Create(ctx, dir, true); err != nil {
							t.Fatal(err)
						}
						removeStaging(t, dir)
					} else if committed, err := Abort(ctx, dir, a.TempDir); committed || err != nil {
						t.Fatalf("Abort after a commit that failed before its journal: committed %v, %v", committed, err)
					}
					verifyClean(t, dir, 2)
					return
				}
				if _, err := Open(ctx, dir); !errors.Is(err, ErrCommitInterrupted) {
					t.Errorf("Open during an interrupted commit: got %v, want ErrCommitInterrupted", err)
				}
				if _, err := Create(ctx, dir, true); err != nil {
					t.Fatal(err)
				}
				removeStaging(t, dir)
				verifyClean(t, dir, 3)
			})
		}
	}
}

// failPlace is storage whose Place always fails: a commit stops right after
// its commit point.
type failPlace struct{ storage }

func (failPlace) Place(_ context.Context, from, _ string) error {
	return &fs.PathError{Op: "place", Path: from, Err: syscall.ENOSPC}
}

// TestRollForwardEarlierJournal: a commit interrupted by an earlier tfprep,
// whose journal carries no manifest (the staging directory holds it), is
// finished by the next Create.
func TestRollForwardEarlierJournal(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a := sampleAssembly(t, dir, tfrecord.None, true, true, 3)
	wrapStorage = func(s storage) storage { return failPlace{s} }
	_, err := a.Commit(ctx)
	wrapStorage = nil
	if !errors.Is(err, ErrCommitInterrupted) {
		t.Fatalf("got %v, want ErrCommitInterrupted", err)
	}
	store, err := storageFor(dir)
	if err != nil {
		t.Fatal(err)
	}
	j, err := readJournal(ctx, store, dir)
	if err != nil {
		t.Fatal(err)
	}
	if j.Fresh || len(j.Manifest) == 0 {
		t.Fatalf("journal over an earlier dataset: fresh %v, manifest of %d bytes", j.Fresh, len(j.Manifest))
	}
	// Rewrite it as an earlier tfprep did: the manifest staged beside the shards.
	if err := os.WriteFile(filepath.Join(dir, j.Staging, ManifestName), j.Manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	j.Manifest = nil
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"manifest"`) || strings.Contains(string(data), `"fresh"`) {
		t.Fatalf("the rewritten journal still has the new fields: %s", data)
	}
	if err := os.WriteFile(filepath.Join(dir, JournalName), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(ctx, dir, true); err != nil {
		t.Fatal(err)
	}
	removeStaging(t, dir)
	verifyClean(t, dir, 3)
}

// removeStaging removes the staging directory a test's Create made.
func removeStaging(t *testing.T, dir string) {
	t.Helper()
	if strings.Contains(dir, "://") {
		return // no directories on object stores: an empty staging prefix is nothing
	}
	matches, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*"))
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Error(err)
		}
	}
}

// TestCommitLimitKeepsOld: a commit refused by its rejected-row limit
// leaves the earlier dataset whole and the new errors beside it.
// With staged: an errors.csv too large for the journal, staged and moved.
func TestCommitLimitKeepsOld(t *testing.T) {
	for _, staged := range []bool{false, true} {
		t.Run(fmt.Sprintf("staged=%v", staged), func(t *testing.T) {
			if staged {
				defer func(n int) { maxInlineErrors = n }(maxInlineErrors)
				maxInlineErrors = 0
			}
			testCommitLimitKeepsOld(t)
		})
	}
}

func testCommitLimitKeepsOld(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := sampleAssembly(t, dir, tfrecord.GZIP, false, false, 2).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := sampleAssembly(t, dir, tfrecord.GZIP, false, true, 4).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	verifyClean(t, dir, 4)
	a := sampleAssembly(t, dir, tfrecord.GZIP, false, true, 3)
	refused := errors.New("too many")
	var kept string
	a.Limit = func(_, _ int64, errorsFile string) error { kept = errorsFile; return refused }
	if _, err := a.Commit(ctx); !errors.Is(err, refused) {
		t.Fatalf("got %v, want the limit's error", err)
	}
	if kept != filepath.Join(dir, FailedErrorsName) {
		t.Errorf("errors kept at %s, want %s", kept, FailedErrorsName)
	}
	if data, err := os.ReadFile(kept); err != nil || !strings.Contains(string(data), "missing") {
		t.Errorf("kept errors: %q, %v", data, err)
	}
	verifyClean(t, dir, 4)
}

func TestLease(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Acquire(ctx, dir, "convert a", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(ctx, dir, "convert b", time.Minute); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "convert a") {
		t.Errorf("second lease: got %v, want ErrLocked naming the holder", err)
	}
	if err := l.Refresh(ctx); err != nil {
		t.Errorf("refresh: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("released lease still there: %v", err)
	}

	// Stale: a dead process of this host, then a lease not refreshed in time.
	host, _ := os.Hostname()
	for name, h := range map[string]objstore.Holder{
		"dead pid": {RunID: "dead", Host: host, PID: deadPID(t), Updated: time.Now(), TTL: time.Hour},
		"expired":  {RunID: "old", Host: "elsewhere", PID: 1, Updated: time.Now().Add(-time.Hour), TTL: time.Minute},
	} {
		data, _ := json.Marshal(h)
		if err := os.WriteFile(filepath.Join(dir, LockName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := Acquire(ctx, dir, "convert c", time.Minute)
		if err != nil {
			t.Errorf("%s: stale lease not taken over: %v", name, err)
			continue
		}
		if l.Run == h.RunID {
			t.Errorf("%s: lease still names run %s", name, h.RunID)
		}
		l.Release(ctx)
	}
	// A holder's own TTL (an --async job's hours) outlives the judge's.
	async, _ := json.Marshal(objstore.Holder{RunID: "async", Host: "elsewhere", PID: 1, Updated: time.Now().Add(-time.Hour), TTL: 24 * time.Hour})
	os.WriteFile(filepath.Join(dir, LockName), async, 0o644)
	if _, err := Acquire(ctx, dir, "convert d", time.Minute); !errors.Is(err, ErrLocked) {
		t.Errorf("an async job's lease an hour old: got %v, want ErrLocked", err)
	}
	if err := ReleaseLease(ctx, dir, "other"); err != nil {
		t.Errorf("ReleaseLease of another run: %v", err)
	}
	if err := ReleaseLease(ctx, dir, "async"); err != nil {
		t.Errorf("ReleaseLease by its run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReleaseLease left the lease: %v", err)
	}
	live, _ := json.Marshal(objstore.Holder{RunID: "live", Host: "elsewhere", PID: 1, Updated: time.Now(), TTL: time.Hour})
	os.WriteFile(filepath.Join(dir, LockName), live, 0o644)
	if _, err := Create(ctx, dir, false); !errors.Is(err, ErrLocked) {
		t.Errorf("Create under another run's lease: got %v, want ErrLocked", err)
	}
}

// TestLeaseRace: of several runs that find the same stale lease at once,
// exactly one takes it over, on disk and on each emulator.
func TestLeaseRace(t *testing.T) {
	ctx := context.Background()
	for _, scheme := range []string{"local", "gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			dir := t.TempDir()
			switch scheme {
			case "gs":
				dir = storagetest.StartGCS(t, "bucket").Location(t, "bucket", "race/out")
			case "s3":
				dir = storagetest.StartS3(t, "bucket").Location(t, "bucket", "race/out")
			}
			d, err := leaseDir(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			stale, _ := json.Marshal(objstore.Holder{RunID: "gone", Host: "elsewhere", PID: 1, Updated: time.Now().Add(-time.Hour)})
			if err := d.WriteFile(ctx, LockName, stale, nil); err != nil {
				t.Fatal(err)
			}
			const n = 6
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() { _, errs[i] = Acquire(ctx, dir, fmt.Sprint("run ", i), time.Minute) })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, ErrLocked):
					t.Errorf("got %v, want ErrLocked", err)
				}
			}
			if won != 1 {
				t.Errorf("%d runs took the stale lease, want exactly 1", won)
			}
		})
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	return cmd.Process.Pid
}

// TestOrphansCleared: what a run killed with -9 left (a staging directory
// with shards, temporary files) is cleared by the next Create, without
// overwrite.
func TestOrphansCleared(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, p := range []string{tempPrefix + "dead/train-00000-of-00001.tfrecord.tmp-x", tempPrefix + "dead/sub/x", ErrorsName + ".tmp-abc", ManifestName + ".tmp-abc"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Create(ctx, dir, false); err != nil {
		t.Fatalf("Create after a killed run: %v", err)
	}
	if all, _ := (localDisk{}).ListAll(ctx, dir); len(all) != 0 {
		t.Errorf("left behind: %v", all)
	}
}

// A conversion that read rows and wrote none has failed: no manifest, no
// shard, errors.csv kept, the error naming the stage most rows failed at.
func TestCommitNothingWritten(t *testing.T) {
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	tempDir, err := Create(ctx, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	a := &Assembly{Location: dir, TempDir: tempDir, Spec: spec, Splits: []SplitLayout{{Name: "train", Fraction: 1, Shards: 2}}}
	a.AddRead(3)
	a.AddRejected(ErrorRecord{Line: 4, Key: "c", Stage: StageIO, Reason: "open c.jpg: no such file"})
	a.AddRejected(ErrorRecord{Line: 2, Key: "a", Stage: StageLabel, Reason: "bad label"})
	a.AddRejected(ErrorRecord{Line: 3, Key: "b", Stage: StageIO, Reason: "open b.jpg: no such file"})
	_, err = a.Commit(ctx)
	var nw *NothingWrittenError
	if !errors.As(err, &nw) || !errors.Is(err, ErrNothingWritten) {
		t.Fatalf("got %v, want a NothingWrittenError", err)
	}
	if nw.Stage != StageIO || nw.StageRows != 2 || nw.First.Line != 3 || nw.Read != 3 {
		t.Errorf("got %+v, want stage io, 2 rows, first line 3", nw)
	}
	if !strings.Contains(err.Error(), "line 3: open b.jpg") {
		t.Errorf("error %q does not name the first io rejection", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{ErrorsName}, names); diff != "" {
		t.Errorf("files left (-want +got):\n%s", diff)
	}
}

// A dataset whose manifest says every row was rejected fails verification.
func TestVerifyNothingWritten(t *testing.T) {
	dir, m := writeSample(t, tfrecord.None, false)
	m.Rows.Read = m.Rows.Rejected
	m.Rows.Written = 0
	for i := range m.Splits {
		m.Splits[i].Records, m.Splits[i].Bytes = 0, 0
		m.Splits[i].Shards = nil
	}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(context.Background(), dir, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range r.Discrepancies {
		found = found || d.Check == "rows" && strings.Contains(d.Detail, "no row written")
	}
	if r.OK || !found {
		t.Errorf("got ok=%v %v, want a rows discrepancy: nothing written", r.OK, r.Discrepancies)
	}
}

// TestPlanTouchesNothing: a dry run's Plan refuses what Create refuses but
// rolls nothing forward, deletes nothing and makes nothing.
func TestPlanTouchesNothing(t *testing.T) {
	ctx := context.Background()
	listing := func(dir string) []string {
		all, err := (localDisk{}).ListAll(ctx, dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return all
	}
	missing := filepath.Join(t.TempDir(), "new")
	if _, err := Plan(ctx, missing, false); err != nil {
		t.Fatalf("Plan of a new location: %v", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Plan made %s", missing)
	}

	dir, _ := writeSample(t, tfrecord.None, false)
	for _, p := range []string{tempPrefix + "dead/train-00000-of-00001.tfrecord.tmp-x", ManifestName + ".tmp-abc", JournalName} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := listing(dir)
	if _, err := Plan(ctx, dir, false); !errors.Is(err, ErrOutputExists) {
		t.Errorf("earlier dataset without overwrite: got %v, want ErrOutputExists", err)
	}
	tempDir, err := Plan(ctx, dir, true)
	if err != nil {
		t.Fatalf("Plan with overwrite: %v", err)
	}
	if committed, err := Abort(ctx, dir, tempDir); committed || err != nil {
		t.Errorf("Abort after Plan: committed %v, %v; want the other run's journal left alone", committed, err)
	}
	if diff := cmp.Diff(before, listing(dir)); diff != "" {
		t.Errorf("Plan and Abort changed the location (-before +after):\n%s", diff)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, dir, true); !errors.Is(err, ErrOutputExists) {
		t.Errorf("foreign file: got %v, want ErrOutputExists", err)
	}

	leftovers := t.TempDir()
	if err := os.WriteFile(filepath.Join(leftovers, ErrorsName+".tmp-abc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(ctx, leftovers, false); err != nil {
		t.Errorf("only leftovers of a dead run: %v (Create would clear them)", err)
	}
	if len(listing(leftovers)) != 1 {
		t.Error("Plan removed a leftover")
	}
}

// TestCommitRefusesDatasetWrittenMeanwhile: Lease.Create uses the listing
// taken while the lease was acquired, so a dataset committed in between
// goes unseen and the location is taken for empty; Commit, without
// Overwrite, then refuses to replace that dataset, which stays whole.
func TestCommitRefusesDatasetWrittenMeanwhile(t *testing.T) {
	ctx := context.Background()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	lease, err := Acquire(ctx, dir, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release(ctx)
	if _, err := sampleAssembly(t, dir, tfrecord.None, false, false, 3).Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tempDir, err := lease.Create(ctx, false)
	if err != nil {
		t.Fatalf("Create with the listing from before the commit: %v", err)
	}
	a := &Assembly{Location: dir, TempDir: tempDir, Spec: spec, Splits: []SplitLayout{{Name: "train", Fraction: 1, Shards: 1}}}
	if _, err := a.Commit(ctx); !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), ManifestName) {
		t.Fatalf("got %v, want ErrOutputExists naming %s", err, ManifestName)
	}
	if _, err := os.Stat(tempDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("staging directory: %v, want it removed", err)
	}
	verifyClean(t, dir, 3)
	// A second Create lists again and sees the dataset.
	if _, err := lease.Create(ctx, false); !errors.Is(err, ErrOutputExists) {
		t.Errorf("second Create: got %v, want ErrOutputExists", err)
	}
}

// failingOn makes storageFor serve storage whose Create, Rename (by its
// target) and Remove of a path with one of the given suffixes always fail
// (ENOSPC), until undone (or the test ends).
func failingOn(t *testing.T, suffixes ...string) (undo func()) {
	fault := func(op, path string) error {
		if op != "create" && op != "rename" && op != "remove" {
			return nil
		}
		for _, s := range suffixes {
			if strings.HasSuffix(path, s) {
				return &fs.PathError{Op: op, Path: path, Err: syscall.ENOSPC}
			}
		}
		return nil
	}
	wrapStorage = func(s storage) storage { return faultStore{s, fault} }
	undo = func() { wrapStorage = nil }
	t.Cleanup(undo)
	return undo
}

// bucketsAndDisk runs test at a fresh location on local disk and on the
// GCS emulator.
func bucketsAndDisk(t *testing.T, test func(t *testing.T, dir string)) {
	t.Run("local", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "out")) })
	t.Run("gs", func(t *testing.T) {
		g := storagetest.StartGCS(t, "bucket")
		test(t, g.Location(t, "bucket", "out"))
	})
}

// TestResumedCommitKeepsManifest: a commit stopped after its manifest was
// written (or whose lease was released while its journal was being removed)
// is finished by the next run without removing that manifest: the location
// never stops holding a complete dataset's dataset.json.
func TestResumedCommitKeepsManifest(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		if _, err := sampleAssembly(t, dir, tfrecord.None, false, false, 2).Commit(ctx); err != nil {
			t.Fatal(err)
		}
		a := sampleAssembly(t, dir, tfrecord.None, false, true, 3)
		undo := failingOn(t, "/"+JournalName)
		if _, err := a.Commit(ctx); !errors.Is(err, ErrCommitInterrupted) {
			t.Fatalf("commit whose journal cannot be removed: got %v, want ErrCommitInterrupted", err)
		}
		undo()
		if _, err := Open(ctx, dir); !errors.Is(err, ErrCommitInterrupted) {
			t.Fatalf("Open: got %v, want ErrCommitInterrupted", err)
		}
		// The next run finishes the commit; removing dataset.json fails.
		failingOn(t, "/"+ManifestName)
		if _, err := Create(ctx, dir, true); err != nil {
			t.Fatalf("Create finishing the commit touched dataset.json: %v", err)
		}
		undo()
		removeStaging(t, dir)
		verifyClean(t, dir, 3)
	})
}

// TestCommitReleasesLease: with Assembly.Lease, Commit releases the lease
// at its last step, and a second Release does nothing (another run's lease
// stays); a Commit that fails before its manifest is written keeps it.
func TestCommitReleasesLease(t *testing.T) {
	bucketsAndDisk(t, func(t *testing.T, dir string) {
		ctx := context.Background()
		lease, err := Acquire(ctx, dir, "test a", 0)
		if err != nil {
			t.Fatal(err)
		}
		a := sampleAssembly(t, dir, tfrecord.None, false, false, 2)
		a.Lease = lease
		if _, err := a.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		other, err := Acquire(ctx, dir, "test b", 0)
		if err != nil {
			t.Fatalf("lease after Commit: %v", err)
		}
		if err := lease.Release(ctx); err != nil {
			t.Errorf("second Release: %v", err)
		}
		if _, err := Acquire(ctx, dir, "test c", 0); !errors.Is(err, ErrLocked) {
			t.Errorf("a second Release removed another run's lease: Acquire got %v, want ErrLocked", err)
		}
		verifyClean(t, dir, 2)

		// Under other's lease: the manifest cannot be written.
		a = sampleAssembly(t, dir, tfrecord.None, false, true, 3)
		a.Lease = other
		failingOn(t, "/"+ManifestName)
		if _, err := a.Commit(ctx); !errors.Is(err, ErrCommitInterrupted) {
			t.Fatalf("commit whose manifest cannot be written: got %v, want ErrCommitInterrupted", err)
		}
		if _, err := Acquire(ctx, dir, "test d", 0); !errors.Is(err, ErrLocked) {
			t.Errorf("a commit that failed released its lease: Acquire got %v, want ErrLocked", err)
		}
		other.Release(ctx)
	})
}

// TestLeftoverNames: what a dead run can leave (staging directories and
// writeAtomic's temporary files, of the journal too) is a leftover; a
// dataset's files and foreign names are not.
func TestLeftoverNames(t *testing.T) {
	for name, want := range map[string]bool{
		".tfprep-tmp-ABC":                           true,
		"dataset.json.tmp-ABC":                      true,
		"errors.csv.tmp-ABC":                        true,
		"errors.failed.csv.tmp-ABC":                 true,
		".tfprep-commit.tmp-ABC":                    true,
		"train-00001-of-00003.tfrecord.tmp-ABC":     true,
		"train-00001-of-00003.tfrecord.idx.tmp-ABC": true,
		"train-00001-of-00003.tfrecord.gz.tmp-ABC":  true,
		"dataset.json":                              false,
		"train-00001-of-00003.tfrecord":             false,
		"notes.txt.tmp-ABC":                         false,
		".tfprep-lock.tmp-ABC":                      false,
		".tfprep-tmp-ABC.tmp-DEF.tmp-x":             true,
		"dataset.json.tmp-A.tmp-B":                  true,
	} {
		if got := isLeftover(name); got != want {
			t.Errorf("isLeftover(%q) = %v, want %v", name, got, want)
		}
	}
}

// failList is storage whose List always fails.
type failList struct{ storage }

func (failList) List(_ context.Context, dir string) ([]string, error) {
	return nil, &fs.PathError{Op: "list", Path: dir, Err: syscall.EIO}
}

// TestCommitUsesListingUnderLease: on a bucket, Commit with Assembly.Lease
// finds the earlier dataset in the listing Lease.Create took under the
// lease (it lists nothing itself), unless the lease is not known to be held
// any more: then it lists.
func TestCommitUsesListingUnderLease(t *testing.T) {
	ctx := context.Background()
	g := storagetest.StartGCS(t, "bucket")
	for _, stale := range []bool{false, true} {
		t.Run(fmt.Sprintf("stale=%v", stale), func(t *testing.T) {
			dir := g.Location(t, "bucket", fmt.Sprintf("stale%v/out", stale))
			if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
				t.Fatal(err)
			}
			lease, err := Acquire(ctx, dir, "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			defer lease.Release(ctx)
			if _, err := lease.Create(ctx, true); err != nil {
				t.Fatal(err)
			}
			a := sampleAssembly(t, dir, tfrecord.None, true, true, 3) // Create again, under the same lease
			a.Lease = lease
			if stale {
				lease.confirmed.Store(time.Now().Add(-time.Hour).UnixNano())
			}
			names, ok := lease.listingForCommit(ctx)
			if ok == stale || !slices.Contains(names, ManifestName) {
				t.Fatalf("listingForCommit: %v, %v; want the earlier dataset, ok %v", names, ok, !stale)
			}
			wrapStorage = func(s storage) storage { return failList{s} }
			defer func() { wrapStorage = nil }()
			_, err = a.Commit(ctx)
			wrapStorage = nil
			if stale {
				if err == nil || !strings.Contains(err.Error(), "listing") {
					t.Fatalf("Commit under a lease not confirmed for an hour: got %v, want its own listing's error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			verifyClean(t, dir, 3)
		})
	}
}

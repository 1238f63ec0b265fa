package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	objstore "github.com/tfprep/tfprep/storage"
)

// LockName is the lease file of an output location: whoever created it
// owns the location until it releases it or the lease goes stale.
const LockName = ".tfprep-lock"

// DefaultLeaseTTL is how long a lease stays valid without a refresh.
const DefaultLeaseTTL = 2 * time.Minute

// ErrLocked: another live run holds the location's lease.
var ErrLocked = errors.New("dataset: output is in use by another run")

// Lease is a held lease on an output location: a storage.Lease on
// location/.tfprep-lock, created only if absent (O_EXCL-like on disk, a
// precondition on buckets) and changed only conditionally on the version
// its holder wrote, so that of two runs that find a stale lease one wins.
type Lease struct {
	Location string
	Run      string // this run's id, as the lease names it
	lease    *objstore.Lease

	// listed is the location's listing, taken while the lease was being
	// acquired, for the first Create or Plan (nil: they list).
	listed []string

	// confirmed is when the last write that proved the lease ours (its
	// acquisition or a refresh) was sent, in Unix nanoseconds; lost is set
	// when a refresh found it taken over.
	confirmed atomic.Int64
	lost      atomic.Bool
	// later is the listing Create starts once the location is prepared,
	// under the lease, for Commit (nil: Commit lists).
	later *laterListing

	// The lease is released once (Commit may release it before its
	// caller does); released is closed then, which stops KeepAlive.
	releaseOnce sync.Once
	releaseErr  error
	released    chan struct{}
}

// leaseDir returns the storage directory of location for its lease.
func leaseDir(ctx context.Context, location string) (*objstore.Dir, error) {
	if !strings.Contains(location, "://") {
		return objstore.Open(ctx, location)
	}
	s, err := openBucket(ctx, location)
	if err != nil {
		return nil, err
	}
	b := s.(bucketStore)
	return b.dir(location)
}

// Acquire takes the lease on location. A lease left by a run that is gone
// (same host and its process is dead, or not refreshed within the longer of
// ttl and its own TTL) is taken over; a live one is refused with an error
// wrapping ErrLocked that names its holder. ttl <= 0 means DefaultLeaseTTL:
// the time this run promises to refresh within, and the one it judges
// others by.
func Acquire(ctx context.Context, location, command string, ttl time.Duration) (*Lease, error) {
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	d, err := leaseDir(ctx, location)
	if err != nil {
		return nil, err
	}
	h := objstore.CurrentHolder(randomID())
	h.Command, h.TTL = command, ttl
	// The location is listed while the lease is taken (on a bucket, two
	// round trips at once) for Lease.Create, which says why a listing
	// taken before the lease was held serves.
	list := listLater(ctx, location, true)
	sent := time.Now()
	l, err := d.AcquireLease(ctx, LockName, h, min(ttl, DefaultLeaseTTL))
	<-list.done
	var held *objstore.LeaseHeldError
	if errors.As(err, &held) {
		o := held.Holder
		return nil, fmt.Errorf("%w: %s is held by run %s (%s, pid %d on %s, since %s, refreshed %s); wait for it or, if it is gone, remove %s",
			ErrLocked, location, o.RunID, o.Command, o.PID, o.Host,
			o.Created.Format(time.RFC3339), o.Updated.Format(time.RFC3339), held.URL)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: taking the lease of %s: %w", location, err)
	}
	heldHere.Store(location, h.RunID)
	lease := &Lease{Location: location, Run: h.RunID, lease: l, released: make(chan struct{})}
	lease.confirmed.Store(sent.UnixNano())
	if list.err == nil {
		lease.listed = list.names
		if lease.listed == nil {
			lease.listed = []string{}
		}
	}
	return lease, nil
}

// Create is dataset.Create on the lease's location, with the listing taken
// while the lease was acquired: on a bucket, one round trip fewer before a
// conversion starts. A listing taken before the lease was held serves:
//   - what dead runs left (journal, staging directories, temporary files)
//     was there before, and is in it;
//   - a run that held the lease during the listing released it before this
//     one got it, so it was done: its journal, if listed, is read back
//     missing (and the location listed again); its staging directory, if
//     listed, is removed twice, which is harmless;
//   - the dataset such a run committed may be missing from the listing, so
//     that a location taken for empty holds one. Commit lists the location
//     again under the lease, and without Assembly.Overwrite it refuses to
//     replace a dataset (ErrOutputExists).
//
// On a bucket Create then lists the location again, in the background, for
// Commit (Assembly.Lease): taken under the lease after the location was
// prepared, that listing stays true while the lease is held, and Commit
// needs no round trip of its own to find the earlier dataset.
func (l *Lease) Create(ctx context.Context, overwrite bool) (tempDir string, err error) {
	tempDir, err = prepare(ctx, l.Location, overwrite, false, l.takeListing())
	if err == nil && strings.Contains(l.Location, "://") {
		l.later = listLater(ctx, l.Location, false)
	}
	return tempDir, err
}

// laterListing is a listing of a location taken in the background; its
// names and err are set once done is closed.
type laterListing struct {
	done  chan struct{}
	names []string
	err   error
}

// listLater lists location in the background: every name under it
// (storage.ListAll) when all is set, else its top-level names
// (storage.List).
func listLater(ctx context.Context, location string, all bool) *laterListing {
	ll := &laterListing{done: make(chan struct{})}
	go func() {
		defer close(ll.done)
		store, err := storageFor(location)
		switch {
		case err != nil:
		case all:
			ll.names, err = store.ListAll(ctx, location)
		default:
			ll.names, err = store.List(ctx, location)
		}
		ll.err = err
	}()
	return ll
}

// listingForCommit returns the listing Create took under the lease, if it
// is still the location's: the lease was confirmed ours (acquired or
// refreshed) less than half its TTL ago, so that no other run can have
// judged it stale and taken it over since. ok is false when Commit must list
// (no such listing, it failed, or the lease is not known to be held).
func (l *Lease) listingForCommit(ctx context.Context) (names []string, ok bool) {
	ll := l.later
	if ll == nil {
		return nil, false
	}
	select {
	case <-ll.done:
	case <-ctx.Done():
		return nil, false
	}
	return ll.names, ll.err == nil && l.heldLately()
}

// heldLately reports whether the lease is known to be this run's: no
// refresh found it lost, and it was confirmed (acquired or refreshed) less
// than half its TTL ago, so that no other run can have judged it stale and
// taken it over since.
func (l *Lease) heldLately() bool {
	return !l.lost.Load() && time.Since(time.Unix(0, l.confirmed.Load())) < l.lease.Holder().TTL/2
}

// Plan is dataset.Plan with the listing taken while the lease was acquired.
func (l *Lease) Plan(ctx context.Context, overwrite bool) (tempDir string, err error) {
	return prepare(ctx, l.Location, overwrite, true, l.takeListing())
}

// takeListing returns the listing Acquire took, once (nil: list again).
func (l *Lease) takeListing() []string {
	listed := l.listed
	l.listed = nil
	return listed
}

// heldHere maps the locations whose lease this process holds to the run that
// holds it: checkLease need not read a lease it knows.
var heldHere sync.Map

// Refresh records that the holder is alive. It fails, wrapping ErrLocked,
// when the lease was taken over by another run. It runs one at a time with
// Release; once Release was called it writes nothing and returns an error
// wrapping storage.ErrLeaseReleased (not ErrLocked: the lease is not lost).
func (l *Lease) Refresh(ctx context.Context) error {
	sent := time.Now()
	err := l.lease.Refresh(ctx)
	switch {
	case err == nil:
		l.confirmed.Store(sent.UnixNano())
	case errors.Is(err, objstore.ErrLeaseLost):
		l.lost.Store(true)
		return fmt.Errorf("%w: %w", ErrLocked, err)
	}
	return err
}

// KeepAlive refreshes the lease every TTL/4 until ctx is done or the lease
// is released. Release need not stop it first: a refresh in flight is
// waited for, and none is sent after the release.
func (l *Lease) KeepAlive(ctx context.Context) {
	t := time.NewTicker(l.lease.Holder().TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.released:
			return
		case <-t.C:
			l.Refresh(ctx)
		}
	}
}

// Release removes the lease if this run still holds it. Only the first
// call acts; later ones return its result. It stops KeepAlive and waits for
// a refresh in flight, then deletes the lease object conditionally on the
// version last written; if that changed and the object still names this
// run (a refresh landed whose answer was lost), it is deleted at the
// version read back. A lease taken over by another run is left to it, and
// that is not an error.
func (l *Lease) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() {
		heldHere.CompareAndDelete(l.Location, l.Run)
		if l.released != nil {
			close(l.released)
		}
		if err := l.lease.Release(ctx); err != nil && !errors.Is(err, objstore.ErrLeaseLost) {
			l.releaseErr = err
		}
	})
	return l.releaseErr
}

// isLeaseName reports whether a base name is the lease or its temporary.
// (a local lease is written as "."+LockName+".tmp-*" and renamed: a listing
// taken while the lease is acquired may see it).
func isLeaseName(name string) bool {
	return name == LockName || strings.HasPrefix(name, LockName+".tmp-") || strings.HasPrefix(name, "."+LockName+".tmp-")
}

// ReleaseLease removes location's lease if run still holds it: the release
// by a job's last step when the launcher did not wait for the job.
func ReleaseLease(ctx context.Context, location, run string) error {
	heldHere.CompareAndDelete(location, run)
	d, err := leaseDir(ctx, location)
	if err != nil {
		return err
	}
	return d.ReleaseLeaseOf(ctx, LockName, run)
}

// checkLease refuses a location whose lease a live run of another process
// holds: its staging directory must not be taken for an orphan.
func checkLease(ctx context.Context, store storage, location string) error {
	if _, ok := heldHere.Load(location); ok {
		return nil // this process holds it
	}
	h, err := readLease(ctx, store, location)
	if err != nil || h == nil {
		return err
	}
	host, _ := os.Hostname()
	if h.Stale(time.Now(), DefaultLeaseTTL) || (h.Host == host && h.PID == os.Getpid()) {
		return nil
	}
	return fmt.Errorf("%w: %s is held by run %s (pid %d on %s)", ErrLocked, location, h.RunID, h.PID, h.Host)
}

// readLease returns the holder of location's lease, nil when there is none
// (or it was torn by a crash while written: then nobody holds it).
func readLease(ctx context.Context, store storage, location string) (*objstore.Holder, error) {
	path := joinPath(location, LockName)
	data, err := readAll(ctx, store, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: reading the lease %s: %w", path, err)
	}
	var h objstore.Holder
	if json.Unmarshal(data, &h) != nil {
		return nil, nil
	}
	return &h, nil
}

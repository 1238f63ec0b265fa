package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrLeaseHeld is returned (in a [*LeaseHeldError]) by AcquireLease when another live holder has it.
var ErrLeaseHeld = errors.New("storage: lease held by another run")

// ErrLeaseLost is returned by Refresh and Release when the lease object is no longer the one this holder
// wrote: it was taken over as stale, or removed.
var ErrLeaseLost = errors.New("storage: lease lost")

// ErrLeaseReleased is returned by Refresh once Release was called on the same Lease: the refresh does
// nothing (it must not write the lease object back).
var ErrLeaseReleased = errors.New("storage: lease released")

// Holder says who holds a lease; it is the JSON content of the lease object.
type Holder struct {
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	RunID   string    `json:"run_id"`
	Command string    `json:"command,omitempty"` // what the holder runs, for people reading the lease
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"` // last Acquire or Refresh
	// TTL is the holder's own promise: how long it may go without a refresh (a job submitted without
	// waiting for it promises hours). Judges use the longer of it and their own ttl.
	TTL time.Duration `json:"ttl,omitempty"`
}

// CurrentHolder returns a Holder for this process with the given run id.
func CurrentHolder(runID string) Holder {
	host, _ := os.Hostname()
	return Holder{Host: host, PID: os.Getpid(), RunID: runID}
}

// Stale reports whether the holder can be presumed gone at now: it has not refreshed within ttl (or its
// own longer TTL), or it
// ran on this host (same host name as this process) under a pid that no longer exists. A pid reused by
// another process keeps a dead holder's lease alive until ttl passes; clocks of different hosts are
// compared, so ttl should be well above their skew (minutes, not seconds).
func (h Holder) Stale(now time.Time, ttl time.Duration) bool {
	if ttl > 0 && h.TTL > ttl {
		ttl = h.TTL
	}
	if ttl > 0 && now.Sub(h.Updated) > ttl {
		return true
	}
	host, _ := os.Hostname()
	return h.Host == host && h.PID > 0 && !processAlive(h.PID)
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM) // EPERM: alive, someone else's
}

// LeaseHeldError names a lease object and its live holder.
type LeaseHeldError struct {
	URL    string
	Holder Holder
}

func (e *LeaseHeldError) Error() string {
	h := e.Holder
	return fmt.Sprintf("storage: %s is held by run %s (host %s, pid %d, since %s, last refreshed %s)",
		e.URL, h.RunID, h.Host, h.PID, h.Created.Format(time.RFC3339), h.Updated.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLeaseHeld) true.
func (e *LeaseHeldError) Is(target error) bool { return target == ErrLeaseHeld }

// Lease is an exclusive claim on a location, held as a small lock object that is created only if absent
// (GCS ifGenerationMatch=0, S3 If-None-Match, local link(2) like O_EXCL). Its holder refreshes it more
// often than the ttl others judge it by, and releases it when done. Every change is conditional on the
// version this holder wrote last (GCS generation, S3 ETag, local inode under a directory flock).
//
// Refresh and Release may be called at once on one Lease (a keep-alive loop and the release): they run
// one after the other, so a release uses the version of the last refresh, and a refresh after a release
// does nothing.
type Lease struct {
	d    *Dir
	name string
	key  string

	// op serialises Refresh and Release, conditional requests included.
	op sync.Mutex
	// mu guards holder, version and released (held only briefly, never across a request: Holder does
	// not wait for a refresh in flight).
	mu       sync.Mutex
	holder   Holder
	version  string
	released bool // Release was called
	// Replaced is the stale holder this lease replaced, if any: its leftovers are the new holder's to
	// clear.
	Replaced *Holder
}

// AcquireLease creates the lease object name under d holding h (Created and Updated are set to now). If
// the object exists and its holder is Stale by ttl, it is taken over, conditionally on the version judged
// stale, and Lease.Replaced says whose it was; if the holder is live, the error is a *LeaseHeldError. An
// unreadable lease object (not JSON, e.g. torn by hand) counts as stale only when its modification time is
// older than ttl.
func (d *Dir) AcquireLease(ctx context.Context, name string, h Holder, ttl time.Duration) (*Lease, error) {
	key, err := d.key("lease", name)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	h.Created, h.Updated = now, now
	l := &Lease{d: d, name: name, key: key, holder: h}
	data, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	err = d.writeKey(ctx, key, data, writeOptions{ifNotExist: true, contentType: "application/json", written: &l.version})
	if err == nil {
		return l, l.remember(ctx)
	}
	if d.be.kind(err) != ErrExist {
		return nil, d.wrap("lease", key, err)
	}
	// Held: by whom, and are they alive?
	cur, attrs, err := l.read(ctx)
	if errors.Is(err, ErrNotExist) {
		return d.AcquireLease(ctx, name, h, ttl) // released meanwhile
	}
	if err != nil && attrs == nil {
		return nil, err
	}
	stale := err == nil && cur.Stale(now, ttl) || err != nil && ttl > 0 && now.Sub(attrs.ModTime) > ttl
	if !stale {
		if err != nil {
			return nil, err
		}
		return nil, &LeaseHeldError{URL: d.be.url(key), Holder: *cur}
	}
	// Take it over, only if it is still the version judged stale: of two runs that both saw it stale,
	// one wins and the other finds it held.
	if err := l.replace(ctx, data, attrs.version); err != nil {
		if errors.Is(err, errChanged) {
			return d.AcquireLease(ctx, name, h, ttl)
		}
		return nil, d.wrap("lease", key, err)
	}
	if cur != nil {
		l.Replaced = cur
	} else {
		l.Replaced = &Holder{}
	}
	return l, nil
}

// errNotLease: the lease object's content does not parse as a Holder.
var errNotLease = errors.New("not a lease object")

// read returns the current holder and the object's attributes; a holder that does not parse is an error
// with the attributes still returned.
func (l *Lease) read(ctx context.Context) (*Holder, *Attributes, error) {
	attrs, err := l.d.Stat(ctx, l.name)
	if err != nil {
		return nil, nil, err
	}
	data, err := l.d.ReadFile(ctx, l.name)
	if err != nil {
		return nil, attrs, err
	}
	var h Holder
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, attrs, l.d.wrap("lease", l.key, fmt.Errorf("%w: %w", errNotLease, err))
	}
	// Keep the version and the content together: if the object changed between Stat and ReadFile, the
	// version is of an older content and a conditional write on it fails safely.
	return &h, attrs, nil
}

// remember records the version of the object this holder just wrote. Nobody else can have replaced it in
// between: a takeover needs it to be stale, and it was just written.
func (l *Lease) remember(ctx context.Context) error {
	if l.currentVersion() != "" {
		return nil // the write's answer gave it
	}
	a, err := l.d.Stat(ctx, l.name)
	if err != nil {
		return err
	}
	l.setVersion(a.version)
	return nil
}

func (l *Lease) currentVersion() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.version
}

func (l *Lease) setVersion(v string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.version = v
}

// replace writes data over the lease object if it is still at version.
func (l *Lease) replace(ctx context.Context, data []byte, version string) error {
	var written string
	err := l.d.writeKey(ctx, l.key, data, writeOptions{ifMatch: version, contentType: "application/json", written: &written})
	if err != nil {
		return err
	}
	l.setVersion(written)
	return l.remember(ctx)
}

// Holder returns the holder as last written.
func (l *Lease) Holder() Holder {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holder
}

// URL returns the location of the lease object.
func (l *Lease) URL() string { return l.d.be.url(l.key) }

// Refresh sets Updated to now, if the lease is still this holder's; otherwise it returns ErrLeaseLost and
// the holder must stop writing. After Release (called before or while it waited for a release in flight)
// it writes nothing and returns ErrLeaseReleased.
func (l *Lease) Refresh(ctx context.Context) error {
	l.op.Lock()
	defer l.op.Unlock()
	l.mu.Lock()
	h, version, released := l.holder, l.version, l.released
	l.mu.Unlock()
	if released {
		return fmt.Errorf("%w: %s", ErrLeaseReleased, l.URL())
	}
	h.Updated = time.Now().UTC()
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.replace(ctx, data, version); err != nil {
		if errors.Is(err, errChanged) || errors.Is(err, ErrNotExist) {
			return fmt.Errorf("%w: %s was replaced or removed", ErrLeaseLost, l.URL())
		}
		return l.d.wrap("lease", l.key, err)
	}
	l.mu.Lock()
	l.holder = h
	l.mu.Unlock()
	return nil
}

// releaseRereads bounds how often Release reads the lease object back and finds it rewritten by this
// holder's run before giving up.
const releaseRereads = 4

// Release deletes the lease object if it is still this holder's (ErrLeaseLost otherwise: it was taken over
// by another run, or removed). It waits for a Refresh in flight and stops later ones. The object is deleted
// conditionally on the version this holder wrote last; if it changed and still names this holder's run (a
// refresh of this run landed although its answer was lost, or a process of the same run refreshed it), it
// is read back and deleted conditionally on the version read.
func (l *Lease) Release(ctx context.Context) error {
	l.op.Lock()
	defer l.op.Unlock()
	l.mu.Lock()
	l.released = true
	version, runID := l.version, l.holder.RunID
	l.mu.Unlock()
	for range releaseRereads {
		err := l.deleteAt(ctx, version)
		if !errors.Is(err, errChanged) {
			return l.d.wrap("lease", l.key, err)
		}
		cur, attrs, rerr := l.read(ctx)
		switch {
		case errors.Is(rerr, ErrNotExist), errors.Is(rerr, errNotLease), rerr == nil && cur.RunID != runID:
			// Removed, or not this run's (taken over, or not a lease object): leave it.
			return fmt.Errorf("%w: %s was replaced or removed", ErrLeaseLost, l.URL())
		case rerr != nil:
			return rerr
		}
		version = attrs.version
		l.setVersion(version)
	}
	return l.d.wrap("lease", l.key, fmt.Errorf("%w: rewritten by run %s %d times while being released", errChanged, runID, releaseRereads))
}

// deleteAt deletes the lease object if it is at version (errChanged otherwise); a retried request that
// finds the object gone takes it for deleted by the earlier attempt.
func (l *Lease) deleteAt(ctx context.Context, version string) error {
	return l.d.retry.do(ctx, func(retry bool) error {
		err := l.d.be.deleteIfMatch(ctx, l.key, version)
		if retry && errors.Is(err, errChanged) {
			if _, serr := l.d.Stat(ctx, l.name); errors.Is(serr, ErrNotExist) {
				return nil // the earlier attempt deleted it
			}
		}
		return err
	})
}

// ReleaseLeaseOf deletes the lease object name under d if run runID holds it: the release by a process
// that did not acquire the lease (the last step of a job whose launcher did not wait for it). Another
// holder's lease, or none, is left alone and is not an error.
func (d *Dir) ReleaseLeaseOf(ctx context.Context, name, runID string) error {
	key, err := d.key("lease", name)
	if err != nil {
		return err
	}
	l := &Lease{d: d, name: name, key: key}
	cur, attrs, err := l.read(ctx)
	switch {
	case errors.Is(err, ErrNotExist):
		return nil
	case err != nil && attrs != nil:
		return nil // not a lease object this package wrote
	case err != nil:
		return err
	case cur.RunID != runID:
		return nil
	}
	l.holder.RunID, l.version = runID, attrs.version
	if err := l.Release(ctx); err != nil && !errors.Is(err, ErrLeaseLost) {
		return err
	}
	return nil
}

package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"
)

// LockName is the lease file of an output location: whoever created it
// owns the location until it releases it or the lease goes stale.
const LockName = ".tfprep-lock"

// DefaultLeaseTTL is how long a lease stays valid without a refresh.
const DefaultLeaseTTL = 2 * time.Minute

// ErrLocked: another live run holds the location's lease.
var ErrLocked = errors.New("dataset: output is in use by another run")

// LeaseInfo is the content of a lease file.
type LeaseInfo struct {
	Run       string        `json:"run"`
	Host      string        `json:"host"`
	PID       int           `json:"pid"`
	Command   string        `json:"command"`
	Created   time.Time     `json:"created"`
	Refreshed time.Time     `json:"refreshed"`
	TTL       time.Duration `json:"ttl"`
}

// Lease is a held lease on an output location.
type Lease struct {
	Location string
	Info     LeaseInfo
	store    storage
	path     string
}

// Acquire takes the lease on location, creating location/.tfprep-lock only
// if absent. A lease left by a run that is gone (same host and its process
// is dead, or not refreshed within its TTL) is taken over; a live one is
// refused with an error wrapping ErrLocked that names its holder. ttl <= 0
// means DefaultLeaseTTL.
func Acquire(ctx context.Context, location, command string, ttl time.Duration) (*Lease, error) {
	store, err := storageFor(location)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	host, _ := os.Hostname()
	now := time.Now().UTC()
	l := &Lease{
		Location: location,
		Info:     LeaseInfo{Run: randomID(), Host: host, PID: os.Getpid(), Command: command, Created: now, Refreshed: now, TTL: ttl},
		store:    store,
		path:     joinPath(location, LockName),
	}
	data, err := json.Marshal(l.Info)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	for attempt := 0; ; attempt++ {
		err := store.CreateNew(ctx, l.path, data)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt > 0 {
			return nil, fmt.Errorf("dataset: taking the lease %s: %w", l.path, err)
		}
		holder, err := readLease(ctx, store, l.path)
		if err != nil {
			return nil, err
		}
		if !holder.stale(host, now) {
			return nil, fmt.Errorf("%w: %s is held by run %s (%s, pid %d on %s, since %s, refreshed %s); wait for it or, if it is gone, remove %s",
				ErrLocked, location, holder.Run, holder.Command, holder.PID, holder.Host,
				holder.Created.Format(time.RFC3339), holder.Refreshed.Format(time.RFC3339), l.path)
		}
		if err := store.Remove(ctx, l.path); err != nil {
			return nil, fmt.Errorf("dataset: removing the stale lease %s: %w", l.path, err)
		}
	}
}

func readLease(ctx context.Context, store storage, path string) (LeaseInfo, error) {
	var info LeaseInfo
	data, err := readAll(ctx, store, path)
	if err != nil {
		return info, fmt.Errorf("dataset: reading the lease %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &info); err != nil {
		// A lease cut short by a crash while it was written: nobody holds it.
		return LeaseInfo{}, nil
	}
	return info, nil
}

// stale reports whether the holder of a lease is gone: its process is dead
// (same host), or it was not refreshed within its TTL.
func (i LeaseInfo) stale(host string, now time.Time) bool {
	if i.Run == "" || now.Sub(i.Refreshed) > i.TTL {
		return true
	}
	return i.Host == host && !processAlive(i.PID)
}

// processAlive reports whether a process of this host is running.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Refresh records that the holder is alive. It fails, wrapping ErrLocked,
// when the lease was taken over by another run.
func (l *Lease) Refresh(ctx context.Context) error {
	holder, err := readLease(ctx, l.store, l.path)
	if err != nil {
		return err
	}
	if holder.Run != l.Info.Run {
		return fmt.Errorf("%w: the lease %s was taken over by run %s", ErrLocked, l.path, holder.Run)
	}
	l.Info.Refreshed = time.Now().UTC()
	data, err := json.Marshal(l.Info)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return writeAtomic(ctx, l.store, l.path, data)
}

// KeepAlive refreshes the lease every TTL/4 until ctx is done.
func (l *Lease) KeepAlive(ctx context.Context) {
	t := time.NewTicker(l.Info.TTL / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Refresh(ctx)
		}
	}
}

// Release removes the lease if this run still holds it.
func (l *Lease) Release(ctx context.Context) error {
	holder, err := readLease(ctx, l.store, l.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if holder.Run != l.Info.Run {
		return nil
	}
	return l.store.Remove(ctx, l.path)
}

// isLeaseName reports whether a base name is the lease or its temporary.
func isLeaseName(name string) bool {
	return name == LockName || strings.HasPrefix(name, LockName+".tmp-")
}

// ReleaseLease removes location's lease if run still holds it: the release
// by a job's last step when the launcher did not wait for the job.
func ReleaseLease(ctx context.Context, location, run string) error {
	store, err := storageFor(location)
	if err != nil {
		return err
	}
	l := &Lease{Location: location, Info: LeaseInfo{Run: run}, store: store, path: joinPath(location, LockName)}
	return l.Release(ctx)
}

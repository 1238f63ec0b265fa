package storage

import (
	"context"
	"errors"
	"sync"
)

// DefaultConcurrency is the number of operations CopyAll, RenameAll and DeleteAll run at a time when asked
// for ≤ 0: local disk gains little past a few, while each bucket request waits tens of milliseconds on the
// network, so many must be in flight.
func DefaultConcurrency(scheme string) int {
	if scheme == "file" {
		return 4
	}
	return 32
}

func (d *Dir) concurrency(n int) int {
	if n > 0 {
		return n
	}
	return DefaultConcurrency(d.Scheme())
}

// parallel runs f(0..n-1) with at most limit at a time, all of them even when some fail (the commit must
// know every failure, not the first), and returns the failures joined. It stops starting new ones once ctx
// is done.
func parallel(ctx context.Context, n, limit int, f func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, max(limit, 1))
	)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append(errs, ctx.Err())...)
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Pair names a source and a destination under one Dir.
type Pair struct{ Src, Dst string }

// CopyAll copies every pair (server-side on buckets), concurrency at a time (≤ 0: DefaultConcurrency),
// each retried under the Dir's policy. Every pair is attempted; all failures come back joined.
func (d *Dir) CopyAll(ctx context.Context, pairs []Pair, concurrency int) error {
	return parallel(ctx, len(pairs), d.concurrency(concurrency), func(i int) error {
		return d.Copy(ctx, pairs[i].Dst, pairs[i].Src)
	})
}

// RenameAll moves every pair's Src to its Dst, concurrency at a time (≤ 0: DefaultConcurrency).
//
// On buckets it copies every pair first and deletes sources only once every copy has succeeded: if any
// copy fails, no source is deleted and the error lists the failures, so a caller can run RenameAll again
// (copies overwrite; nothing is lost). Locally each pair is one os.Rename.
//
// RenameAll is safe to repeat after a partial failure: a pair whose Src is gone but whose Dst exists is
// taken as already moved.
func (d *Dir) RenameAll(ctx context.Context, pairs []Pair, concurrency int) error {
	limit := d.concurrency(concurrency)
	// alreadyMoved tells a pair moved by an earlier, interrupted RenameAll from a missing source.
	alreadyMoved := func(p Pair, err error) bool {
		if !errors.Is(err, ErrNotExist) {
			return false
		}
		_, serr := d.Stat(ctx, p.Dst)
		return serr == nil
	}
	if d.IsLocal() {
		return parallel(ctx, len(pairs), limit, func(i int) error {
			err := d.Rename(ctx, pairs[i].Dst, pairs[i].Src)
			if err != nil && alreadyMoved(pairs[i], err) {
				return nil
			}
			return err
		})
	}
	copied := make([]bool, len(pairs))
	err := parallel(ctx, len(pairs), limit, func(i int) error {
		err := d.Copy(ctx, pairs[i].Dst, pairs[i].Src)
		if err != nil && alreadyMoved(pairs[i], err) {
			return nil
		}
		copied[i] = err == nil
		return err
	})
	if err != nil {
		return err
	}
	return parallel(ctx, len(pairs), limit, func(i int) error {
		if !copied[i] {
			return nil
		}
		key, err := d.key("rename", pairs[i].Src)
		if err != nil {
			return err
		}
		return d.wrap("rename", key, d.deleteKey(ctx, key))
	})
}

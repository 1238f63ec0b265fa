package storage_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tfprep/tfprep/storage"
)

// TestLeaseReleaseRacesRefresh releases leases while a refresh loop runs on them (a keep-alive not stopped
// before the release): every release must remove the lock object and return nil, and no refresh may
// write it back afterwards. Run it under -race: Refresh and Release share the lease's version.
func TestLeaseReleaseRacesRefresh(t *testing.T) {
	ctx := context.Background()
	for _, s := range stores(t) {
		t.Run(s.name, func(t *testing.T) {
			n := 200
			if s.proxy != nil {
				n = 25 // a few round trips each over HTTP
			}
			d := s.open(t)
			left := 0
			for i := range n {
				name := fmt.Sprintf("lock%d", i)
				l, err := d.AcquireLease(ctx, name, storage.CurrentHolder(fmt.Sprintf("run%d", i)), time.Hour)
				if err != nil {
					t.Fatal(err)
				}
				stop, done := make(chan struct{}), make(chan error, 1)
				go func() {
					for {
						select {
						case <-stop:
							done <- nil
							return
						default:
						}
						if err := l.Refresh(ctx); err != nil {
							done <- err
							return
						}
					}
				}()
				if i%4 > 0 {
					time.Sleep(time.Duration(i%4) * 200 * time.Microsecond)
				}
				rerr := l.Release(ctx)
				close(stop)
				ferr := <-done
				if rerr != nil {
					t.Errorf("lease %d: Release: %v", i, rerr)
				}
				if ferr != nil && !errors.Is(ferr, storage.ErrLeaseReleased) {
					t.Errorf("lease %d: the refresh loop ended with %v, want nil or ErrLeaseReleased", i, ferr)
				}
				if _, err := d.Stat(ctx, name); !errors.Is(err, storage.ErrNotExist) {
					left++
					if left == 1 {
						t.Errorf("lease %d: the lock object is still there after Release (Stat: %v)", i, err)
					}
					continue
				}
				if err := l.Refresh(ctx); !errors.Is(err, storage.ErrLeaseReleased) {
					t.Errorf("lease %d: Refresh after Release: %v, want ErrLeaseReleased", i, err)
				}
				if _, err := d.Stat(ctx, name); !errors.Is(err, storage.ErrNotExist) {
					t.Fatalf("lease %d: a Refresh after Release wrote the lock object back (Stat: %v)", i, err)
				}
			}
			if left > 0 {
				t.Errorf("%d of %d releases left the lock object behind", left, n)
			}
		})
	}
}

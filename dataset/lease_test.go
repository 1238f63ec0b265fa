package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfprep/tfprep/internal/storagetest"
	objstore "github.com/tfprep/tfprep/storage"
)

// TestLeaseReleaseRacesKeepAlive releases a lease while KeepAlive refreshes it every millisecond, as
// Commit does (it releases the lease without stopping KeepAlive first): the release must remove the lock
// object every time, return nil, and stop KeepAlive. Run it under -race too.
func TestLeaseReleaseRacesKeepAlive(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		n        int
		location func(t *testing.T, i int) string
	}{
		{"local", 150, func(t *testing.T, i int) string {
			dir := filepath.Join(t.TempDir(), "out")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"gs", 20, func() func(t *testing.T, i int) string {
			var g *storagetest.GCS
			return func(t *testing.T, i int) string {
				if g == nil {
					g = storagetest.StartGCS(t, "bucket")
				}
				return g.Location(t, "bucket", fmt.Sprintf("out%d", i))
			}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			left := 0
			for i := range tc.n {
				location := tc.location(t, i)
				lease, err := Acquire(ctx, location, "test", 4*time.Millisecond) // refreshed every 1 ms
				if err != nil {
					t.Fatal(err)
				}
				stopped := make(chan struct{})
				go func() {
					defer close(stopped)
					lease.KeepAlive(ctx)
				}()
				time.Sleep(time.Duration(i%7) * time.Millisecond)
				if err := lease.Release(ctx); err != nil {
					t.Errorf("lease %d: Release: %v", i, err)
				}
				select {
				case <-stopped:
				case <-time.After(10 * time.Second):
					t.Fatalf("lease %d: KeepAlive still runs after Release", i)
				}
				d, err := leaseDir(ctx, location)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := d.Stat(ctx, LockName); !errors.Is(err, objstore.ErrNotExist) {
					left++
					if left == 1 {
						t.Errorf("lease %d: %s is still there after Release (Stat: %v)", i, LockName, err)
					}
				} else if err := lease.Refresh(ctx); !errors.Is(err, objstore.ErrLeaseReleased) || errors.Is(err, ErrLocked) || lease.lost.Load() {
					t.Errorf("lease %d: Refresh after Release: %v (lost %v), want ErrLeaseReleased", i, err, lease.lost.Load())
				}
				d.Close()
			}
			if left > 0 {
				t.Errorf("%d of %d releases left the lock object behind", left, tc.n)
			}
		})
	}
}

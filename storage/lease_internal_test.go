package storage

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/tfprep/tfprep/internal/storagetest"
)

// TestLeaseReleaseAfterLostRefreshAnswer: a refresh whose write landed but whose answer was lost (its
// context cancelled by a keep-alive being stopped, a timeout) leaves the lease with an older version than
// the object's. Release must read the object back, find its own run there and delete it; a lease taken
// over by another run must be left to it.
func TestLeaseReleaseAfterLostRefreshAnswer(t *testing.T) {
	ctx := context.Background()
	gcs := storagetest.StartGCS(t, "bkt")
	for _, tc := range []struct{ name, loc string }{
		{"local", t.TempDir()},
		{"gcs", gcs.Location(t, "bkt", "lease")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(ctx, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()

			l, err := d.AcquireLease(ctx, "lock", CurrentHolder("ours"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			old := l.currentVersion()
			if err := l.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			l.setVersion(old) // the refresh's answer never arrived
			if err := l.Release(ctx); err != nil {
				t.Fatalf("Release after a refresh whose answer was lost: %v", err)
			}
			if _, err := d.Stat(ctx, "lock"); !errors.Is(err, ErrNotExist) {
				t.Fatalf("lock object after Release: %v, want ErrNotExist", err)
			}

			// Taken over by another run: Release reports the lease lost and leaves the other run's object.
			l, err = d.AcquireLease(ctx, "lock", CurrentHolder("ours"), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			other, _ := json.Marshal(Holder{Host: "elsewhere", PID: 1, RunID: "theirs", Updated: time.Now()})
			if err := d.WriteFile(ctx, "lock", other, nil); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("Release of a lease taken over: %v, want ErrLeaseLost", err)
			}
			if got, err := d.ReadFile(ctx, "lock"); err != nil || string(got) != string(other) {
				t.Fatalf("lock object after the release of a lease taken over: %q, %v; want the other run's", got, err)
			}
		})
	}
}

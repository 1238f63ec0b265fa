package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfprep/tfprep/dataset"
)

// verifyOnly checks that dir holds a Verify-clean dataset of want train
// shards and no lease, journal or staging directory.
func verifyOnly(t *testing.T, dir string, want int) {
	t.Helper()
	ctx := context.Background()
	r, err := dataset.Verify(ctx, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Errorf("verify %s: %+v", dir, r.Discrepancies)
	}
	m, err := dataset.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(m.Split("train").Shards); got != want {
		t.Errorf("train has %d shards, want %d", got, want)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tfprep-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestConvertConcurrent starts two conversions into one output at once:
// one succeeds, the other refuses, and the output holds one run's shards.
func TestConvertConcurrent(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range errs {
		cfg := testConfig(t, "good.csv")
		cfg.Out = out
		cfg.Shards = 2 + i
		wg.Go(func() {
			<-start
			_, errs[i] = Convert(context.Background(), cfg)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("both runs succeeded")
			}
			won = i
		case errors.Is(err, dataset.ErrLocked):
			if !strings.Contains(err.Error(), "held by run") {
				t.Errorf("refusal does not name the holder: %v", err)
			}
		case errors.Is(err, dataset.ErrOutputExists):
			t.Logf("run %d started after the other had finished: %v", i, err)
		default:
			t.Errorf("run %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no run succeeded")
	}
	verifyOnly(t, out, 2+won)
}

// TestConvertLocked: a live lease of another run on the output is refused
// with its holder named, and left alone.
func TestConvertLocked(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	l, err := dataset.Acquire(context.Background(), cfg.Out, "tfprep convert (the other run)", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(context.Background(), cfg); !errors.Is(err, dataset.ErrLocked) || !strings.Contains(err.Error(), "the other run") {
		t.Errorf("got %v, want ErrLocked naming the holder", err)
	}
	if err := l.Refresh(context.Background()); err != nil {
		t.Errorf("the holder lost its lease: %v", err)
	}
}

// TestConvertOverwriteFailureKeepsOld: an --overwrite run that fails
// (--max-errors exceeded) leaves the earlier dataset readable and
// Verify-clean, its errors beside it, and no lease.
func TestConvertOverwriteFailureKeepsOld(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	if _, err := Convert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	bad := testConfig(t, "bad.csv")
	bad.Out, bad.Overwrite, bad.Shards = cfg.Out, true, 3
	bad.MaxErrors = ErrorLimit{Set: true, Count: 0}
	if _, err := Convert(context.Background(), bad); !errors.Is(err, ErrTooManyRejected) || !strings.Contains(err.Error(), dataset.FailedErrorsName) {
		t.Fatalf("got %v, want ErrTooManyRejected pointing at %s", err, dataset.FailedErrorsName)
	}
	verifyOnly(t, cfg.Out, 2)
	if _, err := os.Stat(filepath.Join(cfg.Out, dataset.FailedErrorsName)); err != nil {
		t.Errorf("the failed run's errors: %v", err)
	}
}

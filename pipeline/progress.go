package pipeline

import (
	"cmp"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
)

// Progress is a snapshot of the conversion running in this process. The
// DoFns update process-wide counters as they go, so the numbers are live
// only when the workers run in this process (Prism, or any runner with
// --environment_type=LOOPBACK); Beam counters (namespace "tfprep") carry the
// same numbers on every runner.
type Progress struct {
	RowsRead      int64 // CSV data records read so far
	CSVDone       bool  // the whole CSV has been read, so RowsRead is the total
	ImagesWritten int64 // examples written to shards
	Rejected      int64 // rows rejected, all stages
	Warnings      int64 // rows kept with a label warning
	BytesWritten  int64 // bytes of the shards written so far (counted as each shard is done)
	// SplitTime is, per split, the time spent writing its shards, summed
	// over shards (shards of a split may be written in parallel).
	SplitTime map[string]time.Duration
}

// WorkersInProcess reports whether the workers of a conversion of cfg, with
// the runner flags as they are, run in this process (in-process Prism, or
// LOOPBACK workers), so that CurrentProgress sees them.
func WorkersInProcess(cfg Config) bool {
	switch strings.ToLower(cmp.Or(cfg.Runner, *runners.Runner, DefaultRunner)) {
	case DefaultRunner, "prismrunner", "direct":
		return true
	case "universal", "portable", "flink", "spark":
		return strings.EqualFold(*jobopts.EnvironmentType, "loopback")
	}
	return false
}

// RouteLogs points Beam's and Prism's logging (log/slog) where a command
// wants it while a job of cfg runs, and returns the function that restores
// it. With the workers in this process their chatter would bury the
// command's own output and errors, which Convert and Rewrite return anyway:
// it is discarded. Otherwise (the Dataflow dry run prints the job through
// it) it goes to w.
func RouteLogs(cfg Config, w io.Writer) (restore func()) {
	prev := slog.Default()
	if WorkersInProcess(cfg) {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	} else {
		slog.SetDefault(slog.New(slog.NewTextHandler(w, nil)))
		// An in-process worker that ran earlier in this process leaves
		// Beam logging to its runner; route it back through slog.
		beamlog.SetLogger(&beamlog.Structural{})
	}
	return func() { slog.SetDefault(prev) }
}

// CurrentProgress returns the progress of the conversion running (or last
// run) in this process. One conversion at a time is counted.
func CurrentProgress() Progress {
	progress.mu.Lock()
	splitTime := maps.Clone(progress.splitTime)
	progress.mu.Unlock()
	return Progress{
		RowsRead:      progress.rowsRead.Load(),
		CSVDone:       progress.csvDone.Load(),
		ImagesWritten: progress.imagesWritten.Load(),
		Rejected:      progress.rejected.Load(),
		Warnings:      progress.warnings.Load(),
		BytesWritten:  progress.bytesWritten.Load(),
		SplitTime:     splitTime,
	}
}

var progress counters

type counters struct {
	rowsRead, imagesWritten, rejected, warnings, bytesWritten atomic.Int64
	csvDone                                                   atomic.Bool

	mu        sync.Mutex
	splitTime map[string]time.Duration
}

func (c *counters) reset() {
	c.rowsRead.Store(0)
	c.imagesWritten.Store(0)
	c.rejected.Store(0)
	c.warnings.Store(0)
	c.bytesWritten.Store(0)
	c.csvDone.Store(false)
	c.mu.Lock()
	c.splitTime = map[string]time.Duration{}
	c.mu.Unlock()
}

func (c *counters) addSplitTime(split string, nanos int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.splitTime == nil {
		c.splitTime = map[string]time.Duration{}
	}
	c.splitTime[split] += time.Duration(nanos)
}

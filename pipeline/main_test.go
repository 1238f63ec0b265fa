package pipeline

import (
	"flag"
	"log/slog"
	"os"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	// The runners cmd/tfprep registers.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

// TestMain initialises Beam as cmd/tfprep's main does, so that the tests run
// the same code path: flags parsed, beam.Init called (a no-op unless this
// binary is started as a worker).
// Prism's informational log is silenced; its warnings and errors stay.
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

package pipeline

import (
	"flag"
	"os"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// TestMain initialises Beam as cmd/tfprep's main does, so that the tests run
// the same code path: flags parsed, beam.Init called (a no-op unless this
// binary is started as a worker).
func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	os.Exit(m.Run())
}

package cli

import (
	// The runners cmd/tfprep registers, so that the tests run convert as
	// the command does.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

package cli

import (
	// The runners and filesystems cmd/tfprep registers, so that the tests
	// run convert as the command does.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"
)

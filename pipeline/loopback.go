package pipeline

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
)

// Prism, started in-process by its runner, listens on every interface
// (":0"), so while a conversion runs anyone who can reach the machine can
// talk to its job service and data plane. tfprep starts the in-process job
// server itself instead, on a port it picks, and restricts the listener to
// the loopback interface before any job is submitted (restrictToLoopback;
// Linux only). One server serves every job of the process, as Prism's own
// runner does.
var loopbackPrism struct {
	once     sync.Once
	endpoint string
	err      error
}

// useLoopbackPrism points Beam's universal runner at an in-process Prism job
// server reachable only over loopback, unless --endpoint already names a job
// server. It sets --environment_type to LOOPBACK when unset, as Prism's
// runner does.
func useLoopbackPrism(ctx context.Context) error {
	if *jobopts.Endpoint != "" {
		return nil
	}
	loopbackPrism.once.Do(func() {
		loopbackPrism.endpoint, loopbackPrism.err = startLoopbackPrism(context.WithoutCancel(ctx))
	})
	if loopbackPrism.err != nil {
		return loopbackPrism.err
	}
	*jobopts.Endpoint = loopbackPrism.endpoint
	if *jobopts.EnvironmentType == "" {
		*jobopts.EnvironmentType = "loopback"
	}
	return nil
}

func startLoopbackPrism(ctx context.Context) (endpoint string, err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pipeline: finding a free port for the Prism job server: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	defer func() {
		// Prism panics when it cannot listen (the port was taken in between).
		if r := recover(); r != nil {
			err = fmt.Errorf("pipeline: starting the Prism job server on port %d: %v", port, r)
		}
	}()
	if _, err := prism.CreateJobServer(ctx, prism.Options{Port: port}); err != nil {
		return "", fmt.Errorf("pipeline: starting the Prism job server on port %d: %w", port, err)
	}
	if err := restrictToLoopback(port); err != nil {
		return "", fmt.Errorf("pipeline: restricting the Prism job server on port %d to loopback: %w", port, err)
	}
	return net.JoinHostPort("localhost", strconv.Itoa(port)), nil
}

package pipeline

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
)

func TestRemoteWorkers(t *testing.T) {
	tests := []struct {
		runner, env, endpoint string
		want                  bool
	}{
		{"prism", "", "", false},              // in-process, LOOPBACK
		{"prism", "", "localhost:8099", true}, // a job server: DOCKER by default
		{"prism", "LOOPBACK", "localhost:8099", false},
		{"prism", "PROCESS", "", true},
		{"universal", "", "localhost:8099", true},
		{"universal", "loopback", "localhost:8099", false},
		{"flink", "EXTERNAL", "localhost:8099", true},
		{"spark", "DOCKER", "localhost:8099", true},
		{"dataflow", "", "", true},
		{"direct", "", "", false},
	}
	for _, tt := range tests {
		setFlags(t, map[string]string{"environment_type": tt.env, "endpoint": tt.endpoint})
		if got := remoteWorkers(tt.runner); got != tt.want {
			t.Errorf("remoteWorkers(%s) with environment %q, endpoint %q: got %v, want %v", tt.runner, tt.env, tt.endpoint, got, tt.want)
		}
	}
}

// TestPrepareLaunchWorkerBinary: a test binary is not tfprep, so it cannot stage itself; a job
// whose workers are other processes is refused unless approximate pixels are accepted.
func TestPrepareLaunchWorkerBinary(t *testing.T) {
	setFlags(t, map[string]string{"environment_type": "PROCESS", "endpoint": "localhost:1", "worker_binary": "", "job_name": ""})
	cfg := Config{CSV: []string{"in.csv"}, Images: "images", Out: "out"}
	_, err := prepareLaunch(context.Background(), cfg, "universal")
	if !errors.Is(err, ErrWorkerBinary) || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want ErrWorkerBinary (an ErrConfig)", err)
	}
	for _, want := range []string{"universal runner", "not tfprep", "make worker", "--worker_binary=", "--allow-approximate-pixels"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal does not say %q: %v", want, err)
		}
	}

	cfg.Launch.ApproximatePixels = true
	l, err := prepareLaunch(context.Background(), cfg, "universal")
	if err != nil {
		t.Fatalf("with approximate pixels: %v", err)
	}
	if l.worker != "" || *jobopts.WorkerBinary != "" {
		t.Errorf("got worker %q (flag %q), want none: Beam cross-compiles", l.worker, *jobopts.WorkerBinary)
	}
	if !strings.HasPrefix(*jobopts.JobName, "tfprep-") {
		t.Errorf("got job name %q, want one the watchdog can find", *jobopts.JobName)
	}
	l.close()
	if *jobopts.JobName != "" {
		t.Errorf("close left --job_name %q", *jobopts.JobName)
	}

	setFlags(t, map[string]string{"worker_binary": "/nonexistent/tfprep"})
	_, err = prepareLaunch(context.Background(), cfg, "dataflow")
	if !errors.Is(err, ErrWorkerBinary) || !strings.Contains(err.Error(), "--worker_binary: worker binary /nonexistent/tfprep: does not exist") {
		t.Errorf("got %v, want the missing --worker_binary named", err)
	}

	setFlags(t, map[string]string{"environment_type": "LOOPBACK"})
	if _, err := prepareLaunch(context.Background(), cfg, "universal"); err != nil {
		t.Errorf("LOOPBACK workers are this process; got %v", err)
	}
}

// TestReachable points gs:// at a loopback server that accepts connections and never answers.
func TestReachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(held)
				return
			}
			held <- c
		}
	}()
	t.Cleanup(func() {
		l.Close()
		for c := range held {
			c.Close()
		}
	})
	t.Setenv("STORAGE_EMULATOR_HOST", l.Addr().String())

	err = reachable(context.Background(), 300*time.Millisecond, "gs://tfprep-test/out", true)
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "gs://tfprep-test/out did not answer within 300ms") {
		t.Errorf("got %v, want ErrStorage naming gs://tfprep-test/out", err)
	}
	cfg := Config{CSV: []string{"gs://tfprep-test/planet.csv"}, Images: "gs://tfprep-test/train-jpg", Out: t.TempDir(),
		Launch: LaunchOptions{StorageTimeout: 300 * time.Millisecond}}
	if _, err := prepareLaunch(context.Background(), cfg, "prism"); !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "planet.csv") {
		t.Errorf("got %v, want ErrStorage naming the CSV", err)
	}
	// Convert reads the inputs while the probes run: the reads of a store
	// that does not answer are abandoned when the probes fail, and the
	// probe's error is the one reported.
	conv := testConfig(t, "good.csv")
	conv.CSV, conv.Images, conv.Launch = cfg.CSV, cfg.Images, cfg.Launch
	converted := make(chan error, 1)
	go func() {
		_, err := Convert(context.Background(), conv)
		converted <- err
	}()
	select {
	case err := <-converted:
		if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "did not answer within 300ms") {
			t.Errorf("Convert: got %v, want ErrStorage", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Convert still waits for a store that does not answer")
	}
	if err := reachable(context.Background(), time.Nanosecond, t.TempDir(), true); err != nil {
		t.Errorf("a local path is not checked; got %v", err)
	}
}

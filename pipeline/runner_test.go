package pipeline

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tfprep/tfprep/dataset"
)

// setFlags sets global (Beam) flags for one test and restores them after.
func setFlags(t *testing.T, values map[string]string) {
	t.Helper()
	for name, value := range values {
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		old := f.Value.String()
		if err := f.Value.Set(value); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Value.Set(old) })
	}
}

// TestPortableRunner runs a conversion the way Flink and Spark job servers
// are used: Prism is built and started as a separate job-server process, and
// the job is submitted to it with --runner=universal and LOOPBACK workers
// (this process).
func TestPortableRunner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the Prism job server; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is needed to build Prism: ", err)
	}
	prism := filepath.Join(t.TempDir(), "prism")
	build := exec.Command(goTool, "build", "-o", prism, "github.com/apache/beam/sdks/v2/go/cmd/prism")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building Prism: %v\n%s", err, out)
	}
	port := freePort(t)
	server := exec.Command(prism, fmt.Sprintf("--job_port=%d", port), "--serve_http=false", "--log_level=warn")
	server.Stdout, server.Stderr = os.Stderr, os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		server.Process.Kill()
		server.Wait()
	})
	endpoint := fmt.Sprintf("localhost:%d", port)
	waitForPort(t, endpoint)

	setFlags(t, map[string]string{"endpoint": endpoint, "environment_type": "LOOPBACK"})
	cfg := testConfig(t, "bad.csv")
	cfg.Runner = "universal"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := Convert(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows.Read != 11 || m.Rows.Written != 3 || m.Rows.Rejected != 8 {
		t.Errorf("got rows %+v, want read 11 = written 3 + rejected 8", m.Rows)
	}
	readShards(t, cfg.Out, m, cfg.Spec)
	errs, err := dataset.ReadErrorsFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckErrors(errs); err != nil {
		t.Error(err)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitForPort waits until something accepts connections at addr: the
// server is up. It gives up after a minute.
func waitForPort(t *testing.T, addr string) {
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prism did not start listening on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

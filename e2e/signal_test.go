package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConvertInterrupted sends SIGINT to a running "tfprep convert" and
// checks that it exits 130 saying so, and leaves the output directory as
// it found it: nothing at all (no staging
// directory, temporary file, lease or manifest), or, when the signal came
// during the commit, the finished dataset.
func TestConvertInterrupted(t *testing.T) {
	bin := tfprep(t)
	data := t.TempDir()
	run(t, bin, "synth", "-n", "400", "-size", "256", "-out", data)
	out := filepath.Join(t.TempDir(), "out")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "convert", "-spec", "planet", "-csv", filepath.Join(data, "planet.csv"),
		"-images", filepath.Join(data, "images"), "-out", out, "-shards", "4", "-workers", "1", "-quiet")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the run has started writing under its staging directory.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if staged, _ := filepath.Glob(filepath.Join(out, ".tfprep-tmp-*", "*")); len(staged) > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no staged shard appeared; stderr:\n%s", &stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Fatalf("exit: %v, want status 130; stderr:\n%s", err, &stderr)
	}
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("tfprep after SIGINT: %s", bytes.TrimSpace(stderr.Bytes()))
	switch msg := stderr.String(); {
	case strings.Contains(msg, "interrupted; nothing written"):
		if len(names) != 0 {
			t.Errorf("interrupted run left %v in %s", names, out)
		}
	case strings.Contains(msg, "the commit was finished"):
		run(t, bin, "verify", out)
	default:
		t.Errorf("stderr does not say what happened:\n%s", msg)
	}
}

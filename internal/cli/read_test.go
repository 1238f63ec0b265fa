package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
)

// readFixture writes a small converted dataset (train 30 rows in 3 shards,
// validation 10 in 1) without Beam.
func readFixture(t *testing.T, rows int) string {
	t.Helper()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	spec.Image.Width, spec.Image.Height = 16, 16
	all := synth.SampleRows(rows, 2)
	dir := t.TempDir()
	cut := rows * 3 / 4
	if _, err := synth.WriteDataset(dir, []synth.Split{
		{Name: "train", Rows: all[:cut], Shards: 3},
		{Name: "validation", Rows: all[cut:], Shards: 1},
	}, synth.DatasetOptions{Spec: spec, Image: synth.Options{Size: 32, Seed: 2}}); err != nil {
		t.Fatal(err)
	}
	return dir
}

type readJSON struct {
	Splits []struct {
		Split    string `json:"split"`
		Records  int64  `json:"records"`
		Examples int64  `json:"examples"`
		Verdict  string `json:"verdict"`
		Epochs   []struct {
			Examples int64  `json:"examples"`
			KeyHash  string `json:"key_multiset_hash"`
		} `json:"epochs"`
		Labels []struct {
			Feature string             `json:"feature"`
			Sums    map[string]float64 `json:"sums"`
		} `json:"labels"`
	} `json:"splits"`
}

func readAsJSON(t *testing.T, args ...string) readJSON {
	t.Helper()
	code, stdout, stderr := synthRunCLI(t, append([]string{"read", "--json"}, args...)...)
	if code != ExitOK {
		t.Fatalf("read %q: exit %d: %s", args, code, stderr)
	}
	var out readJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("read %q: %v\n%s", args, err, stdout)
	}
	return out
}

// TestReadWorkersAddUp: each worker's epochs are exactly once, and the
// workers' key hashes add up to a single reader's.
func TestReadWorkersAddUp(t *testing.T) {
	dir := readFixture(t, 40)
	whole := readAsJSON(t, dir, "--split", "train", "--shuffle", "8", "--epochs", "2", "--seed", "4")
	if len(whole.Splits) != 1 || whole.Splits[0].Verdict != "exactly once" || whole.Splits[0].Examples != 60 {
		t.Fatalf("single reader: got %+v, want 2 epochs of 30 exactly once", whole.Splits)
	}
	want, _ := strconv.ParseUint(whole.Splits[0].Epochs[0].KeyHash, 16, 64)
	var sum uint64
	var examples int64
	for w := range 3 {
		out := readAsJSON(t, dir, "--split", "train", "--shuffle", "8", "--batch", "4", "--workers", "3", "--worker-index", fmt.Sprint(w), "--global-shuffle")
		s := out.Splits[0]
		if s.Verdict != "exactly once" {
			t.Errorf("worker %d: verdict %q", w, s.Verdict)
		}
		h, _ := strconv.ParseUint(s.Epochs[0].KeyHash, 16, 64)
		sum += h
		examples += s.Epochs[0].Examples
	}
	if sum != want || examples != 30 {
		t.Errorf("workers: got hash sum %016x over %d examples, want %016x over 30", sum, examples, want)
	}
	// Label sums over two epochs are twice the manifest's counts.
	var weather map[string]float64
	for _, l := range whole.Splits[0].Labels {
		if l.Feature == "weather_labels" {
			weather = l.Sums
		}
	}
	total := 0.0
	for _, v := range weather {
		total += v
	}
	if total != 60 {
		t.Errorf("weather label sums %v add up to %g, want 60 (one-hot, 2 epochs of 30)", weather, total)
	}
}

func TestReadText(t *testing.T) {
	dir := readFixture(t, 40)
	code, stdout, stderr := synthRunCLI(t, "read", dir, "--batch", "7", "--dtype", "uint8", "--cycle", "2", "--block", "3")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"split train: 3 shards, 30 records", "split validation: 1 shard, 10 records", "verdict: exactly once", "weather_labels: clear=", "examples/s"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestReadCSV(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := synthRunCLI(t, "synth", "--n", "9", "--size", "32", "--out", dir); code != ExitOK {
		t.Fatal(stderr)
	}
	out := readAsJSON(t, "--csv", filepath.Join(dir, "planet.csv"), "--images", filepath.Join(dir, "images"), "--shuffle", "1", "--epochs", "2")
	if s := out.Splits[0]; s.Split != "csv" || s.Examples != 18 || s.Verdict != "exactly once" {
		t.Errorf("got %+v, want 2 epochs of 9 CSV rows exactly once", s)
	}
}

func TestReadErrors(t *testing.T) {
	dir := readFixture(t, 8)
	shard := filepath.Join(dir, "train-00001-of-00003.tfrecord")
	data, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(shard, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"read"}, ExitUsage, "want one dataset directory"},
		{[]string{"read", dir, "--split", "test"}, ExitError, `no split "test"`},
		{[]string{"read", dir, "--workers", "4", "--worker-index", "3", "--split", "train"}, ExitUsage, "worker 3 of 4 gets no shard"},
		{[]string{"read", dir, "--dtype", "int16"}, ExitUsage, "image type"},
		{[]string{"read", dir, "--split", "train"}, ExitError, "train-00001-of-00003.tfrecord: record"},
		{[]string{"read", "--csv", "x.csv"}, ExitUsage, "needs --images"},
	}
	for _, tt := range tests {
		code, _, stderr := synthRunCLI(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) {
			t.Errorf("%q: got exit %d %q, want exit %d containing %q", tt.args, code, stderr, tt.wantCode, tt.wantErr)
		}
	}
	code, stdout, _ := synthRunCLI(t, "read", dir, "--split", "train", "--skip-corrupt")
	if code != ExitOK || !strings.Contains(stdout, "skipped: ") {
		t.Errorf("--skip-corrupt: got exit %d, want 0 and the skipped record listed:\n%s", code, stdout)
	}
}

func TestTrainBeatsBaseline(t *testing.T) {
	dir := readFixture(t, 400)
	code, stdout, stderr := synthRunCLI(t, "train", dir, "--epochs", "12", "--pool", "8")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "Epoch 12/12") || !strings.Contains(stdout, "weather_loss: ") || !strings.Contains(stdout, "ground_loss: ") {
		t.Errorf("no Keras-style progress:\n%s", stdout)
	}
	var acc, base, margin float64
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "  weather: accuracy") {
			fmt.Sscanf(line, "  weather: accuracy %f, majority baseline (always \"clear\") %f: %f", &acc, &base, &margin)
		}
	}
	if margin < 0.1 || math.Abs(acc-base-margin) > 0.002 {
		t.Errorf("got weather accuracy %.3f vs baseline %.3f (margin %+.3f), want a margin of at least 0.1:\n%s", acc, base, margin, stdout)
	}
	if code, _, stderr := synthRunCLI(t, "train", dir, "--validation", "test"); code != ExitError || !strings.Contains(stderr, `no split "test"`) {
		t.Errorf("missing validation split: got exit %d %q", code, stderr)
	}
}

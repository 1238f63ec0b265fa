package cli

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/trainer"
)

var demoData = filepath.Join("..", "..", "testdata", "demo")

// convertDemo converts the demo CSV at 32x32 with the given --splits ("" for
// convert's default, a single split "train") and returns the directory.
func convertDemo(t *testing.T, splits string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "demo")
	args := []string{"convert", "--spec", "planet", "--csv", filepath.Join(demoData, "planet.csv"),
		"--images", filepath.Join(demoData, "images"), "--out", out, "--size", "32", "--seed", "42"}
	if splits != "" {
		args = append(args, "--splits", splits)
	}
	if code, _, stderr := runCLI(t, args...); code != ExitOK {
		t.Fatalf("convert: exit %d; stderr:\n%s", code, stderr)
	}
	return out
}

// demoKeys returns the keys of the demo CSV.
func demoKeys(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(demoData, "planet.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range records[1:] {
		keys = append(keys, r[0])
	}
	return keys
}

var (
	epochLine = regexp.MustCompile(`^\d+/\d+ - \d+\.\ds` +
		` - loss: \d+\.\d{4} - weather_loss: \d+\.\d{4} - ground_loss: \d+\.\d{4} - weather_accuracy: [01]\.\d{4} - ground_macro_f1: [01]\.\d{4}` +
		` - val_loss: \d+\.\d{4} - val_weather_loss: \d+\.\d{4} - val_ground_loss: \d+\.\d{4} - val_weather_accuracy: [01]\.\d{4} - val_ground_macro_f1: [01]\.\d{4}$`)
	weatherLine = regexp.MustCompile(`(?m)^  weather: accuracy ([01]\.\d{3}), majority baseline \(always "clear"\) ([01]\.\d{3}): [+-]\d\.\d{3}$`)
	groundLine  = regexp.MustCompile(`(?m)^  ground: macro F1 ([01]\.\d{3}), per-label majority baseline \(always primary\) ([01]\.\d{3}): [+-]\d\.\d{3}$`)
)

// checkTrainOutput checks the epoch lines and that the model beats both
// baselines on the validation examples.
func checkTrainOutput(t *testing.T, stdout string, epochs int) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	for e := range epochs {
		if got, want := lines[1+2*e], "Epoch "+strconv.Itoa(e+1)+"/"+strconv.Itoa(epochs); got != want {
			t.Fatalf("line %d: got %q, want %q", 2+2*e, got, want)
		}
		if !epochLine.MatchString(lines[2+2*e]) {
			t.Errorf("epoch %d line does not match Keras' layout:\n%s", e+1, lines[2+2*e])
		}
	}
	for _, re := range []*regexp.Regexp{weatherLine, groundLine} {
		m := re.FindStringSubmatch(stdout)
		if m == nil {
			t.Errorf("no line matching %s in:\n%s", re, stdout)
			continue
		}
		score, _ := strconv.ParseFloat(m[1], 64)
		baseline, _ := strconv.ParseFloat(m[2], 64)
		if score <= baseline {
			t.Errorf("%s: score %v does not beat baseline %v", strings.TrimSpace(m[0]), score, baseline)
		}
	}
	if !strings.Contains(stdout, "    label              precision  recall     F1  support\n    agriculture  ") {
		t.Errorf("no per-label table in:\n%s", stdout)
	}
}

// TestTrainHoldsOutOfOneSplit trains on what convert writes by default, a
// single split: the validation examples are held out by key hash.
func TestTrainHoldsOutOfOneSplit(t *testing.T) {
	dir := convertDemo(t, "")
	code, stdout, stderr := runCLI(t, "train", dir, "--holdout", "0.25", "--epochs", "20")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	held := 0
	keys := demoKeys(t)
	for _, k := range keys {
		if (trainer.Holdout{Fraction: 0.25, Seed: 1}).Held(k) {
			held++
		}
	}
	header := strings.SplitN(stdout, "\n", 2)[0]
	want := "Train on " + strconv.Itoa(len(keys)-held) + ` examples of split "train", validate on ` + strconv.Itoa(held) +
		" held out from it (25% of keys by hash, seed 1)"
	if header != want {
		t.Errorf("got header %q, want %q", header, want)
	}
	checkTrainOutput(t, stdout, 20)
}

// TestTrainValidationSplit: a dataset with a validation split validates on it.
func TestTrainValidationSplit(t *testing.T) {
	dir := convertDemo(t, "train=0.8,validation=0.2")
	code, stdout, stderr := runCLI(t, "train", dir, "--epochs", "20")
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if header := strings.SplitN(stdout, "\n", 2)[0]; !regexp.MustCompile(`^Train on \d+ examples of split "train", validate on \d+ of split "validation"$`).MatchString(header) {
		t.Errorf("got header %q", header)
	}
	checkTrainOutput(t, stdout, 20)
}

func TestTrainErrors(t *testing.T) {
	dir := convertDemo(t, "")
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--validation", "validation", "--holdout", "0.2"}, ExitUsage, "give one of them"},
		{[]string{"--validation", "train"}, ExitUsage, "is the training split"},
		{[]string{"--holdout", "1"}, ExitUsage, "hold-out fraction 1"},
		{[]string{"--validation", "validation"}, ExitError, `no split "validation" (have train)`},
		{[]string{"--holdout", "0.001"}, ExitError, "no validation examples"},
	} {
		code, _, stderr := runCLI(t, append([]string{"train", dir, "--epochs", "1"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: got exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}

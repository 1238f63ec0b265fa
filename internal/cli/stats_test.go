package cli

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

// wantPixelStats computes the fixture's per-channel mean and std of
// pixel/255 over the given records, straight from fixturePixels.
func wantPixelStats(records []int) (mean, std []float64) {
	mean, std = make([]float64, 3), make([]float64, 3)
	for ch := range 3 {
		var sum, sumSq, n float64
		for _, i := range records {
			img := fixturePixels(i, fixtureW, fixtureH)
			for p := 0; p < len(img.Pix); p += 4 {
				v := float64(img.Pix[p+ch]) / 255
				sum += v
				sumSq += v * v
				n++
			}
		}
		mean[ch] = sum / n
		std[ch] = math.Sqrt(sumSq/n - mean[ch]*mean[ch])
	}
	return mean, std
}

func TestStatsPixelsAndLabels(t *testing.T) {
	for _, enc := range []string{"float32", "uint8", "png"} {
		t.Run(enc, func(t *testing.T) {
			dir := writeFixture(t, fixture{encoding: enc})
			ds, err := dataset.Open(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			st, err := dataset.Stats(context.Background(), ds)
			if err != nil {
				t.Fatal(err)
			}
			splits := map[string][]int{"train": {0, 1, 2, 3, 4}, "validation": {5, 6}}
			for _, ss := range st.Splits {
				mean, std := wantPixelStats(splits[ss.Name])
				approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-9 })
				if diff := cmp.Diff(mean, ss.Pixels.Mean, approx); diff != "" {
					t.Errorf("%s mean (-want +got):\n%s", ss.Name, diff)
				}
				if diff := cmp.Diff(std, ss.Pixels.Std, approx); diff != "" {
					t.Errorf("%s std (-want +got):\n%s", ss.Name, diff)
				}
				if ss.Records != int64(len(splits[ss.Name])) || ss.Records != ss.ManifestRecords {
					t.Errorf("%s: got %d records (manifest %d), want %d", ss.Name, ss.Records, ss.ManifestRecords, len(splits[ss.Name]))
				}
				for _, ls := range ss.Labels {
					if diff := cmp.Diff(ls.ManifestCounts, ls.Counts); diff != "" {
						t.Errorf("%s %s counts (-manifest +got):\n%s", ss.Name, ls.Feature, diff)
					}
				}
			}
			if len(st.Duplicates) != 0 {
				t.Errorf("got duplicates %v, want none", st.Duplicates)
			}
		})
	}
}

func TestStatsJPEGNearFixture(t *testing.T) {
	dir := writeFixture(t, fixture{encoding: "jpeg", omitKey: true})
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dataset.Stats(context.Background(), ds, "train")
	if err != nil {
		t.Fatal(err)
	}
	mean, _ := wantPixelStats([]int{0, 1, 2, 3, 4})
	for ch, m := range st.Splits[0].Pixels.Mean {
		if math.Abs(m-mean[ch]) > 0.03 {
			t.Errorf("channel %d: got mean %.4f, want %.4f within 0.03 (lossy jpeg)", ch, m, mean[ch])
		}
	}
	if st.KeysStored {
		t.Error("got keys_stored true for a spec that omits keys")
	}
}

func TestStatsDuplicateKeys(t *testing.T) {
	dir := writeFixture(t, fixture{duplicate: true})
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dataset.Stats(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.DuplicateKey{{Key: "chip_0", Where: []string{"train-00000-of-00002.tfrecord#0", "train-00001-of-00002.tfrecord#1"}}}
	if diff := cmp.Diff(want, st.Duplicates); diff != "" {
		t.Errorf("duplicates (-want +got):\n%s", diff)
	}
}

func TestStatsCommand(t *testing.T) {
	good := writeFixture(t, fixture{})
	damaged := writeFixture(t, fixture{})
	damageShard(t, filepath.Join(damaged, "train-00000-of-00002.tfrecord"))
	tests := []struct {
		name     string
		dir      string
		args     []string
		wantCode int
		golden   string
	}{
		{"text", good, nil, ExitOK, "stats.txt"},
		{"json", good, []string{"--json"}, ExitOK, "stats.json"},
		{"split", good, []string{"--split", "validation"}, ExitOK, "stats_validation.txt"},
		{"damaged", damaged, nil, ExitPartial, "stats_damaged.txt"},
		{"no split", good, []string{"--split", "test"}, ExitError, ""},
		{"no dataset", t.TempDir(), nil, ExitError, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runInspect(t, tt.dir, append([]string{"stats", tt.dir}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("got exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			if tt.golden != "" {
				golden(t, tt.golden, stdout)
			} else if stderr == "" {
				t.Error("got no error message")
			}
		})
	}
}

func TestStatsJSONIsValid(t *testing.T) {
	dir := writeFixture(t, fixture{compression: tfrecord.GZIP})
	code, stdout, stderr := runInspect(t, dir, "stats", "--json", dir)
	if code != ExitOK {
		t.Fatalf("got exit %d: %s", code, stderr)
	}
	var st dataset.Statistics
	if err := json.Unmarshal([]byte(stdout), &st); err != nil {
		t.Fatalf("--json output does not parse: %v", err)
	}
	if len(st.Splits) != 2 || st.Splits[0].Records != 5 || st.Splits[1].Records != 2 {
		t.Errorf("got splits %+v, want train 5 and validation 2 records", st.Splits)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"stats"},
		{"stats", "a", "b"},
		{"preview"},
		{"preview", "-n", "0", "x"},
		{"request"},
		{"request", "--json", "x.jpg"},
	} {
		code, _, stderr := runInspect(t, "", args...)
		if code != ExitUsage || stderr == "" {
			t.Errorf("%q: got exit %d and stderr %q, want %d and a message", args, code, stderr, ExitUsage)
		}
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, name := range []string{"stats", "preview", "request"} {
		code, stdout, _ := runInspect(t, "", "help", name)
		if code != ExitOK {
			t.Errorf("help %s: got exit %d", name, code)
		}
		if !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "  tfprep "+name) {
			t.Errorf("help %s has no examples:\n%s", name, stdout)
		}
	}
}

// benchDataset is 70 planet-sized (128x128x3 float32) examples in three
// shards, with the total shard bytes.
func benchDataset(b *testing.B) (*dataset.Dataset, int64) {
	b.Helper()
	dir := writeFixture(b, fixture{side: 128, repeat: 10})
	ds, err := dataset.Open(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	for _, sp := range ds.Manifest.Splits {
		size += sp.Bytes
	}
	return ds, size
}

func BenchmarkStats(b *testing.B) {
	ds, size := benchDataset(b)
	b.SetBytes(size)
	images := 0
	for b.Loop() {
		st, err := dataset.Stats(context.Background(), ds)
		if err != nil {
			b.Fatal(err)
		}
		for _, ss := range st.Splits {
			images += int(ss.Records)
		}
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

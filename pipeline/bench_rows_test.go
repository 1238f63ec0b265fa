//go:build linux

package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/schema"
)

// tinyChips is the number of distinct 8x8 chips behind the row-count
// benchmarks: every row names one of them in its file column, so a million
// rows decode a million JPEGs (from the page cache) without a million files.
const tinyChips = 1000

// tinySpec is the planet spec reading each row's image from its file column
// and storing it as 8x8 uint8 pixels (192 bytes), so that the conversion's
// cost is the rows', not the pixels'.
func tinySpec(t testing.TB) *schema.Spec {
	spec := planetSpec(t)
	spec.CSV.ImagePath = "{file}"
	spec.Image.Width, spec.Image.Height, spec.Image.Encoding = 8, 8, "uint8"
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	return spec
}

// tinyDataset writes, once per machine under the temporary directory, the
// tinyChips chips and a CSV of n rows (image_name, file, the planet labels)
// split into parts files of consecutive rows with the same header, and
// returns the CSV paths and the images root.
func tinyDataset(t testing.TB, n, parts int) (csvPaths []string, images string) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tfprep-bench-tiny-%d-%d", n, parts))
	images = filepath.Join(dir, "images")
	for p := range parts {
		csvPaths = append(csvPaths, filepath.Join(dir, fmt.Sprintf("rows-%03d.csv", p)))
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return csvPaths, images
	}
	chips := synth.SampleRows(tinyChips, 1)
	if err := synth.Generate(context.Background(), images, chips, synth.Options{Size: 8, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	per := (n + parts - 1) / parts
	for p, path := range csvPaths {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(f)
		fmt.Fprintln(w, "image_name,file,weather_labels,ground_labels")
		for i := p * per; i < min(n, (p+1)*per); i++ {
			c := chips[i%len(chips)]
			fmt.Fprintf(w, "row_%07d,%s.jpg,%q,%q\n", i, c.Name, listOf(c.Weather[:]), listOf(c.Ground[:]))
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return csvPaths, images
}

// listOf formats a label vector as the planet CSV does: "[0, 1, 0]".
func listOf(values []uint8) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = strconv.Itoa(int(v))
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// BenchmarkConvertRows converts TFPREP_BENCH_ROWS rows (e.g. 1000000) of
// tiny chips (tinySpec) in TFPREP_BENCH_PARTS CSV files (default 1) on
// in-process Prism, in a fresh process, with size-based sharding (the
// default 128 MiB: one shard per split, which used to bring every row of a
// split to one DoFn), and reports the conversion's wall time, the process's
// peak resident set and that peak per row.
func BenchmarkConvertRows(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("TFPREP_BENCH_ROWS"))
	if n <= 0 {
		b.Skip("set TFPREP_BENCH_ROWS=1000000 (and TFPREP_BENCH_PARTS) to convert that many rows of 8x8 chips")
	}
	parts := 1
	if p, err := strconv.Atoi(os.Getenv("TFPREP_BENCH_PARTS")); err == nil && p > 0 {
		parts = p
	}
	csvPaths, images := tinyDataset(b, n, parts)
	for b.Loop() {
		out := filepath.Join(b.TempDir(), "out")
		res := runTestChild(b, "TestConvertRowsChild", "TFPREP_ROWS_CSV="+strings.Join(csvPaths, ","),
			"TFPREP_ROWS_IMAGES="+images, "TFPREP_ROWS_OUT="+out)
		b.ReportMetric(res.seconds, "s/conversion")
		b.ReportMetric(float64(res.rss)/(1<<20), "MiB-peak")
		b.ReportMetric(float64(res.anon)/(1<<20), "MiB-anon")
		b.ReportMetric(float64(res.rss)/float64(n), "B/row")
		b.ReportMetric(float64(n)/res.seconds, "rows/s")
		os.RemoveAll(out)
	}
}

// TestConvertRowsChild is the child process of BenchmarkConvertRows; it
// runs only when the benchmark starts it.
func TestConvertRowsChild(t *testing.T) {
	csvPaths := os.Getenv("TFPREP_ROWS_CSV")
	if csvPaths == "" {
		t.Skip("child process of BenchmarkConvertRows")
	}
	cfg := Config{
		Spec:   tinySpec(t),
		CSV:    strings.Split(csvPaths, ","),
		Images: os.Getenv("TFPREP_ROWS_IMAGES"),
		Out:    os.Getenv("TFPREP_ROWS_OUT"),
		Splits: []SplitWeight{{"train", 0.9}, {"validation", 0.1}},
		Seed:   1,
	}
	printRSS := watchPeakRSS(t)
	start := time.Now()
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("SECONDS: %f\nROWS: %d %d %d\n", time.Since(start).Seconds(), m.Rows.Read, m.Rows.Written, m.Rows.Rejected)
	printRSS()
}

// parseKB parses the value of a /proc status line, such as " 1024 kB".
func parseKB(v string) (int64, error) {
	return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
}

// statusKB returns the kB of a line of /proc/self/status, such as
// "VmHWM:" (-1 when it has none).
func statusKB(t testing.TB, field string) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := parseKB(v)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	return -1
}

// watchPeakRSS samples this process's anonymous resident memory (RssAnon)
// every 5 ms until the function it returns is called, which prints for
// runTestChild the peak of it seen ("PeakAnon:") and the kernel's peak of the
// whole resident set (VmHWM). VmHWM counts the pages of the test binary
// mapped from the page cache too, which vary from run to run with what the
// cache holds: the same binary measured 20 MiB apart, fresh from the linker
// or not. RssAnon is the process's own memory: heap, stacks, C allocations.
func watchPeakRSS(t testing.TB) (print func()) {
	stop, done := make(chan struct{}), make(chan int64)
	go func() {
		peak := int64(0)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, statusKB(t, "RssAnon:"))
			select {
			case <-stop:
				done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(stop)
		fmt.Printf("PeakAnon: %d kB\nVmHWM: %d kB\n", <-done, statusKB(t, "VmHWM:"))
	}
}

// runTestChild runs test of this test binary in a child process with env
// added and the benchmark's -cpu as its GOMAXPROCS, and returns its CPU
// time, the peak resident set and the SECONDS it printed.
func runTestChild(b *testing.B, test string, env ...string) childResult {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(append(os.Environ(), env...), "GOMAXPROCS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("child %s: %v\n%s", test, err, out)
	}
	res := childResult{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	for line := range strings.Lines(string(out)) {
		line = strings.TrimSpace(line)
		for field, dst := range map[string]*int64{"VmHWM:": &res.rss, "PeakAnon:": &res.anon} {
			if v, ok := strings.CutPrefix(line, field); ok {
				kb, err := parseKB(v)
				if err != nil {
					b.Fatal(err)
				}
				*dst = kb << 10
			}
		}
		if v, ok := strings.CutPrefix(line, "SECONDS:"); ok {
			if res.seconds, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
				b.Fatal(err)
			}
		}
	}
	if res.rss == 0 {
		b.Fatalf("child printed no VmHWM:\n%s", out)
	}
	return res
}

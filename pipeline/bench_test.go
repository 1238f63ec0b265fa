//go:build linux

package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/tfrecord"
)

// Benchmark data: benchChips generated 256x256 Planet-like chips
// (internal/synth), made once per machine under the temporary directory and
// reused. Larger sets reuse the same chips under more names (hard links), so
// converting them does the same work per image without generating more.
const benchChips = 2000

var benchData struct {
	once sync.Once
	dir  string
	rows []synth.Row
	err  error
}

// chipDir returns the directory holding images/synth_NNNNN.jpg for the
// benchChips generated rows.
func chipDir(b testing.TB) (string, []synth.Row) {
	benchData.once.Do(func() {
		benchData.rows = synth.SampleRows(benchChips, 1)
		benchData.dir = filepath.Join(os.TempDir(), fmt.Sprintf("tfprep-bench-chips-%d", benchChips))
		done := filepath.Join(benchData.dir, "complete")
		if _, err := os.Stat(done); err == nil {
			return
		}
		if benchData.err = synth.Generate(context.Background(), filepath.Join(benchData.dir, "images"), benchData.rows, synth.Options{Seed: 1}); benchData.err == nil {
			benchData.err = os.WriteFile(done, nil, 0o644)
		}
	})
	if benchData.err != nil {
		b.Fatal(benchData.err)
	}
	return benchData.dir, benchData.rows
}

// datasetOf writes a CSV of n rows named like the keys of names (or
// bench_NNNNNN when names is nil) with images hard-linked to the generated
// chips, and returns the CSV path and images root.
func datasetOf(b testing.TB, n int, csvRows []synth.Row) (csvPath, images string) {
	chips, rows := chipDir(b)
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tfprep-bench-set-%d-%t", n, csvRows != nil))
	images = filepath.Join(dir, "images")
	csvPath = filepath.Join(dir, "planet.csv")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return csvPath, images
	}
	if err := os.MkdirAll(images, 0o755); err != nil {
		b.Fatal(err)
	}
	out := make([]synth.Row, n)
	for i := range out {
		if csvRows != nil {
			out[i] = csvRows[i]
		} else {
			out[i] = rows[i%len(rows)]
			out[i].Name = fmt.Sprintf("bench_%06d", i)
		}
		src := filepath.Join(chips, "images", rows[i%len(rows)].Name+".jpg")
		dst := filepath.Join(images, out[i].Name+".jpg")
		if err := os.Link(src, dst); err != nil && !os.IsExist(err) {
			b.Fatal(err)
		}
	}
	f, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	if err := synth.WriteCSV(f, out); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return csvPath, images
}

func benchConfig(b testing.TB, csvPath, images string) Config {
	return Config{
		Spec:   planetSpec(b),
		CSV:    []string{csvPath},
		Images: images,
		Out:    filepath.Join(b.TempDir(), "out"),
		Splits: []SplitWeight{{"train", 0.9}, {"validation", 0.1}},
		Shards: 4,
		Seed:   1,
	}
}

// BenchmarkConvertPrism converts benchChips chips to the planet spec on the
// in-process Prism runner, end to end (CSV, decode, resize, serialise,
// write, finalize), each conversion in a fresh process as "tfprep convert"
// runs: this test binary, running TestConvertChild. (In-process Prism keeps
// finished jobs, and later jobs of one process run measurably slower.)
// images/cpu-s is per core: the child's user + system CPU time. Run with
// -cpu 1,2 (GOMAXPROCS of the child).
func BenchmarkConvertPrism(b *testing.B) {
	csvPath, images := datasetOf(b, benchChips, nil)
	b.SetBytes(dirBytes(b, images)) // the JPEG bytes converted per op
	var cpu time.Duration
	for b.Loop() {
		res := runChild(b, csvPath, images, 4)
		cpu += res.cpu
	}
	b.ReportMetric(float64(benchChips*b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(benchChips*b.N)/cpu.Seconds(), "images/cpu-s")
}

// BenchmarkConvertPlain does the work of BenchmarkConvertPrism without
// Beam: the same CSV reading, row decoding, split and shard assignment,
// write-time order and per-shard ShardWriter, shards written one after the
// other, each with its GOMAXPROCS image goroutines. The ratio of the two
// images/s is the cost of running on Beam.
func BenchmarkConvertPlain(b *testing.B) {
	csvPath, images := datasetOf(b, benchChips, nil)
	b.SetBytes(dirBytes(b, images)) // the JPEG bytes converted per op
	cpu0 := cpuTime()
	for b.Loop() {
		b.StopTimer()
		cfg := benchConfig(b, csvPath, images)
		b.StartTimer()
		if n := convertPlain(b, cfg); n != benchChips {
			b.Fatalf("wrote %d, want %d", n, benchChips)
		}
	}
	reportRates(b, benchChips*b.N, cpu0)
}

// convertPlain is the Beam-free conversion of BenchmarkConvertPlain; it
// returns the number of records written.
func convertPlain(b testing.TB, cfg Config) int64 {
	ctx := context.Background()
	data, err := os.ReadFile(cfg.CSV[0])
	if err != nil {
		b.Fatal(err)
	}
	var records []csvRecord
	header, err := scanCSV(cfg.CSV[0], data, func(line int, record []string, err error) {
		if err == nil {
			records = append(records, csvRecord{Line: line, Fields: record})
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	decoder, err := cfg.Spec.NewRowDecoder(header)
	if err != nil {
		b.Fatal(err)
	}
	bounds := splitBuckets(cfg.Splits)
	shards := map[string][]splitRow{}
	for _, rec := range records {
		row, _, err := decoder.Decode(rec.Line, rec.Fields)
		if err != nil {
			continue
		}
		labels := make([][]float32, len(row.Labels))
		for i, l := range row.Labels {
			labels[i] = l.Values
		}
		r := splitRow{Line: rec.Line, Key: row.Key, Image: row.ImagePath, Labels: labels}
		r.Split = splitOf(cfg.Seed, cfg.Splits, bounds, r.Key)
		r.Shard = int(keyHash(cfg.Seed, "shard", r.Key) % uint64(cfg.Shards))
		k := shardKey(r.Split, r.Shard)
		shards[k] = append(shards[k], r)
	}
	w := &dataset.ShardWriter{Spec: cfg.Spec, Images: cfg.Images, Compression: tfrecord.None}
	tempDir, err := dataset.Create(ctx, cfg.Out, false)
	if err != nil {
		b.Fatal(err)
	}
	var written int64
	for _, rows := range shards {
		orderRows(cfg.Seed, rows)
		res, _, err := w.WriteTemp(ctx, tempDir, rows[0].Split, rows[0].Shard, datasetRows(rows))
		if err != nil {
			b.Fatal(err)
		}
		written += res.Records
	}
	return written
}

// reportRates reports images per wall-clock second and per CPU second of
// this process (user + system). The second is images/s per fully used core
// and holds steady when other processes share the machine.
func reportRates(b *testing.B, images int, cpu0 time.Duration) {
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(images)/(cpuTime()-cpu0).Seconds(), "images/cpu-s")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func dirBytes(b testing.TB, dir string) int64 {
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			b.Fatal(err)
		}
		total += info.Size()
	}
	return total
}

// largeBench gates the benchmarks that convert tens of thousands of images
// (about a minute each on two cores): set TFPREP_BENCH_LARGE=1.
func largeBench(b *testing.B) {
	if os.Getenv("TFPREP_BENCH_LARGE") == "" {
		b.Skip("set TFPREP_BENCH_LARGE=1 to convert 20,000 and 40,479 images")
	}
}

// BenchmarkPeakRSS converts 2,000 and 20,000 images, each in a fresh
// process (TestConvertChild) with 128 MiB shards, and reports each process's
// peak resident set size (VmHWM, MiB-2k and MiB-20k), its peak anonymous
// memory (RssAnon sampled, anon-MiB-2k and anon-MiB-20k: VmHWM includes
// the test binary's pages from the page cache, which vary with the cache)
// and the ratios of the two: memory must not grow with the dataset.
func BenchmarkPeakRSS(b *testing.B) {
	largeBench(b)
	for b.Loop() {
		csvPath, images := datasetOf(b, 2000, nil)
		small := runChild(b, csvPath, images, 0)
		csvPath, images = datasetOf(b, 20000, nil)
		large := runChild(b, csvPath, images, 0)
		b.ReportMetric(float64(small.rss)/(1<<20), "MiB-2k")
		b.ReportMetric(float64(large.rss)/(1<<20), "MiB-20k")
		b.ReportMetric(float64(large.rss)/float64(small.rss), "ratio")
		b.ReportMetric(float64(small.anon)/(1<<20), "anon-MiB-2k")
		b.ReportMetric(float64(large.anon)/(1<<20), "anon-MiB-20k")
		b.ReportMetric(float64(large.anon)/float64(small.anon), "anon-ratio")
	}
}

// childResult is what a TestConvertChild process used.
type childResult struct {
	cpu     time.Duration // user + system
	rss     int64         // peak resident set (VmHWM), bytes
	anon    int64         // peak anonymous resident memory seen (RssAnon), bytes
	seconds float64       // the conversion's wall time, when the child prints it
}

// runChild converts csvPath in a child process on in-process Prism, with
// shards shards per split (0: 128 MiB shards), and the benchmark's -cpu as
// its GOMAXPROCS.
func runChild(b *testing.B, csvPath, images string, shards int) childResult {
	return runTestChild(b, "TestConvertChild", "TFPREP_CHILD_CSV="+csvPath, "TFPREP_CHILD_IMAGES="+images,
		"TFPREP_CHILD_OUT="+filepath.Join(b.TempDir(), "out"), "TFPREP_CHILD_SHARDS="+strconv.Itoa(shards))
}

// TestConvertChild is the child process of BenchmarkConvertPrism and
// BenchmarkPeakRSS; it runs only when they start it.
func TestConvertChild(t *testing.T) {
	csvPath := os.Getenv("TFPREP_CHILD_CSV")
	if csvPath == "" {
		t.Skip("child process of BenchmarkConvertPrism and BenchmarkPeakRSS")
	}
	cfg := benchConfig(t, csvPath, os.Getenv("TFPREP_CHILD_IMAGES"))
	cfg.Out = os.Getenv("TFPREP_CHILD_OUT")
	shards, err := strconv.Atoi(os.Getenv("TFPREP_CHILD_SHARDS"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Shards = shards
	printRSS := watchPeakRSS(t)
	if _, err := Convert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	printRSS()
}

// BenchmarkConvertPlanetCSV converts the real 40,479-row Kaggle Planet CSV
// (KagglePlanetMCML.csv from the shared corpus; its labels, generated
// images) and checks the row invariant. It needs TFPREP_BENCH_LARGE=1 and
// TFPREP_PLANET_CSV pointing at the CSV.
func BenchmarkConvertPlanetCSV(b *testing.B) {
	largeBench(b)
	path := os.Getenv("TFPREP_PLANET_CSV")
	if path == "" {
		b.Skip("set TFPREP_PLANET_CSV to KagglePlanetMCML.csv")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := synth.ReadCSV(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	_, images := datasetOf(b, len(rows), rows)
	for b.Loop() {
		cfg := benchConfig(b, path, images)
		cfg.Shards = 0
		start := time.Now()
		m, err := Convert(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := dataset.CheckRows(m.Rows.Read, m.Rows.Written, m.Rows.Rejected); err != nil || m.Rows.Read != int64(len(rows)) {
			b.Fatalf("rows %+v: %v", m.Rows, err)
		}
		b.ReportMetric(float64(m.Rows.Written)/time.Since(start).Seconds(), "images/s")
		b.ReportMetric(float64(m.Rows.Rejected), "rejected")
	}
}

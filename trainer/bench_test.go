package trainer

import (
	"context"
	"io"
	"os"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/tfprep/tfprep/internal/synth"
	"github.com/tfprep/tfprep/tfrecord"
)

// Benchmark data: float32 Planet examples (128x128x3, the seed's format),
// written once per process into a temporary directory.
const (
	benchExamples = 4096
	benchShards   = 16
)

var (
	benchOnce sync.Once
	benchDir  string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchDataset(b *testing.B) *Dataset {
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "tfprep-trainer-bench-")
		if benchErr != nil {
			return
		}
		_, benchErr = synth.WriteDataset(benchDir, []synth.Split{{Name: "train", Rows: synth.SampleRows(benchExamples, 1), Shards: benchShards}},
			synth.DatasetOptions{Image: synth.Options{Size: 128}, Index: true})
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	ds, err := Open(benchDir)
	if err != nil {
		b.Fatal(err)
	}
	return ds
}

func datasetBytes(b *testing.B, ds *Dataset) int64 {
	var n int64
	for _, sh := range ds.Shards() {
		fi, err := os.Stat(sh.Path)
		if err != nil {
			b.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// BenchmarkSequentialCRC is the limit: every shard read in turn with
// checksums verified, nothing decoded.
func BenchmarkSequentialCRC(b *testing.B) {
	ds := benchDataset(b)
	size := datasetBytes(b, ds)
	b.SetBytes(size)
	records := 0
	cpu := cpuSeconds()
	for b.Loop() {
		for _, sh := range ds.Shards() {
			rd, err := tfrecord.Open(sh.Path, &tfrecord.ReaderOptions{ReuseBuffer: true})
			if err != nil {
				b.Fatal(err)
			}
			for {
				if _, err := rd.Next(); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
				records++
			}
			rd.Close()
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "examples/s")
	reportCPU(b, cpu, float64(b.N)*float64(size))
}

// BenchmarkRead reads the dataset in batches of 32, one epoch per
// iteration, with one iterator repeating forever (as a training job does);
// the first epoch, which allocates the buffers, is not timed.
func BenchmarkRead(b *testing.B) {
	ds := benchDataset(b)
	for _, bc := range []struct {
		name string
		opts Options
	}{
		{"shuffle1024", Options{Shuffle: 1024}},
		{"noshuffle", Options{}},
		{"global", Options{GlobalShuffle: true}},
		{"shuffle1024-uint8", Options{Shuffle: 1024, ImageType: Uint8}},
		{"shuffle1024-nocrc", Options{Shuffle: 1024, SkipChecksums: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := bc.opts
			opts.BatchSize, opts.Seed, opts.Epochs = 32, 1, -1
			size := datasetBytes(b, ds)
			b.SetBytes(size)
			it, err := ds.Iter(context.Background(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer it.Close()
			sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
			var peak uint64
			epoch := func() {
				for n := 0; ; n++ {
					batch, err := it.Next()
					if err != nil {
						b.Fatal(err)
					}
					if n%16 == 0 {
						metrics.Read(sample)
						peak = max(peak, sample[0].Value.Uint64())
					}
					if batch.Len() < opts.BatchSize || (n+1)*opts.BatchSize == benchExamples {
						return // the epoch's last batch
					}
				}
			}
			epoch()
			cpu := cpuSeconds()
			for b.Loop() {
				epoch()
			}
			b.ReportMetric(float64(b.N*benchExamples)/b.Elapsed().Seconds(), "examples/s")
			b.ReportMetric(float64(peak)/(1<<20), "live-heap-MB")
			b.ReportMetric(float64(it.MemoryBound())/(1<<20), "bound-MB")
			reportCPU(b, cpu, float64(b.N)*float64(size))
		})
	}
}

// reportCPU reports throughput per second of this process's CPU time, which
// other processes on a shared machine do not distort.
func reportCPU(b *testing.B, start float64, bytes float64) {
	if cpu := cpuSeconds() - start; start >= 0 && cpu > 0 {
		b.ReportMetric(bytes/cpu/1e6, "MB/cpu-s")
	}
}

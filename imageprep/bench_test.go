package imageprep

import (
	"testing"
	"time"
)

// The benchmarks follow one image through the Planet pipeline: a real 256x256 4-component chip,
// decoded, resized to 128x128 with nearest (Keras' default) and stored as float32. Each reports
// µs/image and images/s on one core; `go test -bench . -cpu 1 -count 5 ./imageprep` gives the README
// table.

func planetChips(b *testing.B) [][]byte {
	b.Helper()
	return [][]byte{readCorpus(b, "train_0.jpg"), readCorpus(b, "train_1.jpg")}
}

// cpuClock measures the CPU time a benchmark's loop uses; see processCPUTime.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPUTime()
	return cpuClock{t, ok}
}

// reportPerImage reports wall µs/image and images/s, and, where the OS tells, CPU µs/image and
// images per CPU-second (the per-core rate on a machine shared with other work).
func reportPerImage(b *testing.B, c cpuClock) {
	sec := b.Elapsed().Seconds()
	if sec == 0 || b.N == 0 {
		return
	}
	b.ReportMetric(sec*1e6/float64(b.N), "µs/image")
	b.ReportMetric(float64(b.N)/sec, "images/s")
	if end, ok := processCPUTime(); ok && c.ok && end > c.start {
		cpu := (end - c.start).Seconds()
		b.ReportMetric(cpu*1e6/float64(b.N), "cpu-µs/image")
		b.ReportMetric(float64(b.N)/cpu, "images/cpu-s")
	}
}

func BenchmarkDecode(b *testing.B) {
	chips := planetChips(b)
	p, err := NewProcessor(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(chips[0])))
	b.ResetTimer()
	clock := startCPU()
	for i := 0; b.Loop(); i++ {
		if _, err := p.decode("chip", chips[i%2], nil); err != nil {
			b.Fatal(err)
		}
	}
	reportPerImage(b, clock)
}

func BenchmarkResize(b *testing.B) {
	p, err := NewProcessor(Options{})
	if err != nil {
		b.Fatal(err)
	}
	r, err := p.decode("chip", planetChips(b)[0], nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range []Filter{Nearest, Bilinear, Bicubic, Lanczos} {
		b.Run(f.String(), func(b *testing.B) {
			var rs resizer
			src, c := r.pix, r.mode.channels()
			if f != Nearest { // the pipeline converts to RGB before mixing pixels
				c = 3
				src = make([]uint8, r.w*r.h*3)
				convert(src, r.pix, r.w*r.h, r.mode, RGB)
			}
			var dst []uint8
			b.SetBytes(int64(len(src)))
			clock := startCPU()
			for b.Loop() {
				dst = rs.resize(src, r.w, r.h, c, fullBox(r.w, r.h), 128, 128, f, dst)
			}
			reportPerImage(b, clock)
		})
	}
}

func BenchmarkNormalise(b *testing.B) {
	p, err := NewProcessor(Options{Width: 128, Height: 128})
	if err != nil {
		b.Fatal(err)
	}
	img := Image{Width: 128, Height: 128, Channels: 3, Pix: make([]uint8, 128*128*3)}
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	dst := make([]byte, 0, p.opts.OutputBytes())
	b.SetBytes(int64(len(img.Pix)))
	clock := startCPU()
	for b.Loop() {
		var err error
		if dst, err = p.encode("chip", img, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
	reportPerImage(b, clock)
}

func BenchmarkProcess(b *testing.B) {
	chips := planetChips(b)
	cases := []struct {
		name string
		opts Options
	}{
		{"nearest", Options{Width: 128, Height: 128}},
		{"nearest_fastdct", Options{Width: 128, Height: 128, FastDCTScale: true}},
		{"bilinear", Options{Width: 128, Height: 128, Filter: Bilinear}},
		{"bicubic", Options{Width: 128, Height: 128, Filter: Bicubic}},
		{"lanczos", Options{Width: 128, Height: 128, Filter: Lanczos}},
		{"nearest_uint8", Options{Width: 128, Height: 128, Encoding: Uint8}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p, err := NewProcessor(c.opts)
			if err != nil {
				b.Fatal(err)
			}
			dst := make([]byte, 0, c.opts.OutputBytes())
			b.SetBytes(int64(len(chips[0])))
			clock := startCPU()
			for i := 0; b.Loop(); i++ {
				if dst, err = p.Process("chip", chips[i%2], dst[:0]); err != nil {
					b.Fatal(err)
				}
			}
			reportPerImage(b, clock)
		})
	}
}

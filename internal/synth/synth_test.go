package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestSampleRowsFrequencies(t *testing.T) {
	const n = 20000
	rows := SampleRows(n, 7)
	var weather [NumWeather]int
	var ground [NumGround]int
	for i, row := range rows {
		if want := fmt.Sprintf("synth_%05d", i); row.Name != want {
			t.Fatalf("row %d: got name %q, want %q", i, row.Name, want)
		}
		hot := 0
		for k, v := range row.Weather {
			weather[k] += int(v)
			hot += int(v)
		}
		if hot != 1 {
			t.Fatalf("%s: got weather %v, want one-hot", row.Name, row.Weather)
		}
		groundHot := 0
		for k, v := range row.Ground {
			ground[k] += int(v)
			groundHot += int(v)
		}
		if cloudy := row.Weather[Cloudy] == 1; cloudy != (groundHot == 0) {
			t.Fatalf("%s: cloudy=%v with %d ground labels; want ground labels exactly when not cloudy", row.Name, cloudy, groundHot)
		}
	}
	// Each observed frequency must lie within 5 standard deviations of the
	// real one; a wrong table or a biased draw is far outside.
	check := func(name string, got, realCount, realTotal, total int) {
		p := float64(realCount) / float64(realTotal)
		want := p * float64(total)
		if sd := math.Sqrt(float64(total) * p * (1 - p)); math.Abs(float64(got)-want) > 5*sd+1 {
			t.Errorf("%s: got %d of %d, want about %.0f", name, got, total, want)
		}
	}
	for k := range weather {
		check(WeatherLabels[k], weather[k], weatherCounts[k], 40478, n)
	}
	notCloudy := n - weather[Cloudy]
	for k := range ground {
		if k == Primary {
			continue // raised by the at-least-one rule
		}
		check(GroundLabels[k], ground[k], groundCounts[k], notCloudyRows, notCloudy)
	}
}

func TestSampleRowsDeterministic(t *testing.T) {
	a, b := SampleRows(500, 3), SampleRows(500, 3)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("same seed, different rows (-first +second):\n%s", diff)
	}
	if prefix := SampleRows(100, 3); !cmp.Equal(prefix, a[:100]) {
		t.Errorf("SampleRows(100) is not a prefix of SampleRows(500)")
	}
	if c := SampleRows(500, 4); cmp.Equal(a, c) {
		t.Errorf("seeds 3 and 4 gave identical rows")
	}
}

func TestGenerateIndependentOfWorkers(t *testing.T) {
	rows := SampleRows(12, 1)
	hashes := func(workers int) map[string][32]byte {
		dir := t.TempDir()
		if err := Generate(context.Background(), dir, rows, Options{Seed: 9, Size: 64, Workers: workers}); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][32]byte{}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = sha256.Sum256(data)
		}
		return out
	}
	one, four := hashes(1), hashes(4)
	if len(one) != len(rows) {
		t.Fatalf("got %d files, want %d (no temporaries left)", len(one), len(rows))
	}
	if diff := cmp.Diff(one, four); diff != "" {
		t.Errorf("1 worker vs 4 workers (-1 +4):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := EncodeJPEG(&buf, rows[0], Options{Seed: 9, Size: 64}); err != nil {
		t.Fatal(err)
	}
	if got, want := sha256.Sum256(buf.Bytes()), one[rows[0].Name+".jpg"]; got != want {
		t.Errorf("EncodeJPEG differs from the file Generate wrote")
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name string
		rows []Row
		opts Options
		want string
	}{
		{"escape", []Row{{Name: "../x"}}, Options{}, `image name "../x" is not a plain file name`},
		{"empty name", []Row{{Name: ""}}, Options{}, `row 1: image name "" is not a plain file name`},
		{"duplicate", []Row{{Name: "a"}, {Name: "b"}, {Name: "a"}}, Options{}, `rows 1 and 3: duplicate image name "a"`},
		{"size", []Row{{Name: "a"}}, Options{Size: 4}, "size 4 not in [8, 4096]"},
		{"quality", []Row{{Name: "a"}}, Options{Quality: 101}, "quality 101 not in [1, 100]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Generate(context.Background(), t.TempDir(), tt.rows, tt.opts)
			if !errors.Is(err, ErrOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrOptions containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Generate(ctx, t.TempDir(), SampleRows(50, 1), Options{Size: 16}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v, want context.Canceled", err)
	}
}

// stats are a chip's mean brightness, mean saturation and brightness spread.
type stats struct{ mean, saturation, spread float64 }

func measure(img *image.RGBA) stats {
	var sum, sum2, sat float64
	n := float64(len(img.Pix) / 4)
	for i := 0; i < len(img.Pix); i += 4 {
		r, g, b := float64(img.Pix[i]), float64(img.Pix[i+1]), float64(img.Pix[i+2])
		y := 0.299*r + 0.587*g + 0.114*b
		sum += y
		sum2 += y * y
		sat += max(r, g, b) - min(r, g, b)
	}
	mean := sum / n
	return stats{mean, sat / n, math.Sqrt(sum2/n - mean*mean)}
}

func TestWeatherIsVisible(t *testing.T) {
	// Averaged over many chips so that the random layout does not decide.
	avg := func(weather int) stats {
		var s stats
		const n = 24
		for i := range n {
			row := Row{Name: fmt.Sprint("w", i)}
			row.Weather[weather] = 1
			if weather != Cloudy {
				row.Ground[Primary] = 1
				row.Ground[Agriculture] = uint8(i % 2)
			}
			m := measure(Render(row, 64, 1))
			s.mean += m.mean / n
			s.saturation += m.saturation / n
			s.spread += m.spread / n
		}
		return s
	}
	clear, cloudy, haze, partly := avg(Clear), avg(Cloudy), avg(Haze), avg(PartlyCloudy)
	if !(cloudy.mean > partly.mean+40 && partly.mean > clear.mean+10) {
		t.Errorf("brightness: got cloudy %.0f, partly_cloudy %.0f, clear %.0f; want clearly decreasing", cloudy.mean, partly.mean, clear.mean)
	}
	if !(clear.saturation > 1.5*haze.saturation) {
		t.Errorf("saturation: got clear %.0f, haze %.0f; want clear far more saturated", clear.saturation, haze.saturation)
	}
	if !(haze.mean > clear.mean+40 && haze.spread < clear.spread) {
		t.Errorf("haze: got mean %.0f spread %.1f vs clear mean %.0f spread %.1f; want a brighter, flatter veil", haze.mean, haze.spread, clear.mean, clear.spread)
	}
}

func TestGroundLabelsAreVisible(t *testing.T) {
	for label, name := range GroundLabels {
		if label == Primary {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// Same name, so the same forest is drawn first; only the label differs.
			base := Row{Name: "g"}
			base.Weather[Clear] = 1
			base.Ground[Primary] = 1
			with := base
			with.Ground[label] = 1
			a, b := Render(base, 128, 5), Render(with, 128, 5)
			changed := 0
			for i := 0; i < len(a.Pix); i += 4 {
				d := 0
				for k := range 3 {
					d += max(int(a.Pix[i+k])-int(b.Pix[i+k]), int(b.Pix[i+k])-int(a.Pix[i+k]))
				}
				if d > 60 {
					changed++
				}
			}
			if frac := float64(changed) / float64(128*128); frac < 0.01 {
				t.Errorf("got %.2f%% of pixels visibly changed, want at least 1%%", 100*frac)
			}
		})
	}
}

// TestRenderGolden pins the pixels: a change in drawing code changes every
// generated dataset, so it must be deliberate (go test -update).
func TestRenderGolden(t *testing.T) {
	var b strings.Builder
	for _, row := range SampleRows(16, 42) {
		img := Render(row, 48, 42)
		fmt.Fprintf(&b, "%s weather=%v ground=%v sha256=%x\n", row.Name, row.Weather, row.Ground, sha256.Sum256(img.Pix))
	}
	golden := filepath.Join("testdata", "render.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("render changed (-want +got); run go test -update if deliberate:\n%s", diff)
	}
}

func BenchmarkEncodeJPEG(b *testing.B) {
	rows := SampleRows(64, 1)
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Reset()
		if err := EncodeJPEG(&buf, rows[i%len(rows)], Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

func TestWriteFolder(t *testing.T) {
	rows := SampleRows(3, 2)
	images, csvPath, err := WriteFolder(context.Background(), t.TempDir(), rows, Options{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := ReadCSV(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rows, back); diff != "" {
		t.Errorf("planet.csv rows (-written +read):\n%s", diff)
	}
	for _, r := range rows {
		if _, err := os.Stat(filepath.Join(images, r.Name+".jpg")); err != nil {
			t.Error(err)
		}
	}
}

package pipeline

import (
	"math"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		p    Progress
		rate float64
		want string
	}{
		{Progress{RowsRead: 1000}, 0, "images 0 / ? (reading CSV)  0/s  ETA -  0.0 MB written  0 rejected"},
		{Progress{RowsRead: 40479, CSVDone: true, ImagesWritten: 4000, Rejected: 479, BytesWritten: 312_549_999},
			2000.4, "images 4,479 / 40,479 (11.1%)  2,000/s  ETA 18s  312.5 MB written  479 rejected"},
		{Progress{RowsRead: 2_000_000, CSVDone: true, ImagesWritten: 100, BytesWritten: 1_234_567_890_123},
			10, "images 100 / 2,000,000 (0.0%)  10/s  ETA 55h33m10s  1,234,567.9 MB written  0 rejected"},
		{Progress{RowsRead: 5, CSVDone: true, ImagesWritten: 5}, 0, "images 5 / 5 (100.0%)  0/s  ETA -  0.0 MB written  0 rejected"},
	}
	for _, tt := range tests {
		if got := tt.p.Line(tt.rate); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestRateWindow(t *testing.T) {
	var r RateWindow
	steps := []struct {
		at   time.Duration
		done int64
		want float64
	}{
		{0, 0, 0},
		{time.Second, 100, 100},
		{5 * time.Second, 900, 180},
		// After 10 s the first sample leaves the window: a slowdown shows.
		{12 * time.Second, 1000, 900.0 / 11},
		{20 * time.Second, 1010, 110.0 / 15},
	}
	for _, s := range steps {
		if got := r.Add(s.at, s.done); math.Abs(got-s.want) > 1e-9 {
			t.Errorf("at %v: got rate %v, want %v", s.at, got, s.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		4217 * time.Microsecond:  "4ms",
		4217 * time.Millisecond:  "4.217s",
		19373 * time.Millisecond: "19s",
		60457 * time.Millisecond: "1m0s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("%v: got %q, want %q", d, got, want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"128MiB", 128 << 20, true}, {"100MB", 100e6, true}, {"1.5GiB", 3 << 29, true}, {"4096", 4096, true},
		{"64 kb", 64000, true}, {"1b", 1, true},
		{"", 0, false}, {"0", 0, false}, {"-1MiB", 0, false}, {"12XB", 0, false}, {"MiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

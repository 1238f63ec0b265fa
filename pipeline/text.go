package pipeline

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tfprep/tfprep/dataset"
)

// What a command shows of a conversion: the progress line, the summary
// after it, and the sizes its flags take.

// RateWindow is a moving-window rate: rows done per second over the last
// RateSpan of samples, so the rate follows the conversion as it is now.
type RateWindow struct {
	samples []rateSample
}

type rateSample struct {
	at   time.Duration
	done int64
}

// RateSpan is the span of a RateWindow.
const RateSpan = 10 * time.Second

// Add records done rows at elapsed time at and returns the rate over the
// window (0 until two samples are apart).
func (r *RateWindow) Add(at time.Duration, done int64) float64 {
	r.samples = append(r.samples, rateSample{at, done})
	for len(r.samples) > 2 && at-r.samples[1].at >= RateSpan {
		r.samples = r.samples[1:]
	}
	first := r.samples[0]
	if at <= first.at {
		return 0
	}
	return float64(done-first.done) / (at - first.at).Seconds()
}

// Line formats p with the current rate (rows done per second): rows done
// (written + rejected) of the total once the CSV has been read, the
// percentage, the rate, the ETA at that rate, the megabytes of shards
// written and the rows rejected.
func (p Progress) Line(rate float64) string {
	done := p.ImagesWritten + p.Rejected
	total, percent, eta := "?", "reading CSV", "ETA -"
	if p.CSVDone {
		total = group(p.RowsRead)
		percent = fmt.Sprintf("%.1f%%", 100*float64(done)/float64(max(p.RowsRead, 1)))
		if rate > 0 {
			eta = "ETA " + FormatDuration(time.Duration(float64(max(p.RowsRead-done, 0))/rate*float64(time.Second)))
		}
	}
	return fmt.Sprintf("images %s / %s (%s)  %s/s  %s  %s MB written  %s rejected",
		group(done), total, percent, group(int64(math.Round(rate))), eta, megabytes(p.BytesWritten), group(p.Rejected))
}

// FormatDuration rounds d to the second (to the millisecond under 10 s)
// in Go's notation: 1m5s, 2h0m3s, 4.217s.
func FormatDuration(d time.Duration) string {
	if d < 10*time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// megabytes formats n bytes in MB (10^6), one decimal, with thousands
// separators.
func megabytes(n int64) string {
	tenths := (n + 50_000) / 100_000
	return fmt.Sprintf("%s.%d", group(tenths/10), tenths%10)
}

// WriteSummary writes what a conversion into out wrote, for people: per
// split the records, shards, megabytes and the time spent writing the
// split's shards summed over its shards (p.SplitTime; "-" when the workers
// ran elsewhere), then the wall time of the whole run, the row accounting
// and any warnings.
func WriteSummary(w io.Writer, out string, m *dataset.Manifest, p Progress, elapsed time.Duration) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "split\trecords\tshards\tsize (MB)\tshard writing time (summed over shards)\t")
	var records, shards, size int64
	var busy time.Duration
	timed := false
	for _, sp := range m.Splits {
		t := "-"
		if d, ok := p.SplitTime[sp.Name]; ok {
			t, busy, timed = FormatDuration(d), busy+d, true
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t\n", sp.Name, group(sp.Records), len(sp.Shards), megabytes(sp.Bytes), t)
		records += sp.Records
		shards += int64(len(sp.Shards))
		size += sp.Bytes
	}
	total := "-"
	if timed {
		total = FormatDuration(busy)
	}
	fmt.Fprintf(tw, "total\t%s\t%d\t%s\t%s\t\n", group(records), shards, megabytes(size), total)
	tw.Flush()
	r := m.Rows
	fmt.Fprintf(&b, "wall time: %s (shards are written in parallel, so their summed time may exceed it)\n", FormatDuration(elapsed))
	fmt.Fprintf(&b, "rows: %s read = %s written + %s rejected", group(r.Read), group(r.Written), group(r.Rejected))
	if r.Rejected > 0 {
		var parts []string
		for _, s := range dataset.Stages {
			if n := r.RejectedByStage[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", s, n))
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	b.WriteByte('\n')
	if r.Warned > 0 {
		rows := group(r.Warned) + " rows"
		if r.Warned == 1 {
			rows = "1 row"
		}
		fmt.Fprintf(&b, "warning: %s kept with doubtful labels or repeated keys (listed in %s; a spec with strict: true, or --duplicate-keys=reject, rejects them)", rows, dataset.ManifestName)
		if len(r.Warnings) > 0 {
			fmt.Fprintf(&b, ", first: line %d (%s): %s", r.Warnings[0].Line, r.Warnings[0].Key, r.Warnings[0].Reason)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "wrote %s (decoder %s, %s images/s over the wall time)\n", out, m.Decoder, group(int64(math.Round(float64(r.Written)/max(elapsed.Seconds(), 1e-3)))))
	_, err := io.WriteString(w, b.String())
	return err
}

// group formats n with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// ParseSize parses a byte size (--shard-size): a number with an optional
// unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024),
// case-insensitive.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1},
	}
	lower := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	for _, u := range units {
		if num, ok := strings.CutSuffix(lower, u.suffix); ok {
			lower, scale = strings.TrimSpace(num), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(lower, 64)
	if err != nil || !(v*scale >= 1) || v*scale > 1<<50 {
		return 0, fmt.Errorf("%q is not a size such as 128MiB", s)
	}
	return int64(v * scale), nil
}

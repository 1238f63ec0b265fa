package dataset

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The reports' text forms, as "tfprep verify DIR" and "tfprep stats" print
// them; their JSON forms are the structs'.

// WriteText writes the verdict for people: every discrepancy, then one line
// that sums up.
func (r *VerifyReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, d := range r.Discrepancies {
		fmt.Fprintf(&b, "%s: %s: %s\n", joinPath(r.Dir, d.File), d.Check, d.Detail)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "%s: note: %s\n", r.Dir, n)
	}
	switch {
	case r.OK:
		fmt.Fprintf(&b, "%s: ok: %s, %s, %s; rows read %d = written %d + rejected %d\n",
			r.Dir, plural(r.Splits, "split"), plural(r.Shards, "shard"), plural(r.Records, "record"), r.Rows.Read, r.Rows.Written, r.Rows.Rejected)
	case !r.Complete:
		fmt.Fprintf(&b, "%s: FAILED at the first discrepancy (--all lists every one)\n", r.Dir)
	default:
		fmt.Fprintf(&b, "%s: FAILED: %s\n", r.Dir, plural(len(r.Discrepancies), "discrepancy"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes the statistics as a table per split, then the duplicate
// keys. Counts that differ from the manifest's are marked with "!".
func (st *Statistics) WriteText(w io.Writer) error {
	var b strings.Builder
	for i, ss := range st.Splits {
		if i > 0 {
			b.WriteByte('\n')
		}
		ss.writeText(&b)
	}
	b.WriteByte('\n')
	switch {
	case !st.KeysStored:
		b.WriteString("duplicate keys: unknown (the spec does not store keys)\n")
	case len(st.Duplicates) == 0:
		b.WriteString("duplicate keys: none\n")
	default:
		fmt.Fprintf(&b, "duplicate keys: %d\n", len(st.Duplicates))
		for _, d := range st.Duplicates {
			fmt.Fprintf(&b, "  %q: %s\n", d.Key, strings.Join(d.Where, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (ss *SplitStats) writeText(b *strings.Builder) {
	mark := ""
	if ss.Records != ss.ManifestRecords {
		mark = " !"
	}
	fmt.Fprintf(b, "split %s: %s in %s (%s: %d)%s\n", ss.Name, plural(ss.Records, "record"), plural(ss.Shards, "shard"), ManifestName, ss.ManifestRecords, mark)
	for _, d := range ss.Damage {
		fmt.Fprintf(b, "  damaged: %s\n", d)
	}
	// One left column wide enough for every row name of the split.
	width := len("pixels (0..1)")
	for _, ls := range ss.Labels {
		width = max(width, len(ls.Feature))
		for _, name := range ls.Names {
			width = max(width, len(name)+2)
		}
	}
	fmt.Fprintf(b, "  %-*s", width, "pixels (0..1)")
	for _, c := range ss.Pixels.Channels {
		fmt.Fprintf(b, " %7s", c)
	}
	for _, row := range []struct {
		name   string
		values []float64
	}{{"  mean", ss.Pixels.Mean}, {"  std", ss.Pixels.Std}} {
		fmt.Fprintf(b, "\n  %-*s", width, row.name)
		for _, v := range row.values {
			fmt.Fprintf(b, " %7.4f", v)
		}
	}
	b.WriteByte('\n')
	for _, ls := range ss.Labels {
		fmt.Fprintf(b, "  %-*s %7s %13s\n", width, ls.Feature, "count", ManifestName)
		for j, name := range ls.Names {
			recorded, mark := "-", ""
			if ls.ManifestCounts != nil {
				recorded = "?"
				if j < len(ls.ManifestCounts) {
					recorded = strconv.FormatInt(ls.ManifestCounts[j], 10)
				}
				if recorded != strconv.FormatInt(ls.Counts[j], 10) {
					mark = " !"
				}
			}
			fmt.Fprintf(b, "    %-*s %7d %13s%s\n", width-2, name, ls.Counts[j], recorded, mark)
		}
	}
}

// plural returns "1 shard", "2 shards", "0 discrepancies".
func plural[N int | int64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	if stem, ok := strings.CutSuffix(noun, "y"); ok {
		return fmt.Sprintf("%d %sies", n, stem)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

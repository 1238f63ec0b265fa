package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

// splitCSV writes the data lines of testdata/NAME into parts files of dir
// (each with the header), the first of them preceded by extra lines, and
// returns their paths.
func splitCSV(t *testing.T, name string, parts int, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	header, rows := lines[0], lines[1:]
	var paths []string
	per := (len(rows) + parts - 1) / parts
	for p := range parts {
		body := header + strings.Join(rows[min(p*per, len(rows)):min((p+1)*per, len(rows))], "")
		if !strings.HasSuffix(body, "\n") {
			body += "\n"
		}
		path := filepath.Join(dir, "part-"+string(rune('a'+p))+".csv")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

// shardDigests are a conversion's shard names and SHA-256s.
func shardDigests(m *dataset.Manifest) []string {
	var sums []string
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			sums = append(sums, sh.File+" "+sh.SHA256)
		}
	}
	return sums
}

// Several CSV files, named or globbed, and one file read in many small
// ranges give the same shards as the one file read whole: the rows do not
// depend on how the input is cut.
func TestConvertSeveralFiles(t *testing.T) {
	ctx := context.Background()
	for _, sharding := range []string{"fixed", "by size"} {
		t.Run(sharding, func(t *testing.T) {
			config := func() Config {
				cfg := testConfig(t, "good.csv")
				if sharding == "by size" {
					cfg.Shards, cfg.ShardSize = 0, 300_000 // a few examples per shard
				}
				return cfg
			}
			whole, err := Convert(ctx, config())
			if err != nil {
				t.Fatal(err)
			}
			want := shardDigests(whole)

			dir := t.TempDir()
			parts := splitCSV(t, "good.csv", 3, dir)
			for name, csv := range map[string][]string{
				"files": parts,
				"glob":  {filepath.Join(dir, "part-*.csv")},
				"mixed": {parts[0], filepath.Join(dir, "part-[bc].csv")},
			} {
				cfg := config()
				cfg.CSV = csv
				m, err := Convert(ctx, cfg)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if diff := cmp.Diff(want, shardDigests(m)); diff != "" || !cmp.Equal(m.Rows, whole.Rows) {
					t.Errorf("%s: rows %+v, want %+v; shards (-one file +several):\n%s", name, m.Rows, whole.Rows, diff)
				}
			}

			defer func(old int64) { csvRangeBytes = old }(csvRangeBytes)
			csvRangeBytes = 50 // about one row per range, boundaries inside quoted fields
			m, err := Convert(ctx, config())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, shardDigests(m)); diff != "" {
				t.Errorf("ranges of %d bytes: shards (-whole +ranges):\n%s", csvRangeBytes, diff)
			}
		})
	}
}

// Reasons name the file when there are several; errors.csv's line is the
// file's; duplicate keys are found across files.
func TestConvertSeveralFilesErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	parts := splitCSV(t, "bad.csv", 2, dir)
	dup := filepath.Join(dir, "dup.csv")
	data, err := os.ReadFile(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	// dup.csv repeats part-a.csv's first data row at its line 2.
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(dup, []byte(lines[0]+lines[1]), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "bad.csv")
	cfg.CSV = append(parts, dup)
	cfg.RejectDuplicateKeys = true
	m, err := Convert(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	single, err := Convert(ctx, testConfig(t, "bad.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows.Read != single.Rows.Read+1 || m.Rows.Rejected != single.Rows.Rejected+1 {
		t.Errorf("got rows %+v, want one more read and rejected than %+v", m.Rows, single.Rows)
	}
	errs, err := dataset.ReadErrorsFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		named := false
		for _, p := range cfg.CSV {
			named = named || strings.Contains(e.Reason, p+": ")
		}
		if !named {
			t.Errorf("line %d: reason %q names no input file", e.Line, e.Reason)
		}
		if strings.Contains(e.Reason, "duplicate key") {
			want := dup + ": duplicate key " + e.Key + ": first at " + parts[0] + ": line 2"
			if e.Line != 2 || !strings.HasPrefix(e.Reason, want) {
				t.Errorf("got line %d %q, want line 2 %q", e.Line, e.Reason, want)
			}
		}
	}

	// A different header is refused before the job, naming the file.
	other := filepath.Join(dir, "other.csv")
	if err := os.WriteFile(other, []byte("image_name,tags\nx,clear\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(t, "good.csv")
	cfg.CSV = append(cfg.CSV, other)
	if _, err := Convert(ctx, cfg); !errors.Is(err, ErrCSV) || !strings.Contains(err.Error(), other) {
		t.Errorf("different header: got %v, want ErrCSV naming %s", err, other)
	}
	cfg.CSV = []string{filepath.Join(dir, "none-*.csv")}
	if _, err := Convert(ctx, cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no file matches") {
		t.Errorf("glob matching nothing: got %v, want ErrConfig", err)
	}
}

package pipeline

import (
	"context"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func planetSpec(t testing.TB) *schema.Spec {
	t.Helper()
	spec, err := schema.Preset("planet")
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// testConfig converts testdata/CSVNAME into a fresh directory.
func testConfig(t testing.TB, csvName string) Config {
	return Config{
		Spec:        planetSpec(t),
		CSV:         []string{filepath.Join("testdata", csvName)},
		Images:      filepath.Join("testdata", "images"),
		Out:         filepath.Join(t.TempDir(), "out"),
		Splits:      []SplitWeight{{"train", 0.75}, {"validation", 0.25}},
		Shards:      2,
		Seed:        7,
		CommandLine: []string{"tfprep", "convert", "(test)"},
		ToolVersion: "(test)",
	}
}

// readShards reads every record of the manifest's shards, checking each
// shard's size and SHA-256 against the manifest, and returns the decoded
// records per split in file order.
func readShards(t *testing.T, dir string, m *dataset.Manifest, spec *schema.Spec) map[string][]schema.Record {
	t.Helper()
	got := map[string][]schema.Record{}
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			path := filepath.Join(dir, sh.File)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := dataset.FormatCRC32C(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
			if int64(len(data)) != sh.Bytes || sum != sh.CRC32C || sh.SHA256 != "" {
				t.Errorf("%s: got %d bytes crc32c %s, manifest says %d bytes crc32c %s sha256 %q (want none without --sha256)", sh.File, len(data), sum, sh.Bytes, sh.CRC32C, sh.SHA256)
			}
			r, err := tfrecord.Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for {
				rec, err := r.Next()
				if err != nil {
					if err.Error() != "EOF" {
						t.Fatalf("%s: %v", sh.File, err)
					}
					break
				}
				p, err := example.Parse(rec, false)
				if err != nil {
					t.Fatalf("%s record %d: %v", sh.File, n, err)
				}
				var out schema.Record
				if err := spec.ReadExample(p, &out); err != nil {
					t.Fatalf("%s record %d: %v", sh.File, n, err)
				}
				out.Image = slices.Clone(out.Image)
				got[sp.Name] = append(got[sp.Name], out)
				n++
			}
			r.Close()
			if n != sh.Records {
				t.Errorf("%s: got %d records, manifest says %d", sh.File, n, sh.Records)
			}
		}
	}
	return got
}

func TestConvertGood(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Rows, (dataset.Rows{Read: 14, Written: 14, RejectedByStage: map[dataset.Stage]int64{}}); !cmp.Equal(got, want) {
		t.Errorf("rows: got %+v, want %+v", got, want)
	}
	if got := m.SplitNames(); !slices.Equal(got, []string{"train", "validation"}) {
		t.Errorf("got splits %q, want train, validation", got)
	}
	records := readShards(t, cfg.Out, m, cfg.Spec)
	var keys []string
	for split, recs := range records {
		for _, r := range recs {
			if got := splitOf(cfg.Seed, cfg.Splits, splitBuckets(cfg.Splits), r.Key); got != split {
				t.Errorf("key %s: in split %s, want %s", r.Key, split, got)
			}
			keys = append(keys, r.Key)
			if len(r.Image) != 128*128*3*4 {
				t.Errorf("key %s: image of %d bytes, want %d", r.Key, len(r.Image), 128*128*3*4)
			}
		}
	}
	slices.Sort(keys)
	want := []string{"synth_00000", "synth_00001", "synth_00002", "synth_00003", "synth_00004", "synth_00005",
		"synth_00006", "synth_00007", "synth_00008", "synth_00009", "synth_00010", "synth_00011", "train_0", "train_1"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("keys written (-want +got):\n%s", diff)
	}
	errs, err := dataset.ReadErrorsFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 0 {
		t.Errorf("got %d rows in errors.csv, want none: %v", len(errs), errs)
	}
	entries, err := os.ReadDir(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	wantNames := []string{"dataset.json", "errors.csv", "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord",
		"validation-00000-of-00002.tfrecord", "validation-00001-of-00002.tfrecord"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("output directory (-want +got):\n%s", diff)
	}
	// The manifest Convert returns is the one on disk (Finalize ran in
	// this process and handed it over instead of a read-back).
	onDisk, err := dataset.ReadManifest(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(onDisk, m); diff != "" {
		t.Errorf("returned manifest (-on disk +returned):\n%s", diff)
	}
	committed.Range(func(k, _ any) bool {
		t.Errorf("the manifest committed in %v stayed in the process", k)
		return true
	})
}

func TestConvertBadRows(t *testing.T) {
	cfg := testConfig(t, "bad.csv")
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := dataset.ReadErrorsFile(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckErrors(errs); err != nil {
		t.Error(err)
	}
	type rejected struct {
		Line  int
		Key   string
		Stage dataset.Stage
	}
	var got []rejected
	for _, e := range errs {
		got = append(got, rejected{e.Line, e.Key, e.Stage})
		if e.Reason == "" {
			t.Errorf("line %d: empty reason", e.Line)
		}
	}
	want := []rejected{
		{3, "missing_1", dataset.StageIO},
		{4, "truncated", dataset.StageImage},
		{5, "notjpeg", dataset.StageImage},
		{6, "synth_00001", dataset.StageLabel},
		{7, "../images/synth_00002", dataset.StageLabel},
		{8, "", dataset.StageCSV},
		{10, "", dataset.StageCSV},
		{11, "", dataset.StageCSV},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors.csv (-want +got):\n%s", diff)
	}
	if m.Rows.Read != 11 || m.Rows.Written != 3 || m.Rows.Rejected != 8 {
		t.Errorf("got rows %+v, want read 11 = written 3 + rejected 8", m.Rows)
	}
	for _, e := range errs {
		if e.Line == 7 && !strings.Contains(e.Reason, "escapes") {
			t.Errorf("line 7: got reason %q, want the path escape named", e.Reason)
		}
		if e.Line == 3 && !strings.Contains(e.Reason, "missing_1.jpg") {
			t.Errorf("line 3: got reason %q, want the missing file named", e.Reason)
		}
	}
}

func TestConvertMaxErrors(t *testing.T) {
	cfg := testConfig(t, "bad.csv")
	cfg.MaxErrors = ErrorLimit{Set: true, Count: 7}
	m, err := Convert(context.Background(), cfg)
	if !errors.Is(err, ErrTooManyRejected) {
		t.Fatalf("got manifest %v, error %v; want %q", m, err, ErrTooManyRejected)
	}
	entries, err := os.ReadDir(cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != dataset.ErrorsName {
			t.Errorf("failed run left %s; want only %s", e.Name(), dataset.ErrorsName)
		}
	}
}

func TestConvertDeterministic(t *testing.T) {
	digests := func(seed int64) []string {
		cfg := testConfig(t, "good.csv")
		cfg.Seed = seed
		cfg.Compression = tfrecord.GZIP
		m, err := Convert(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var sums []string
		for _, sp := range m.Splits {
			for _, sh := range sp.Shards {
				sums = append(sums, sh.File+" "+sh.CRC32C)
			}
		}
		return sums
	}
	first, again, other := digests(7), digests(7), digests(8)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("same input and seed, different shards (-first +again):\n%s", diff)
	}
	if cmp.Equal(first, other) {
		t.Errorf("seeds 7 and 8 gave identical shards %q; the seed should change split and order", first)
	}
}

func TestConvertOutputNotEmpty(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	if _, err := Convert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(context.Background(), cfg); !errors.Is(err, dataset.ErrOutputExists) {
		t.Errorf("second run: got %v, want dataset.ErrOutputExists", err)
	}
	cfg.Overwrite = true
	cfg.Shards = 1
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatalf("--overwrite: %v", err)
	}
	if n := len(m.Splits[0].Shards); n != 1 {
		t.Errorf("got %d shards, want 1", n)
	}
	old := filepath.Join(cfg.Out, "train-00001-of-00002.tfrecord")
	if _, err := os.Stat(old); err == nil {
		t.Errorf("--overwrite left the earlier run's %s", old)
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(context.Background(), cfg); !errors.Is(err, dataset.ErrOutputExists) || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("foreign file: got %v, want dataset.ErrOutputExists naming notes.txt", err)
	}
}

func TestConvertIndex(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	cfg.Index = true
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Index {
		t.Error("manifest: index false, want true")
	}
	for _, sp := range m.Splits {
		for _, sh := range sp.Shards {
			f, err := os.Open(filepath.Join(cfg.Out, dataset.IndexName(sh.File)))
			if err != nil {
				t.Fatal(err)
			}
			index, err := tfrecord.ReadIndex(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", dataset.IndexName(sh.File), err)
			}
			if int64(len(index)) != sh.Records {
				t.Errorf("%s: %d index entries, want %d", sh.File, len(index), sh.Records)
			}
			var end int64
			for _, e := range index {
				end = e.Offset + e.Length
			}
			if end != sh.Bytes {
				t.Errorf("%s: index ends at %d, file has %d bytes", sh.File, end, sh.Bytes)
			}
		}
	}
}

// A key repeated in the CSV is warned about by default (both rows written)
// and, with RejectDuplicateKeys, its later rows are rejected at stage label.
func TestConvertDuplicateKeys(t *testing.T) {
	for _, reject := range []bool{false, true} {
		t.Run(map[bool]string{false: "warn", true: "reject"}[reject], func(t *testing.T) {
			cfg := testConfig(t, "dup.csv")
			cfg.RejectDuplicateKeys = reject
			m, err := Convert(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			errs, err := dataset.ReadErrorsFile(cfg.Out)
			if err != nil {
				t.Fatal(err)
			}
			var lines []int
			if reject {
				for _, e := range errs {
					if e.Stage != dataset.StageLabel || !strings.Contains(e.Reason, "duplicate key") {
						t.Errorf("rejected row %+v, want stage label, duplicate key", e)
					}
					lines = append(lines, e.Line)
				}
				if m.Rows.Written != 3 || m.Rows.Rejected != 2 || m.Rows.Warned != 0 {
					t.Errorf("got rows %+v, want 3 written, 2 rejected", m.Rows)
				}
			} else {
				for _, w := range m.Rows.Warnings {
					if !strings.Contains(w.Reason, "duplicate key") {
						t.Errorf("warning %+v, want duplicate key", w)
					}
					lines = append(lines, w.Line)
				}
				if m.Rows.Written != 5 || m.Rows.Warned != 2 || len(errs) != 0 {
					t.Errorf("got rows %+v, %d errors, want 5 written, 2 warned", m.Rows, len(errs))
				}
			}
			if diff := cmp.Diff([]int{4, 6}, lines); diff != "" {
				t.Errorf("lines of the repeats (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConvertLeavesNoTempFiles: Beam's runner leaves an empty
// beamloopbackworker-* file in the temporary directory per LOOPBACK job;
// Convert gives its jobs a private one and removes it.
func TestConvertLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := testConfig(t, "good.csv")
	cfg.Out = filepath.Join(t.TempDir(), "out")
	if _, err := Convert(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("TMPDIR"); got != tmp {
		t.Errorf("TMPDIR is %q after the job, want %q back", got, tmp)
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left in the temporary directory: %s", e.Name())
	}
}

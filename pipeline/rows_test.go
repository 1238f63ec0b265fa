package pipeline

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

func TestParseSplits(t *testing.T) {
	tests := []struct {
		in   string
		want []SplitWeight
		ok   bool
	}{
		{"", []SplitWeight{{"train", 1}}, true},
		{"train=0.9,validation=0.1", []SplitWeight{{"train", 0.9}, {"validation", 0.1}}, true},
		{" train=8 , test=2 ", []SplitWeight{{"train", 8}, {"test", 2}}, true},
		{"train", nil, false},
		{"train=0", nil, false},
		{"train=-1", nil, false},
		{"train=NaN", nil, false},
		{"train=1,train=2", nil, false},
		{"my-split=1", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseSplits(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseSplits(%q): got error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrSplits) {
			t.Errorf("ParseSplits(%q): got %v, want ErrSplits", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseSplits(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseErrorLimit(t *testing.T) {
	tests := []struct {
		in                string
		rejected, read    int64
		exceeded, wantErr bool
	}{
		{"", 1000, 1000, false, false},
		{"0", 1, 10, true, false},
		{"0", 0, 10, false, false},
		{"5", 5, 10, false, false},
		{"5", 6, 10, true, false},
		{"10%", 10, 100, false, false},
		{"10%", 11, 100, true, false},
		{"0.5%", 1, 100, true, false},
		{"-1", 0, 0, false, true},
		{"101%", 0, 0, false, true},
		{"x", 0, 0, false, true},
	}
	for _, tt := range tests {
		l, err := ParseErrorLimit(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseErrorLimit(%q): got %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Errorf("ParseErrorLimit(%q): got %v, want ErrConfig", tt.in, err)
			}
			continue
		}
		if got := l.Exceeded(tt.rejected, tt.read); got != tt.exceeded {
			t.Errorf("limit %s: Exceeded(%d, %d) = %v, want %v", l, tt.rejected, tt.read, got, tt.exceeded)
		}
	}
}

func TestSharding(t *testing.T) {
	tests := []struct {
		sh   shardPlan
		rows int64
		want int
	}{
		{shardPlan{Shards: 4}, 0, 4},
		{shardPlan{Shards: 4}, 1e6, 4},
		{shardPlan{ShardSize: 128 << 20, ExampleBytes: 196_800}, 0, 1},
		{shardPlan{ShardSize: 128 << 20, ExampleBytes: 196_800}, 682, 1},
		{shardPlan{ShardSize: 128 << 20, ExampleBytes: 196_800}, 683, 2},
		{shardPlan{ShardSize: 128 << 20, ExampleBytes: 196_800}, 40479, 60},
	}
	for _, tt := range tests {
		if got := tt.sh.Count(tt.rows); got != tt.want {
			t.Errorf("%+v.Count(%d) = %d, want %d", tt.sh, tt.rows, got, tt.want)
		}
	}
}

func TestExampleBytes(t *testing.T) {
	// planet: 128x128x3 float32 image, 4 + 13 float32 labels, the key.
	got := exampleBytes(planetSpec(t))
	if raw := int64(128*128*3*4 + 4*4 + 13*4); got < raw || got > raw+200 {
		t.Errorf("got %d bytes, want the %d raw bytes plus under 200 of framing", got, raw)
	}
}

// TestSplitAssignment checks that split assignment is a function of the
// key alone (stable under any other change of the data) and follows the
// weights.
func TestSplitAssignment(t *testing.T) {
	splits := []SplitWeight{{"train", 0.8}, {"validation", 0.15}, {"test", 0.05}}
	bounds := splitBuckets(splits)
	if bounds[len(bounds)-1] != 1<<32 {
		t.Fatalf("last bound %d, want 2^32", bounds[len(bounds)-1])
	}
	const n = 40479
	counts := map[string]int{}
	for i := range n {
		key := fmt.Sprintf("train_%d", i)
		split := splitOf(42, splits, bounds, key)
		counts[split]++
		if again := splitOf(42, splits, splitBuckets(splits), key); again != split {
			t.Fatalf("key %s: %s then %s", key, split, again)
		}
	}
	for _, sp := range splits {
		want := sp.Weight * n
		// Binomial standard deviation; 5 sigma never fails by chance.
		sigma := math.Sqrt(n * sp.Weight * (1 - sp.Weight))
		if got := float64(counts[sp.Name]); math.Abs(got-want) > 5*sigma {
			t.Errorf("split %s: got %.0f keys, want %.0f ± %.0f", sp.Name, got, want, 5*sigma)
		}
	}
	moved := 0
	for i := range 1000 {
		key := fmt.Sprintf("train_%d", i)
		if splitOf(42, splits, bounds, key) != splitOf(43, splits, bounds, key) {
			moved++
		}
	}
	if moved == 0 {
		t.Error("seeds 42 and 43 assign all keys alike; the seed must matter")
	}
}

func TestOrderRows(t *testing.T) {
	rows := []splitRow{{Key: "a", Line: 2}, {Key: "b", Line: 3}, {Key: "c", Line: 4}, {Key: "a", Line: 9}, {Key: "d", Line: 5}}
	reversed := []splitRow{rows[4], rows[3], rows[2], rows[1], rows[0]}
	orderRows(1, rows)
	orderRows(1, reversed)
	if diff := cmp.Diff(rows, reversed); diff != "" {
		t.Errorf("order depends on arrival order (-first +second):\n%s", diff)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].Key == rows[i-1].Key && rows[i].Line < rows[i-1].Line {
			t.Errorf("duplicate key %s: line %d before %d", rows[i].Key, rows[i-1].Line, rows[i].Line)
		}
	}
}

func TestRunnerError(t *testing.T) {
	plan := "job failed: bundle inst009 failed: while executing Process for Plan[stage-009]:\n1: DataSource ...\n\tcaused by:\nDoFn[UID:2] failed:\n"
	tests := []struct {
		err     error
		want    string
		tooMany bool
	}{
		{errors.New(plan + "pipeline: too many rejected rows: 8 of 11 rows rejected, --max-errors is 7 (see out/errors.csv)\""),
			"pipeline: too many rejected rows: 8 of 11 rows rejected, --max-errors is 7 (see out/errors.csv)", true},
		{errors.New(plan + "pipeline: shard train/00001: disk full\n"), "prism runner: job failed: pipeline: shard train/00001: disk full", false},
		{errors.New("connection refused"), "pipeline: prism runner: connection refused", false},
	}
	for _, tt := range tests {
		got := runnerError("prism", tt.err)
		if got.Error() != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
		if errors.Is(got, ErrTooManyRejected) != tt.tooMany {
			t.Errorf("%q: errors.Is(ErrTooManyRejected) = %v, want %v", got, !tt.tooMany, tt.tooMany)
		}
	}
}

// TestAssignShard runs AssignShard with a fixed shard count and with counts
// from the shard size: every row must land in shard keyHash % n of its
// split, keyed "split/shard", with n the split's expected shard count.
func TestAssignShard(t *testing.T) {
	const seed = 7
	var rows []splitRow
	for i := range 40 {
		split := "train"
		if i%4 == 0 {
			split = "validation" // 10 rows
		}
		rows = append(rows, splitRow{Line: i + 2, Key: fmt.Sprintf("key_%02d", i), Image: fmt.Sprintf("key_%02d.jpg", i), Split: split})
	}
	tests := []struct {
		name     string
		sharding shardPlan
		shards   map[string]int // wanted shard count per split
	}{
		{"fixed", shardPlan{Shards: 3}, map[string]int{"train": 3, "validation": 3}},
		// 30 rows * 10 bytes / 100 = 3 shards; 10 rows * 10 / 100 = 1.
		{"by size", shardPlan{ShardSize: 100, ExampleBytes: 10}, map[string]int{"train": 3, "validation": 1}},
		{"by size, one shard", shardPlan{ShardSize: 1 << 20, ExampleBytes: 10}, map[string]int{"train": 1, "validation": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, r := range rows {
				shard := int(keyHash(seed, "shard", r.Key) % uint64(tt.shards[r.Split]))
				want = append(want, fmt.Sprintf("%s/%05d %s shard %d", r.Split, shard, r.Key, shard))
			}
			p, s := beam.NewPipelineWithRoot()
			in := beam.CreateList(s, rows)
			keyed := assignShard(s, seed, tt.sharding, in, countRows(s, in))
			passert.Equals(s, beam.ParDo(s, formatKeyedRows, keyed), beam.CreateList(s, want))
			if err := ptest.Run(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func init() { register.Function3x0[string, rowBatch, func(string)](formatKeyedRows) }

func formatKeyedRows(key string, batch rowBatch, emit func(string)) {
	for _, row := range batch.Rows {
		emit(fmt.Sprintf("%s %s shard %d", key, row.Key, row.Shard))
	}
}

func TestDuplicateKeys(t *testing.T) {
	rows := []splitRow{{Line: 2, Key: "a"}, {Line: 5, Key: "a"}, {Line: 9, Key: "a"}, {Line: 3, Key: "b"}, {Line: 4, Key: "c"}, {Line: 7, Key: "c"}}
	kept, rejected, warnings := duplicateKeys(slices.Clone(rows), nil, false)
	if len(kept) != 6 || len(rejected) != 0 || len(warnings) != 3 {
		t.Fatalf("warn: got %d kept, %d rejected, %d warnings; want 6, 0, 3", len(kept), len(rejected), len(warnings))
	}
	if w := warnings[1]; w.Line != 9 || !strings.Contains(w.Reason, "first at line 2") {
		t.Errorf("got warning %+v, want line 9, first at line 2", w)
	}
	kept, rejected, warnings = duplicateKeys(slices.Clone(rows), nil, true)
	var keptLines, rejectedLines []int
	for _, r := range kept {
		keptLines = append(keptLines, r.Line)
	}
	for _, r := range rejected {
		rejectedLines = append(rejectedLines, r.Line)
		if r.Stage != dataset.StageLabel {
			t.Errorf("rejected at stage %s, want label", r.Stage)
		}
	}
	if !slices.Equal(keptLines, []int{2, 3, 4}) || !slices.Equal(rejectedLines, []int{5, 9, 7}) || len(warnings) != 0 {
		t.Errorf("reject: kept lines %v, rejected %v, %d warnings; want [2 3 4], [5 9 7], 0", keptLines, rejectedLines, len(warnings))
	}
}

// Size-based shard assignment spreads a split over shardBuckets groups: the
// largest holds a small part of the split, not all of it.
func TestShardBucketsSpread(t *testing.T) {
	const n = 1_000_000
	sizes := map[string]int{}
	fn := &bucketOfRowFn{Seed: 7}
	for i := range n {
		key, _ := fn.ProcessElement(splitRow{Key: fmt.Sprintf("row_%07d", i), Split: "train"})
		sizes[key]++
	}
	largest := 0
	for _, size := range sizes {
		largest = max(largest, size)
	}
	if len(sizes) != shardBuckets || largest > 2*n/shardBuckets {
		t.Errorf("got %d groups, the largest with %d rows, want %d groups of about %d rows", len(sizes), largest, shardBuckets, n/shardBuckets)
	}
}

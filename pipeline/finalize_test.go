package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

// iterOf returns a Beam-style iterator over values.
func iterOf[T any](values []T) func(*T) bool {
	i := 0
	return func(v *T) bool {
		if i == len(values) {
			return false
		}
		*v = values[i]
		i++
		return true
	}
}

// TestRetriedShardLeavesNoDuplicate runs the shard-writing DoFn twice for
// the same shard, as a runner does when it retries a bundle, and commits the
// second attempt's result only, as the runner does: one final shard, no
// temporary file left from either attempt.
func TestRetriedShardLeavesNoDuplicate(t *testing.T) {
	ctx := context.Background()
	spec := planetSpec(t)
	specJSON, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	temp := filepath.Join(out, ".tfprep-tmp-test")
	fn := &writeShardFn{Config: shardConfig{Spec: string(specJSON), Images: filepath.Join("testdata", "images"), TempDir: temp, Compression: "none", Seed: 1}}
	if err := fn.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	labels := [][]float32{{1, 0, 0, 0}, make([]float32, 13)}
	rows := []splitRow{
		{Line: 2, Key: "synth_00000", Image: "synth_00000.jpg", Labels: labels, Split: "train"},
		{Line: 3, Key: "synth_00001", Image: "synth_00001.jpg", Labels: labels, Split: "train"},
		{Line: 4, Key: "gone", Image: "gone.jpg", Labels: labels, Split: "train"},
	}
	var attempts []dataset.ShardResult
	var rejected []dataset.ErrorRecord
	for range 2 { // two bundles
		rejected = nil
		emit := func(r dataset.ShardResult) { attempts = append(attempts, r) }
		reject := func(e dataset.ErrorRecord) { rejected = append(rejected, e) }
		warn := func(w dataset.Warning) { t.Errorf("unexpected warning %+v", w) }
		fn.StartBundle(ctx, emit, reject, warn)
		err := fn.ProcessElement(ctx, "train/00000", iterOf([]rowBatch{{Rows: rows[:1]}, {Rows: rows[1:]}}), emit, reject, warn)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn.FinishBundle(ctx, emit, reject, warn); err != nil {
			t.Fatal(err)
		}
	}
	if len(attempts) != 2 || attempts[0].Temp == attempts[1].Temp {
		t.Fatalf("got attempts %+v, want two with distinct temporary names", attempts)
	}
	if attempts[0].CRC32C != attempts[1].CRC32C || attempts[0].Bytes != attempts[1].Bytes {
		t.Errorf("attempts wrote different bytes: %s, %s", attempts[0].CRC32C, attempts[1].CRC32C)
	}
	final := &finalizeFn{Config: finalizeConfig{
		Out: out, TempDir: temp, Spec: string(specJSON),
		Splits: []SplitWeight{{"train", 1}}, Sharding: shardPlan{Shards: 2}, Compression: "none",
	}}
	err = final.ProcessElement(ctx, 0, iterOf(attempts[1:]), iterOf(rejected),
		iterOf([]readCount{{File: "t.csv", Rows: 3}}), iterOf([]splitCount{{Split: "train", Rows: 3}}),
		iterOf([]warningSummary{combineWarnings([]dataset.Warning{{Line: 4, Key: "c", Reason: "all zero"}}, []dataset.Warning{{Line: 2, Key: "a", Reason: "all zero"}})}))
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.ReadManifest(out)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"dataset.json", "errors.csv", "train-00000-of-00002.tfrecord", "train-00001-of-00002.tfrecord"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("output directory (-want +got):\n%s", diff)
	}
	shards := m.Splits[0].Shards
	if shards[0].Records != 2 || shards[0].CRC32C != attempts[1].CRC32C || shards[1].Records != 0 {
		t.Errorf("got shards %+v, want the second attempt's 2 records and an empty shard", shards)
	}
	wantWarnings := []dataset.Warning{{Line: 2, Key: "a", Reason: "all zero"}, {Line: 4, Key: "c", Reason: "all zero"}}
	if diff := cmp.Diff(wantWarnings, m.Rows.Warnings); diff != "" || m.Rows.Warned != 2 {
		t.Errorf("got %d warned rows, listed (-want +got):\n%s", m.Rows.Warned, diff)
	}
	if got := m.Rows; got.Read != 3 || got.Written != 2 || got.RejectedByStage[dataset.StageIO] != 1 {
		t.Errorf("got rows %+v, want read 3 = written 2 + 1 io reject", got)
	}
}

// TestFinalizeInvariant feeds Finalize a row count that does not add up: it
// must fail and commit nothing.
func TestFinalizeInvariant(t *testing.T) {
	ctx := context.Background()
	spec := planetSpec(t)
	specJSON, err := spec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	temp := filepath.Join(out, ".tfprep-tmp-test")
	final := &finalizeFn{Config: finalizeConfig{
		Out: out, TempDir: temp, Spec: string(specJSON),
		Splits: []SplitWeight{{"train", 1}}, Sharding: shardPlan{Shards: 1}, Compression: "none",
	}}
	err = final.ProcessElement(ctx, 0, iterOf([]dataset.ShardResult(nil)), iterOf([]dataset.ErrorRecord(nil)),
		iterOf([]readCount{{File: "t.csv", Rows: 5}}), iterOf([]splitCount(nil)), iterOf([]warningSummary(nil)))
	if !errors.Is(err, dataset.ErrInvariant) {
		t.Fatalf("got %v, want ErrInvariant", err)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 0 {
		t.Errorf("failed finalize left %v", entries)
	}
}

// TestEmptySplitGetsShards: a split that receives no rows still has its
// shards, valid empty TFRecord files, so the layout does not depend on the
// data.
func TestEmptySplitGetsShards(t *testing.T) {
	cfg := testConfig(t, "good.csv")
	cfg.Splits = []SplitWeight{{"train", 1}, {"test", 1e-12}}
	m, err := Convert(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	test := m.Split("test")
	if test == nil || test.Records != 0 || len(test.Shards) != 2 {
		t.Fatalf("got split test %+v, want 2 empty shards", test)
	}
	if got := slices.Index(m.SplitNames(), "test"); got != 1 {
		t.Errorf("split test at %d, want 1 (the --splits order)", got)
	}
	readShards(t, cfg.Out, m, cfg.Spec)
}

// combineWarnings runs warningsFn as a runner does: one accumulator per
// bundle, merged.
func combineWarnings(bundles ...[]dataset.Warning) warningSummary {
	var fn warningsFn
	acc := fn.CreateAccumulator()
	for _, ws := range bundles {
		a := fn.CreateAccumulator()
		for _, w := range ws {
			a = fn.AddInput(a, w)
		}
		acc = fn.MergeAccumulators(acc, a)
	}
	return fn.ExtractOutput(acc)
}

func TestWarningsCombiner(t *testing.T) {
	n := 3*dataset.MaxWarnings + 7
	var all []dataset.Warning
	for i := range n {
		all = append(all, dataset.Warning{Line: (i*7919)%n + 2, Key: fmt.Sprint(i), Reason: "r"})
	}
	got := combineWarnings(all[:n/3], all[n/3:], nil)
	if got.Count != int64(n) || len(got.Lowest) != dataset.MaxWarnings {
		t.Fatalf("got %d warnings, %d kept, want %d, %d", got.Count, len(got.Lowest), n, dataset.MaxWarnings)
	}
	for i, w := range got.Lowest {
		if w.Line != i+2 {
			t.Fatalf("kept warning %d has line %d, want the lowest lines in order", i, w.Line)
		}
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
)

func TestReshardAndMerge(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	convert := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"convert", "--spec", "planet", "--csv", filepath.Join(convertData, "good.csv"),
			"--images", filepath.Join(convertData, "images"), "--out", out, "--shards", "2", "--seed", "11", "--quiet"}, extra...)
		if code, _, stderr := runCLI(t, args...); code != ExitOK {
			t.Fatalf("convert: exit %d: %s", code, stderr)
		}
	}
	convert(src)

	dst := filepath.Join(dir, "dst")
	code, stdout, stderr := runCLI(t, "reshard", src, dst, "--shards", "3", "--compression", "gzip")
	if code != ExitOK {
		t.Fatalf("reshard: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "rows: 14 read = 14 written + 0 rejected") {
		t.Errorf("reshard summary: got %q", stdout)
	}
	m, err := dataset.ReadManifest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if m.Seed != 11 || m.Compression != "gzip" || len(m.Splits[0].Shards) != 3 {
		t.Errorf("got seed %d, compression %s, %d shards; want SRC's seed 11, gzip, 3 shards", m.Seed, m.Compression, len(m.Splits[0].Shards))
	}
	if code, _, stderr := runCLI(t, "verify", dst); code != ExitOK {
		t.Errorf("verify DST: exit %d: %s", code, stderr)
	}

	other := filepath.Join(dir, "other")
	convert(other, "--size", "32")
	code, _, stderr = runCLI(t, "merge", src, other, filepath.Join(dir, "merged"))
	if code != ExitError || !strings.Contains(stderr, "different specs") || !strings.Contains(stderr, `"image"`) {
		t.Errorf("merge of different specs: exit %d, stderr %q; want 1 naming the image field", code, stderr)
	}
	if code, _, stderr := runCLI(t, "merge", src, dst, filepath.Join(dir, "merged")); code != ExitOK {
		t.Errorf("merge: exit %d: %s", code, stderr)
	}

	for _, args := range [][]string{
		{"reshard", src},
		{"merge", src, dst},
		{"reshard", src, filepath.Join(dir, "x"), "--shards", "2", "--compression", "gzip", "--index"},
		{"reshard", src, filepath.Join(dir, "y"), "--splits", "train"},
	} {
		if code, _, stderr := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d (%s), want %d", args, code, stderr, ExitUsage)
		}
	}
}

// TestReshardKeepsSplits: without --splits every record keeps its split;
// merge reports repeated keys as convert does (--duplicate-keys).
func TestReshardKeepsSplits(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if code, _, stderr := runCLI(t, "convert", "--spec", "planet", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", filepath.Join(convertData, "images"), "--out", src, "--splits", "train=0.5,validation=0.5", "--quiet"); code != ExitOK {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	dst := filepath.Join(dir, "dst")
	if code, _, stderr := runCLI(t, "reshard", src, dst, "--shards", "2", "--quiet"); code != ExitOK {
		t.Fatalf("reshard: exit %d: %s", code, stderr)
	}
	want, err := dataset.ReadManifest(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dataset.ReadManifest(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Splits) != 2 || got.Splits[0].Records != want.Splits[0].Records || got.Splits[1].Records != want.Splits[1].Records {
		t.Errorf("reshard without --splits: got splits %+v, want SRC's %+v", got.Splits, want.Splits)
	}

	code, stdout, _ := runCLI(t, "merge", src, dst, filepath.Join(dir, "warned"))
	if code != ExitOK || !strings.Contains(stdout, "warning: 14 rows kept") || !strings.Contains(stdout, "duplicate key") {
		t.Errorf("merge with repeated keys: exit %d, stdout %q; want 0 and a warning about 14 duplicate keys", code, stdout)
	}
	code, stdout, stderr := runCLI(t, "merge", src, dst, filepath.Join(dir, "rejected"), "--duplicate-keys", "reject")
	if code != ExitPartial || !strings.Contains(stdout, "14 written + 14 rejected (label 14)") || !strings.Contains(stderr, "errors.csv") {
		t.Errorf("merge --duplicate-keys reject: exit %d, stdout %q, stderr %q; want %d, 14 rejected", code, stdout, stderr, ExitPartial)
	}
	if code, _, _ := runCLI(t, "merge", src, dst, filepath.Join(dir, "x"), "--duplicate-keys", "drop"); code != ExitUsage {
		t.Errorf("--duplicate-keys drop: exit %d, want %d", code, ExitUsage)
	}
}

// TestReshardEncoding: a float32 dataset re-encoded as uint8 is read back
// by read (the trainer) and spec python as uint8; JPEG is refused.
func TestReshardEncoding(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	if code, _, stderr := runCLI(t, "convert", "--spec", "planet", "--csv", filepath.Join(convertData, "good.csv"),
		"--images", filepath.Join(convertData, "images"), "--out", src, "--quiet"); code != ExitOK {
		t.Fatalf("convert: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, "reshard", src, dst, "--encoding", "uint8", "--quiet"); code != ExitOK {
		t.Fatalf("reshard --encoding uint8: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, "spec", "python", dst); code != ExitOK || !strings.Contains(stdout, "tf.uint8") {
		t.Errorf("spec python DST: exit %d (%s), want code decoding uint8:\n%s", code, stderr, stdout)
	}
	if code, stdout, stderr := runCLI(t, "read", dst); code != ExitOK || !strings.Contains(stdout, "14") {
		t.Errorf("read DST: exit %d, stdout %q, stderr %q; want the 14 records read", code, stdout, stderr)
	}
	code, _, stderr := runCLI(t, "reshard", src, filepath.Join(dir, "jpeg"), "--encoding", "jpeg")
	if code != ExitUsage || !strings.Contains(stderr, "JPEG is lossy") {
		t.Errorf("--encoding jpeg: exit %d, stderr %q; want %d saying JPEG is lossy", code, stderr, ExitUsage)
	}
}

// TestRewriteRefusesAsync: reshard and merge hold the output's lease while
// their job runs, so they refuse Beam's --async (which would return at the
// submission) with a usage error naming the flag, before anything is
// written.
func TestRewriteRefusesAsync(t *testing.T) {
	resetGlobalFlags(t, "async")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"reshard", filepath.Join(dir, "src"), filepath.Join(dir, "dst"), "--seed", "1", "--async"},
		{"merge", filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "dst"), "--seed", "1", "--async"},
	} {
		code, _, stderr := runCLI(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, "--async") {
			t.Errorf("%q: exit %d, stderr %q; want %d naming --async", args, code, stderr, ExitUsage)
		}
		if _, err := os.Stat(filepath.Join(dir, "dst")); err == nil {
			t.Errorf("%q created its output", args)
		}
	}
}

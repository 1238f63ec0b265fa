package dataset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlural(t *testing.T) {
	for _, tt := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "shard", "1 shard"}, {0, "shard", "0 shards"}, {2, "file", "2 files"},
		{1, "discrepancy", "1 discrepancy"}, {3, "discrepancy", "3 discrepancies"},
	} {
		if got := plural(tt.n, tt.noun); got != tt.want {
			t.Errorf("plural(%d, %q) = %q, want %q", tt.n, tt.noun, got, tt.want)
		}
	}
}

func TestVerifyReportText(t *testing.T) {
	tests := []struct {
		r    VerifyReport
		want string
	}{
		{VerifyReport{Dir: "out", OK: true, Complete: true, Splits: 1, Shards: 1, Records: 1, Rows: Rows{Read: 1, Written: 1}},
			"out: ok: 1 split, 1 shard, 1 record; rows read 1 = written 1 + rejected 0\n"},
		{VerifyReport{Dir: "out", OK: true, Complete: true, Splits: 2, Shards: 4, Records: 40, Rows: Rows{Read: 41, Written: 40, Rejected: 1}},
			"out: ok: 2 splits, 4 shards, 40 records; rows read 41 = written 40 + rejected 1\n"},
		{VerifyReport{Dir: "gs://b/out", Complete: true, Discrepancies: []Discrepancy{{File: "train-00000-of-00001.tfrecord", Check: "sha256", Detail: "differs"}}},
			"gs://b/out/train-00000-of-00001.tfrecord: sha256: differs\ngs://b/out: FAILED: 1 discrepancy\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := tt.r.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if got := b.String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

func TestCreateRefusesOneFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Create(context.Background(), dir, false)
	if !errors.Is(err, ErrOutputExists) || !strings.Contains(err.Error(), "holds 1 file (such as notes.txt)") {
		t.Errorf("got %v, want ErrOutputExists saying it holds 1 file", err)
	}
}

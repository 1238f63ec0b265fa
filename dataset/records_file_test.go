package dataset

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	objstore "github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

func TestGlobBucket(t *testing.T) {
	ctx := context.Background()
	dir, err := objstore.Open(ctx, "mem://globtest")
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for _, name := range []string{"out/train-0.tfrecord", "out/train-1.tfrecord", "out/validation-0.tfrecord", "out/sub/train-9.tfrecord", "other/train-2.tfrecord"} {
		var b strings.Builder
		w, _ := tfrecord.NewWriter(&b, nil)
		w.Write([]byte(name))
		w.Close()
		if err := dir.WriteFile(ctx, name, []byte(b.String()), nil); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		patterns []string
		want     []string // "" prefix: mem://globtest/
		err      string
	}{
		{[]string{"out/train-*"}, []string{"out/train-0.tfrecord", "out/train-1.tfrecord"}, ""},
		{[]string{"*/train-[02].tfrecord"}, []string{"other/train-2.tfrecord", "out/train-0.tfrecord"}, ""},
		{[]string{"out/*/train-*", "out/validation-0.tfrecord"}, []string{"out/sub/train-9.tfrecord", "out/validation-0.tfrecord"}, ""},
		{[]string{"out/missing.tfrecord"}, []string{"out/missing.tfrecord"}, ""}, // kept for opening to report
		{[]string{"out/test-*"}, nil, `no files match "mem://globtest/out/test-*"`},
		{[]string{"out/[-"}, nil, "bad glob"},
	}
	for _, tt := range tests {
		var patterns []string
		for _, p := range tt.patterns {
			patterns = append(patterns, "mem://globtest/"+p)
		}
		got, err := Glob(ctx, patterns)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: got %v, %v; want an error with %q", tt.patterns, got, err, tt.err)
			}
			continue
		}
		var want []string
		for _, w := range tt.want {
			want = append(want, "mem://globtest/"+w)
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q, %v; want %q", tt.patterns, got, err, want)
		}
	}
	f, err := OpenRecords(ctx, "mem://globtest/out/train-1.tfrecord", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rec, err := f.Next(); err != nil || string(rec) != "out/train-1.tfrecord" {
		t.Errorf("OpenRecords: got %q, %v; want the record written", rec, err)
	}
	if _, err := f.Next(); err != io.EOF {
		t.Errorf("OpenRecords: got %v after the last record, want io.EOF", err)
	}
}

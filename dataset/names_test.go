package dataset

import (
	"errors"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
)

func TestShardName(t *testing.T) {
	tests := []struct {
		split string
		i, n  int
		c     tfrecord.Compression
		want  string
	}{
		{"train", 0, 1, tfrecord.None, "train-00000-of-00001.tfrecord"},
		{"train", 41, 128, tfrecord.GZIP, "train-00041-of-00128.tfrecord.gz"},
		{"validation", 9, 10, tfrecord.ZLIB, "validation-00009-of-00010.tfrecord.zz"},
		{"test", 99999, 100000, tfrecord.None, "test-99999-of-100000.tfrecord"},
	}
	for _, tt := range tests {
		got := ShardName(tt.split, tt.i, tt.n, tt.c)
		if got != tt.want {
			t.Errorf("ShardName(%q, %d, %d, %v) = %q, want %q", tt.split, tt.i, tt.n, tt.c, got, tt.want)
		}
		info, err := ParseShardName(got)
		if err != nil {
			t.Errorf("ParseShardName(%q): %v", got, err)
			continue
		}
		if want := (ShardInfo{tt.split, tt.i, tt.n, tt.c}); info != want {
			t.Errorf("ParseShardName(%q) = %+v, want %+v", got, info, want)
		}
	}
}

func TestParseShardNameErrors(t *testing.T) {
	for _, name := range []string{
		"",
		"train-00000-of-00001",
		"train-00000-of-00001.tfrecord.bz2",
		"train-0-of-1.tfrecord",
		"train-000001-of-000002.tfrecord",
		"train-00001-of-00001.tfrecord",
		"train-00002-of-00001.tfrecord",
		"-00000-of-00001.tfrecord",
		"my-split-00000-of-00001.tfrecord",
		"dir/train-00000-of-00001.tfrecord",
		"train-00000-of-00001.tfrecord.idx",
	} {
		if _, err := ParseShardName(name); !errors.Is(err, ErrShardName) {
			t.Errorf("ParseShardName(%q): got %v, want ErrShardName", name, err)
		}
	}
}

func TestValidSplitName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"train", true}, {"validation", true}, {"fold_3", true}, {"T", true},
		{"", false}, {"3fold", false}, {"val-1", false}, {"a/b", false}, {"train ", false},
		{"x123456789012345678901234567890123456789012345678901234567890123", true},
		{"x1234567890123456789012345678901234567890123456789012345678901234", false},
	}
	for _, tt := range tests {
		if err := ValidSplitName(tt.name); (err == nil) != tt.ok {
			t.Errorf("ValidSplitName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func FuzzParseShardName(f *testing.F) {
	f.Add("train-00000-of-00001.tfrecord")
	f.Add("validation-00003-of-00010.tfrecord.gz")
	f.Add("x-99999-of-100000.tfrecord.zz")
	f.Fuzz(func(t *testing.T, name string) {
		info, err := ParseShardName(name)
		if err != nil {
			if !errors.Is(err, ErrShardName) {
				t.Fatalf("got %v, want ErrShardName", err)
			}
			return
		}
		if got := ShardName(info.Split, info.Index, info.Count, info.Compression); got != name {
			t.Fatalf("ShardName(ParseShardName(%q)) = %q", name, got)
		}
	})
}

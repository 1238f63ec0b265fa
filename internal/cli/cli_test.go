package cli

import (
	"flag"
	"reflect"
	"testing"
)

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args      []string
		wantPos   []string
		wantLimit int
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, 0},
		{[]string{"--limit", "3", "a"}, []string{"a"}, 3},
		{[]string{"a", "--limit=4", "b"}, []string{"a", "b"}, 4},
		{[]string{"a", "--", "--limit=5"}, []string{"a", "--limit=5"}, 0},
		{[]string{"--", "-x"}, []string{"-x"}, 0},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		limit := fs.Int("limit", 0, "")
		got, err := parseInterleaved(fs, tt.args)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if !reflect.DeepEqual(got, tt.wantPos) || *limit != tt.wantLimit {
			t.Errorf("%q: got %q limit %d, want %q limit %d", tt.args, got, *limit, tt.wantPos, tt.wantLimit)
		}
	}
}

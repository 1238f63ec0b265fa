package cli

import (
	"context"
	"flag"
	"reflect"
	"strings"
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

func TestCommandHelpSeparatesInheritedFlags(t *testing.T) {
	flag.CommandLine.String("help_test_global", "", "a global flag")
	c := &Command{Name: "x", Args: "ARG", Short: "does x",
		Flags: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
			fs.Int("own", 7, "an own flag")
			inheritGlobalFlags(fs)
			return nil
		}}
	var b strings.Builder
	commandHelp(&b, c)
	got := b.String()
	own, beam, ok := strings.Cut(got, "Apache Beam pipeline flags")
	if !ok {
		t.Fatalf("help has no Beam section:\n%s", got)
	}
	if !strings.Contains(own, "-own int") || !strings.Contains(own, "(default 7)") {
		t.Errorf("own flags section lacks -own with its default:\n%s", own)
	}
	if strings.Contains(own, "help_test_global") {
		t.Errorf("inherited flag listed among the command's own flags:\n%s", own)
	}
	if !strings.Contains(beam, "--help_test_global") {
		t.Errorf("Beam section lacks --help_test_global:\n%s", beam)
	}
}

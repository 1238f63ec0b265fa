package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/tfrecord"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func TestVerifyCorpus(t *testing.T) {
	entries := readCorpusManifest(t)
	t.Chdir(corpusDir)
	code, stdout, stderr := runTool(t, append([]string{"verify"}, corpusNames(entries)...)...)
	if code != ExitOK {
		t.Fatalf("verify: exit %d, stderr %s", code, stderr)
	}
	checkGolden(t, "verify.golden", stdout)

	r, err := tfrecord.VerifyFiles(context.Background(), corpusNames(entries), tfrecord.VerifyOptions{IsExample: func(rec []byte) bool { p, err := example.Parse(rec, true); return err == nil && len(p.Features) > 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || !r.Complete || len(r.Files) != len(entries) {
		t.Fatalf("got ok %v, complete %v, %d files; want ok, complete, %d files", r.OK, r.Complete, len(r.Files), len(entries))
	}
	for i, e := range entries {
		f := r.Files[i]
		wantExamples, wantRaw := e.RecordCount, int64(0)
		if e.Message != "tensorflow.Example" {
			wantExamples, wantRaw = 0, e.RecordCount
		}
		got := fmt.Sprintf("%s %d records, %d Examples, %d raw, %d bytes", strings.ToUpper(f.Compression), f.Records, f.Examples, f.Raw, f.Bytes)
		want := fmt.Sprintf("%s %d records, %d Examples, %d raw, %d bytes", e.Compression, e.RecordCount, wantExamples, wantRaw, e.PayloadBytes)
		if got != want {
			t.Errorf("%s: got %s, want %s", e.File, got, want)
		}
		if f.StreamBytes != f.Bytes+16*f.Records {
			t.Errorf("%s: stream of %d bytes, want %d payload bytes + 16 per record", e.File, f.StreamBytes, f.Bytes)
		}
	}
}

// recordStarts returns the offset of each record of a corpus file from the
// manifest's record lengths.
func recordStarts(lengths []int) []int64 {
	starts := make([]int64, len(lengths)+1)
	for i, n := range lengths {
		starts[i+1] = starts[i] + int64(n) + 16
	}
	return starts
}

// Flipping any byte of a file makes verify fail naming the damaged record,
// and --recover read every other record.
func TestVerifyFlippedByte(t *testing.T) {
	var e corpusEntry
	for _, c := range readCorpusManifest(t) {
		if c.File == "ecosystem_hadoop_tf-records_part-m-00000" {
			e = c
		}
	}
	good, err := os.ReadFile(filepath.Join(corpusDir, e.File))
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(e.Lengths) // all five records
	if starts[len(starts)-1] != int64(len(good)) {
		t.Fatalf("record lengths %v do not add up to the file's %d bytes", e.Lengths, len(good))
	}
	t.Chdir(t.TempDir())
	path := "flipped.tfrecord"
	for pos := range good {
		record := 0
		for starts[record+1] <= int64(pos) {
			record++
		}
		bad := append([]byte{}, good...)
		bad[pos] ^= 0x20
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("flipped.tfrecord:%d (record %d): corrupt record", starts[record], record)

		code, stdout, _ := runTool(t, "verify", path)
		if code != ExitError || !strings.Contains(stdout, want) {
			t.Fatalf("byte %d flipped: got exit %d and\n%s\nwant exit 1 naming %q", pos, code, stdout, want)
		}
		code, stdout, _ = runTool(t, "verify", "--recover", "--json", path)
		var r tfrecord.FilesReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("byte %d flipped: --json: %v", pos, err)
		}
		f := r.Files[0]
		if code != ExitError || f.Records != e.RecordCount-1 || !f.Complete || len(f.Damage) != 1 ||
			f.Damage[0].Offset != starts[record] || f.Damage[0].Length != starts[record+1]-starts[record] {
			t.Fatalf("byte %d flipped, --recover: got exit %d, %d records, complete %v, damage %+v; want exit 1, %d records, complete, bytes %d..%d skipped",
				pos, code, f.Records, f.Complete, f.Damage, e.RecordCount-1, starts[record], starts[record+1])
		}
	}
}

func TestVerifyDamage(t *testing.T) {
	t.Chdir(t.TempDir())
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	eco := read("ecosystem_hadoop_tf-records_part-m-00000")
	flipped := append([]byte{}, eco...)
	flipped[86+12+5] ^= 1 // in record 2's data
	write("flipped.tfrecord", flipped)
	write("truncated.tfrecord", eco[:150]) // inside record 3
	gz := read("tfx_penguin_Split-eval_data_tfrecord-00000-of-00001.gz")
	gz[1200] ^= 0xff // in the deflate data
	write("damaged.gz", gz)
	write("empty.tfrecord", nil)
	write("foo.tfrecord", read("beam_python_foo.tfrecord"))
	foo := "foo.tfrecord"

	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"flipped", []string{"flipped.tfrecord", foo}, ExitError},
		{"flipped all", []string{"--all", "flipped.tfrecord", foo}, ExitError},
		{"flipped recover", []string{"--recover", "flipped.tfrecord", foo}, ExitError},
		{"flipped recover json", []string{"--recover", "--json", "flipped.tfrecord"}, ExitError},
		{"truncated", []string{"truncated.tfrecord"}, ExitError},
		{"truncated recover", []string{"--recover", "truncated.tfrecord"}, ExitError},
		{"damaged gzip", []string{"damaged.gz"}, ExitError},
		{"damaged gzip recover", []string{"--recover", "damaged.gz"}, ExitError},
		{"missing and empty", []string{"--all", "missing.tfrecord", "empty.tfrecord"}, ExitError},
		{"empty", []string{"empty.tfrecord"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runTool(t, append([]string{"verify"}, tt.args...)...)
			if code != tt.wantCode {
				t.Errorf("got exit %d, want %d; stderr %s", code, tt.wantCode, stderr)
			}
			checkGolden(t, "verify-"+strings.ReplaceAll(tt.name, " ", "-")+".golden", stdout)
		})
	}
}

func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"verify"}, ExitUsage, "no files or directory given"},
		{[]string{"verify", "."}, ExitError, ". is a directory, not a TFRecord file (a dataset directory, with dataset.json, is verified on its own)"},
		{[]string{"verify", "--bogus", "x"}, ExitUsage, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		code, _, stderr := runTool(t, tt.args...)
		if code != tt.wantCode || !strings.Contains(stderr, tt.want) {
			t.Errorf("%q: got exit %d and stderr %q, want %d and %q", tt.args, code, stderr, tt.wantCode, tt.want)
		}
	}
	if err := os.WriteFile("dataset.json", []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runTool(t, "verify", "--recover", ".")
	if code != ExitUsage || !strings.Contains(stderr, "--recover is for TFRecord files") {
		t.Errorf("verify --recover DIR: got exit %d and stderr %q, want a usage error", code, stderr)
	}
}

func TestHelpOfFileCommands(t *testing.T) {
	for _, name := range []string{"count", "verify", "cat"} {
		code, stdout, _ := runTool(t, "help", name)
		if code != ExitOK || !strings.Contains(stdout, "Examples:\n  tfprep "+name) || !strings.Contains(stdout, "Flags:") {
			t.Errorf("help %s: got exit %d and\n%s\nwant examples and flags", name, code, stdout)
		}
	}
}

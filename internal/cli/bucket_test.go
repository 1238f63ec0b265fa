package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

// TestFileCommandsOnBuckets runs cat, count and verify on TFRecord files
// and globs in the GCS and the S3 emulator, and checks that they print what
// they print for the same files on local disk; cat decodes a shard by the
// spec of the dataset beside it.
func TestFileCommandsOnBuckets(t *testing.T) {
	ctx := context.Background()
	corpus := []string{"beam_python_foo_bar.tfrecord", "tfx_penguin_Split-eval_data_tfrecord-00000-of-00001.gz"}
	fixtureDir := writeFixture(t, fixture{encoding: "png"})
	shard := dataset.ShardName("validation", 0, 1, tfrecord.None)
	local := func(args ...string) string {
		t.Helper()
		t.Chdir(corpusDir)
		code, stdout, stderr := runTool(t, args...)
		if code != ExitOK {
			t.Fatalf("local %q: exit %d: %s", args, code, stderr)
		}
		return stdout
	}
	wantCat := local("cat", "--limit", "3", corpus[1])
	wantDecoded := local("cat", filepath.Join(fixtureDir, shard))
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"gs", func(t *testing.T) string { return storagetest.StartGCS(t, "b").Location(t, "b", "data") }},
		{"s3", func(t *testing.T) string { return storagetest.StartS3(t, "b").Location(t, "b", "data") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loc := tc.start(t)
			at := func(name string) string { return storagetest.Join(loc, name) }
			dir, err := storage.Open(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			upload := func(name, path string) {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := dir.WriteFile(ctx, name, data, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range corpus {
				upload("corpus/"+name, filepath.Join(corpusDir, name))
			}
			entries, err := os.ReadDir(fixtureDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				upload("ds/"+e.Name(), filepath.Join(fixtureDir, e.Name()))
			}
			run := func(want int, args ...string) string {
				t.Helper()
				code, stdout, stderr := runTool(t, args...)
				if code != want {
					t.Fatalf("%q: got exit %d, want %d: %s", args, code, want, stderr)
				}
				return stdout
			}

			var counted dataset.RecordCounts
			if err := json.Unmarshal([]byte(run(ExitOK, "count", "--json", at("corpus/*"))), &counted); err != nil {
				t.Fatal(err)
			}
			if len(counted.Files) != 2 || counted.Files[0].File != at("corpus/"+corpus[0]) || counted.Records != 2+100 {
				t.Errorf("count corpus/*: got %+v, want %s and %s, 102 records", counted, corpus[0], corpus[1])
			}
			if got := run(ExitOK, "cat", "--limit", "3", at("corpus/"+corpus[1])); got != wantCat {
				t.Errorf("cat: got\n%s\nwant (as from local disk)\n%s", got, wantCat)
			}
			if got := run(ExitOK, "cat", at("ds/"+shard)); got != wantDecoded || !strings.Contains(got, `"key":"chip_5"`) {
				t.Errorf("cat of a dataset's shard: got\n%s\nwant (decoded, as from local disk)\n%s", got, wantDecoded)
			}

			var verified tfrecord.FilesReport
			if err := json.Unmarshal([]byte(run(ExitOK, "verify", "--json", at("corpus/*"), at("ds/train-*"))), &verified); err != nil {
				t.Fatal(err)
			}
			if !verified.OK || len(verified.Files) != 4 || verified.Records != 2+100+5 || verified.Files[1].Compression != "gzip" ||
				verified.Files[1].FileBytes != fileSize(t, filepath.Join(corpusDir, corpus[1])) {
				t.Errorf("verify FILE...: got %+v, want 4 files, 107 records, the gzip file's size", verified)
			}
			if out := run(ExitOK, "verify", at("ds")); !strings.Contains(out, "ok: 2 splits, 3 shards, 7 records") {
				t.Errorf("verify DIR: got %s", out)
			}
			// The commands that read a dataset directory print for the bucket
			// what they print for the same dataset on local disk, but for its
			// location.
			for _, args := range [][]string{
				{"stats"}, {"read", "--batch", "2"}, {"spec", "python"}, {"verify", "--quick"},
			} {
				want := sameOutput(local(append(args, fixtureDir)...), "")
				got := sameOutput(run(ExitOK, append(args, at("ds"))...), at("ds"), fixtureDir)
				if got != want {
					t.Errorf("%q on the bucket:\n%s\nwant, as on local disk:\n%s", args, got, want)
				}
			}
			sheet := filepath.Join(t.TempDir(), "sheet.png")
			run(ExitOK, "preview", "-n", "4", "-o", sheet, at("ds"))
			if fileSize(t, sheet) == 0 {
				t.Error("preview of the bucket dataset wrote an empty sheet")
			}
			if _, _, stderr := runTool(t, "count", at("corpus/*.nothing")); !strings.Contains(stderr, "no files match") {
				t.Errorf("count of a glob matching nothing: got %s", stderr)
			}
			if code, _, stderr := runTool(t, "cat", at("corpus/missing.tfrecord")); code != ExitError || !strings.Contains(stderr, "missing.tfrecord") {
				t.Errorf("cat of a missing object: got exit %d, %s; want 1 naming the object", code, stderr)
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// sameOutput makes a command's output comparable across locations: the
// location and its name without a query are replaced by the local directory
// (pairs of old, new), and lines of measured speed are dropped.
func sameOutput(out string, replace ...string) string {
	for i := 0; i+1 < len(replace); i += 2 {
		base, _, _ := strings.Cut(replace[i], "?")
		out = strings.ReplaceAll(strings.ReplaceAll(out, replace[i], replace[i+1]), base, replace[i+1])
	}
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "examples/s") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

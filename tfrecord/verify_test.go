package tfrecord

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeRecords writes records to dir/name, uncompressed, and returns the path.
func writeRecords(t *testing.T, dir, name string, records ...string) string {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		if err := w.Write([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyFiles(t *testing.T) {
	dir := t.TempDir()
	good := writeRecords(t, dir, "good.tfrecord", "ex:a", "raw", "ex:bc")
	bad := writeRecords(t, dir, "bad.tfrecord", "one", "two", "three")
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	data[19+16] ^= 1 // the second record's payload ("one" is 3+16 bytes)
	if err := os.WriteFile(bad, data, 0o644); err != nil {
		t.Fatal(err)
	}
	isExample := func(p []byte) bool { return bytes.HasPrefix(p, []byte("ex:")) }
	ctx := context.Background()

	r, err := VerifyFiles(ctx, []string{good, bad, good}, VerifyOptions{IsExample: isExample})
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.Complete || len(r.Files) != 2 || r.Records != 4 || r.Examples != 2 || r.Raw != 2 || r.Bytes != 15 {
		t.Errorf("stopping at damage: got %+v, want not ok, incomplete, 2 files, 4 records (2 Examples, 2 raw), 15 bytes", r)
	}
	if d := r.Files[1].Damage; len(d) != 1 || d[0].Offset != 19 || d[0].Record != 1 || d[0].Length != -1 {
		t.Errorf("got damage %v, want one at offset 19, record 1, where reading stopped", d)
	}

	r, err = VerifyFiles(ctx, []string{bad, good}, VerifyOptions{Recover: true})
	if err != nil {
		t.Fatal(err)
	}
	f := r.Files[0]
	if r.OK || !r.Complete || f.Records != 2 || !f.Complete || len(f.Damage) != 1 || f.Damage[0].Length != 19 || r.Examples != 0 {
		t.Errorf("recovering: got %+v, file %+v; want 2 records of the damaged file, 19 bytes skipped, no Examples", r, f)
	}
	if got, want := f.Damage[0].String(), bad+":19 (record 1): corrupt record: data checksum mismatch: stored 0x09c99189, computed 0x09c99089 over 3 bytes; skipped 19 bytes"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}

	r, err = VerifyFiles(ctx, []string{filepath.Join(dir, "missing")}, VerifyOptions{})
	if err != nil || r.OK || r.Files[0].Damage[0].Offset != -1 {
		t.Errorf("missing file: got %+v, %v; want damage without an offset", r, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := VerifyFiles(cancelled, []string{good}, VerifyOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}

func TestGlob(t *testing.T) {
	dir := t.TempDir()
	b := writeRecords(t, dir, "b.tfrecord", "x")
	a := writeRecords(t, dir, "a.tfrecord", "x")
	if err := os.Mkdir(filepath.Join(dir, "c.tfrecord"), 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	got, err := Glob([]string{filepath.Join(dir, "*.tfrecord"), missing, b})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{a, b, missing, b}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{filepath.Join(dir, "*.none"), filepath.Join(dir, "c.tfrecord"), "[" + dir} {
		if _, err := Glob([]string{bad}); err == nil {
			t.Errorf("Glob(%q): got no error", bad)
		}
	}
}

func TestFilesReportTextPlurals(t *testing.T) {
	r := &FilesReport{OK: true, Complete: true, Paths: 1, Records: 1, Examples: 1, Bytes: 1,
		Files: []FileReport{{File: "a.tfrecord", Compression: "none", Records: 1, Examples: 1, Bytes: 1, FileBytes: 17, Complete: true}}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := "ok: 1 file, 1 record (1 Example, 0 raw), 1 payload byte\n"; !strings.HasSuffix(b.String(), want) {
		t.Errorf("got\n%s\nwant it to end with %q", b.String(), want)
	}
}

package tfrecordio_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/tfprep/tfprep/pipeline/tfrecordio"
	"github.com/tfprep/tfprep/tfrecord"
)

// testRecords returns n distinct records of about size bytes.
func testRecords(n, size int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "record %04d %s", i, strings.Repeat("x", size))
	}
	return out
}

// write runs a pipeline writing records under dir/data and returns the
// names of the files in dir.
func write(t *testing.T, dir string, records [][]byte, opts tfrecordio.WriteOptions, wantFiles int) []string {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	files := tfrecordio.Write(s, filepath.Join(dir, "data"), beam.CreateList(s, records), opts)
	passert.Count(s, files, "files", wantFiles)
	ptest.RunAndValidate(t, p)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// readFile returns the records of one file.
func readFile(t *testing.T, path string) [][]byte {
	t.Helper()
	r, err := tfrecord.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]byte
	for {
		rec, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, rec)
	}
}

func TestWriteThenRead(t *testing.T) {
	records := testRecords(200, 100)
	for _, tc := range []struct {
		name      string
		opts      tfrecordio.WriteOptions
		wantFiles int
		suffix    string
	}{
		{"shards", tfrecordio.WriteOptions{Shards: 4}, 4, ".tfrecord"},
		{"gzip", tfrecordio.WriteOptions{Shards: 3, Compression: tfrecord.GZIP, Seed: 7}, 3, ".tfrecord.gz"},
		{"zlib", tfrecordio.WriteOptions{Shards: 1, Compression: tfrecord.ZLIB}, 1, ".tfrecord.zz"},
		// 200 records of 128 bytes framed: 25,600 bytes in shards of 5,000.
		{"size", tfrecordio.WriteOptions{ShardSize: 5000}, 6, ".tfrecord"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			names := write(t, dir, records, tc.opts, tc.wantFiles)
			var want []string
			for i := range tc.wantFiles {
				want = append(want, fmt.Sprintf("data-%05d-of-%05d%s", i, tc.wantFiles, tc.suffix))
			}
			// No temporary directory or file is left.
			if !slices.Equal(names, want) {
				t.Fatalf("files: got %v, want %v", names, want)
			}
			var all [][]byte
			for _, name := range names {
				all = append(all, readFile(t, filepath.Join(dir, name))...)
			}
			if len(all) != len(records) {
				t.Errorf("got %d records in the files, want %d", len(all), len(records))
			}

			p, s := beam.NewPipelineWithRoot()
			read := tfrecordio.Read(s, beam.Create(s, filepath.Join(dir, "data-*")), tfrecordio.ReadOptions{})
			passert.Equals(s, read, beam.CreateList(s, records))
			ptest.RunAndValidate(t, p)
		})
	}
}

// The files depend on the records, the options and the seed only: the same
// records given in another order make byte-identical files, and another
// seed places them differently.
func TestWriteIsDeterministic(t *testing.T) {
	records := testRecords(300, 20)
	reversed := slices.Clone(records)
	slices.Reverse(reversed)
	opts := tfrecordio.WriteOptions{Shards: 3, Compression: tfrecord.GZIP, Seed: 1}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	names := write(t, a, records, opts, 3)
	write(t, b, reversed, opts, 3)
	opts.Seed = 2
	write(t, c, records, opts, 3)
	sameAsOtherSeed := true
	for _, name := range names {
		da, _ := os.ReadFile(filepath.Join(a, name))
		db, _ := os.ReadFile(filepath.Join(b, name))
		dc, _ := os.ReadFile(filepath.Join(c, name))
		if !bytes.Equal(da, db) {
			t.Errorf("%s differs between two runs of the same records", name)
		}
		sameAsOtherSeed = sameAsOtherSeed && bytes.Equal(da, dc)
	}
	if sameAsOtherSeed {
		t.Error("seeds 1 and 2 wrote the same files")
	}
}

// Shard numbers without records get empty, valid files.
func TestWriteEmpty(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      tfrecordio.WriteOptions
		wantFiles int
	}{
		{"shards", tfrecordio.WriteOptions{Shards: 2, Compression: tfrecord.GZIP}, 2},
		{"size", tfrecordio.WriteOptions{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p, s := beam.NewPipelineWithRoot()
			files := tfrecordio.Write(s, filepath.Join(dir, "data"), beam.CreateList(s, [][]byte{}), tc.opts)
			passert.Count(s, files, "files", tc.wantFiles)
			ptest.RunAndValidate(t, p)
			names, _ := filepath.Glob(filepath.Join(dir, "*"))
			if len(names) != tc.wantFiles {
				t.Fatalf("got files %v, want %d", names, tc.wantFiles)
			}
			for _, name := range names {
				if got := readFile(t, name); len(got) != 0 {
					t.Errorf("%s: got %d records, want 0", name, len(got))
				}
			}
		})
	}
}

// Read takes files of every compression in one collection, detecting each.
func TestReadMixedCompression(t *testing.T) {
	dir := t.TempDir()
	records := testRecords(30, 10)
	for i, c := range []tfrecord.Compression{tfrecord.None, tfrecord.GZIP, tfrecord.ZLIB} {
		var buf bytes.Buffer
		w, err := tfrecord.NewWriter(&buf, &tfrecord.WriterOptions{Compression: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range records[i*10 : i*10+10] {
			w.Write(r)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// No suffix: compression is detected from the bytes.
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part%d", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, s := beam.NewPipelineWithRoot()
	read := tfrecordio.Read(s, beam.Create(s, filepath.Join(dir, "part0"), filepath.Join(dir, "part[12]")), tfrecordio.ReadOptions{})
	passert.Equals(s, read, beam.CreateList(s, records))
	ptest.RunAndValidate(t, p)
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	w, _ := tfrecord.NewWriter(&buf, nil)
	w.Write([]byte("a record long enough to flip a byte in"))
	w.Close()
	damaged := buf.Bytes()
	damaged[20] ^= 0xff
	corrupt := filepath.Join(dir, "corrupt.tfrecord")
	if err := os.WriteFile(corrupt, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pattern, want string
	}{
		{"corrupt", corrupt, corrupt + ": tfrecord: record 0 at offset 0: corrupt record"},
		{"missing", filepath.Join(dir, "missing.tfrecord"), tfrecordio.ErrNoMatch.Error() + ": " + filepath.Join(dir, "missing.tfrecord")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			tfrecordio.Read(s, beam.Create(s, tc.pattern), tfrecordio.ReadOptions{})
			err := ptest.Run(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// A wildcard that matches nothing reads nothing.
	p, s := beam.NewPipelineWithRoot()
	read := tfrecordio.Read(s, beam.Create(s, filepath.Join(dir, "none-*")), tfrecordio.ReadOptions{})
	passert.Empty(s, read)
	ptest.RunAndValidate(t, p)
}

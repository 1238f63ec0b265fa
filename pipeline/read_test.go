package pipeline

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/dataset"
)

// scanned is what scanCSV reported for one line: a record or an error.
type scanned struct {
	Line   int
	Record []string
	Err    string
}

func scanAll(t testing.TB, data string) ([]string, []scanned, error) {
	var got []scanned
	header, err := scanCSV("t.csv", []byte(data), func(line int, record []string, err error) {
		s := scanned{Line: line, Record: record}
		if err != nil {
			s.Err = err.Error()
		}
		got = append(got, s)
	})
	return header, got, err
}

func TestScanCSV(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []scanned
	}{
		{"plain", "k,v\na,1\nb,2\n", []scanned{{2, []string{"a", "1"}, ""}, {3, []string{"b", "2"}, ""}}},
		{"no final newline, CRLF, BOM", "\ufeffk,v\r\na,1\r\nb,2", []scanned{{2, []string{"a", "1"}, ""}, {3, []string{"b", "2"}, ""}}},
		{"quoted newline keeps start line", "k,v\n\"a\nb\",1\nc,2\n", []scanned{{2, []string{"a\nb", "1"}, ""}, {4, []string{"c", "2"}, ""}}},
		{"blank lines skipped", "k,v\n\na,1\n\n\nb,2\n", []scanned{{3, []string{"a", "1"}, ""}, {6, []string{"b", "2"}, ""}}},
		{"bare quote", "k,v\na\"x,1\nb,2\n", []scanned{{2, nil, `t.csv: line 2, column 2: bare " in non-quoted-field`}, {3, []string{"b", "2"}, ""}}},
		{"field count", "k,v\na\nb,2,3\nc,3\n", []scanned{
			{2, nil, `t.csv: line 2: wrong number of fields: got 1 fields, want 2 (header ["k" "v"])`},
			{3, nil, `t.csv: line 3: wrong number of fields: got 3 fields, want 2 (header ["k" "v"])`},
			{4, []string{"c", "3"}, ""}}},
		{"unterminated quote resyncs", "k,v\na,\"1\nb,2\nc,3\n", []scanned{
			{2, nil, `t.csv: line 2: extraneous or missing " in quoted-field (the record runs on to line 4, column 5)`},
			{3, []string{"b", "2"}, ""}, {4, []string{"c", "3"}, ""}}},
		{"quote then text", "k,v\na,\"1\"x\nb,2\n", []scanned{
			{2, nil, `t.csv: line 2, column 5: extraneous or missing " in quoted-field`}, {3, []string{"b", "2"}, ""}}},
		{"header only", "k,v\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header, got, err := scanAll(t, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"k", "v"}, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanCSVLimits(t *testing.T) {
	big := strings.Repeat("x", MaxRecordBytes)
	_, got, err := scanAll(t, "k,v\na,1\n"+big+",2\nb,3\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Line != 3 || got[1].Record != nil || got[0].Record == nil || got[2].Record == nil {
		t.Fatalf("got %d records, want a,1 kept, line 3 rejected, b,3 kept", len(got))
	}
	want := fmt.Sprintf("t.csv: line 3: record too large: %d bytes, the limit is %d", MaxRecordBytes+3, MaxRecordBytes)
	if !strings.HasPrefix(got[1].Err, want) || len(got[1].Err) > 300 {
		t.Errorf("got error %.300q, want it to start %q and not quote the record", got[1].Err, want)
	}

	_, _, err = scanAll(t, "k,v\ra,1\rb,2\r")
	if !errors.Is(err, ErrCSV) || !strings.Contains(err.Error(), "bare carriage return") {
		t.Errorf("CR-only line endings: got %v, want ErrCSV naming the bare carriage return", err)
	}
	// CRLF, and a CR inside a quoted data field, are fine.
	if _, got, err := scanAll(t, "k,v\r\na,\"1\r2\"\r\n"); err != nil || len(got) != 1 || got[0].Record == nil {
		t.Errorf("CRLF file with a CR in a quoted field: got %v, %+v", err, got)
	}
}

func TestReadHeaderLineEndings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mac.csv")
	if err := os.WriteFile(path, []byte("image_name,tags\rtrain_0,clear\r"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := readHeader(context.Background(), path)
	if !errors.Is(err, ErrCSV) || !strings.Contains(err.Error(), "bare carriage return") || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want ErrCSV naming %s and the bare carriage return", err, path)
	}
}

func TestScanCSVBadFile(t *testing.T) {
	for _, data := range []string{"", "\n\n", "k,\"v\n"} {
		if _, _, err := scanAll(t, data); !errors.Is(err, ErrCSV) {
			t.Errorf("%q: got %v, want ErrCSV", data, err)
		}
	}
}

// FuzzScanCSV checks what the row accounting relies on: every record is
// reported exactly once, in increasing line order, with a line inside the
// file, and a record that encoding/csv reads cleanly is reported unchanged.
func FuzzScanCSV(f *testing.F) {
	f.Add("k,v\na,1\nb,2\n")
	f.Add("k,v\na,\"1\nb,2\n")
	f.Add("k,v\n\"a\nb\",1\nc\"d,2\n")
	f.Fuzz(func(t *testing.T, data string) {
		header, got, err := scanAll(t, data)
		if err != nil {
			if !errors.Is(err, ErrCSV) {
				t.Fatalf("got %v, want ErrCSV", err)
			}
			return
		}
		lines := strings.Count(data, "\n") + 1
		last := 0
		for _, s := range got {
			if s.Line <= last || s.Line > lines {
				t.Fatalf("line %d after %d, file has %d lines", s.Line, last, lines)
			}
			last = s.Line
			if (s.Record == nil) == (s.Err == "") {
				t.Fatalf("line %d: record %q and error %q", s.Line, s.Record, s.Err)
			}
			if s.Record != nil && len(s.Record) != len(header) {
				t.Fatalf("line %d: %d fields, header has %d", s.Line, len(s.Record), len(header))
			}
		}
		// Where encoding/csv reads the whole file without error, the
		// records must be exactly its records.
		r := csv.NewReader(strings.NewReader(strings.TrimPrefix(data, "\ufeff")))
		all, err := r.ReadAll()
		if err != nil || len(all) == 0 {
			return
		}
		var want []string
		for _, rec := range all[1:] {
			want = append(want, fmt.Sprintf("%q", rec))
		}
		var have []string
		for _, s := range got {
			if s.Record != nil {
				have = append(have, fmt.Sprintf("%q", s.Record))
			}
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Fatalf("records differ from encoding/csv (-want +got):\n%s", diff)
		}
	})
}

// readRanges reads the file at path as the pipeline does, without Beam:
// ScanRanges on every range of rangeBytes, PlanRanges, ReadRanges, and
// returns what the last reported, in range order.
func readRanges(t testing.TB, path string, rangeBytes int64, header []string) ([]scanned, int64, error) {
	ctx := context.Background()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func(old int64) { csvRangeBytes = old }(csvRangeBytes)
	csvRangeBytes = rangeBytes
	var scannedRanges []csvRange
	for _, r := range csvRanges([]csvFile{{Path: path, Size: info.Size()}}) {
		if err := (&scanRangeFn{Header: header}).ProcessElement(ctx, r, func(_ string, r csvRange) { scannedRanges = append(scannedRanges, r) }); err != nil {
			return nil, 0, err
		}
	}
	slices.Reverse(scannedRanges) // PlanRanges orders them itself
	var planned []csvRange
	next := func(r *csvRange) bool {
		if len(scannedRanges) == 0 {
			return false
		}
		*r, scannedRanges = scannedRanges[0], scannedRanges[1:]
		return true
	}
	if err := (&planRangesFn{Header: header}).ProcessElement(ctx, path, next, func(r csvRange) { planned = append(planned, r) }); err != nil {
		return nil, 0, err
	}
	var got []scanned
	var read int64
	fn := &readRangeFn{Header: header}
	fn.Setup()
	for _, r := range planned {
		err := fn.ProcessElement(ctx, r, func(rec csvRecord) {
			got = append(got, scanned{Line: rec.Line, Record: rec.Fields})
		}, func(e dataset.ErrorRecord) {
			got = append(got, scanned{Line: e.Line, Err: e.Reason})
		}, func(c readCount) { read += c.Rows })
		if err != nil {
			return nil, 0, err
		}
	}
	return got, read, nil
}

// rangesCSV is TestReadRanges' file: a byte order mark, quoted line breaks
// that cross ranges, bad records.
const rangesCSV = "\ufeffk,v\na,1\n\"multi\nline\",2\n\nb\"x,3\nc,\"4\n\"\"q\"\"\n\"\nd,5\ne,\"6\nf,7\ng,8"

func TestReadRanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := os.WriteFile(path, []byte(rangesCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	checkEveryRangeSize(t, path, rangesCSV)
}

// checkEveryRangeSize reads path, whose content is data, in ranges of every
// size, and wants what one parse of data gives.
func checkEveryRangeSize(t *testing.T, path, data string) {
	t.Helper()
	header, want, err := scanAll(t, data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].Err = strings.Replace(want[i].Err, "t.csv", path, 1)
	}
	for size := int64(1); size <= int64(len(data))+1; size++ {
		got, read, err := readRanges(t, path, size, header)
		if err != nil {
			t.Fatalf("ranges of %d bytes: %v", size, err)
		}
		if diff := cmp.Diff(want, got); diff != "" || read != int64(len(want)) {
			t.Fatalf("ranges of %d bytes: %d read; records (-whole file +ranges):\n%s", size, read, diff)
		}
	}
}

// FuzzReadRanges: reading a file in ranges of any size reports exactly what
// one sequential parse of the whole file reports, lines and errors included.
func FuzzReadRanges(f *testing.F) {
	f.Add("k,v\na,1\nb,2\n", 3)
	f.Add("k,v\na,\"1\nb,2\nc,\"3\n\"\n", 5)
	f.Add("k,v\n\"a\nb\",1\nc\"d,2\n", 7)
	f.Add("k,v\n\n\n\"x\n\n\",\"\"\"\n\"\ny,z\n", 2)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string, size int) {
		if size <= 0 || size > len(data)+1 {
			return
		}
		header, want, err := scanAll(t, data)
		if err != nil {
			return // the launcher refuses the file
		}
		path := filepath.Join(dir, "t.csv")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].Err = strings.Replace(want[i].Err, "t.csv", path, 1)
		}
		got, read, err := readRanges(t, path, int64(size), header)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" || read != int64(len(want)) {
			t.Fatalf("ranges of %d bytes: %d read; records (-whole file +ranges):\n%s", size, read, diff)
		}
	})
}

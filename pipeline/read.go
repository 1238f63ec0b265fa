package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
)

func init() {
	register.DoFn5x1[context.Context, string, func(CSVRecord), func(dataset.ErrorRecord), func(ReadCount), error](&readCSVFn{})
	register.Emitter1[CSVRecord]()
	register.Emitter1[dataset.ErrorRecord]()
	register.Emitter1[ReadCount]()
}

// readRows reads the CSV files named by paths (PCollection<string>) and
// returns PCollection<CSVRecord> of their data records, PCollection<
// dataset.ErrorRecord> of records that do not parse (stage csv), and
// PCollection<ReadCount>, one per file, for the row accounting. header is
// the header every file must start with.
func readRows(s beam.Scope, paths beam.PCollection, header []string) (records, rejected, counts beam.PCollection) {
	s = s.Scope("ReadRows")
	return beam.ParDo3(s, &readCSVFn{Header: header}, paths)
}

// ReadCount is the number of data records (header excluded) read from one
// CSV file, whether they parsed or not.
type ReadCount struct {
	File string
	Rows int64
}

// CSVRecord is one data record of the input CSV, before the spec reads it.
type CSVRecord struct {
	Line   int      // line of the input where the record starts; the header is line 1
	Fields []string // the record's fields, RFC 4180 quoting removed
}

// ErrCSV is wrapped by errors about the CSV file as a whole (unreadable, no
// header); bad data records are rejected rows instead.
var ErrCSV = errors.New("pipeline: bad CSV file")

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// MaxRecordBytes bounds one CSV record (all its fields and separators). A
// Planet row is about 70 bytes; a longer record is rejected at the csv stage
// without its content travelling further, so that one runaway cell (an
// unbalanced quote in a generated file, a pasted blob) costs its own size
// once, not tens of times over in every step after the reader.
const MaxRecordBytes = 1 << 20

// ErrRecordTooLarge is wrapped by the rejection of a record over
// MaxRecordBytes.
var ErrRecordTooLarge = errors.New("record too large")

// scanCSV parses data, a whole CSV file, calling visit for every record
// after the header with its start line. A record that does not parse, or has
// a different number of fields than the header, is passed to visit with a
// nil record and an error naming the line and column.
//
// Resynchronisation: encoding/csv reads a quoted field across line breaks,
// so one unbalanced quote would swallow every later line into a single bad
// record. After a parse error, scanCSV therefore rejects only the record's
// first physical line and restarts parsing at the line after it. A bad
// record thus costs one row, and the lines that follow are read as records
// of their own (a line that was the continuation of a broken quoted field
// may then be rejected too, with its own line number). Blank lines are
// skipped, as encoding/csv does; a UTF-8 byte order mark is ignored.
func scanCSV(name string, data []byte, visit func(line int, record []string, err error)) (header []string, err error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if err := checkLineEndings(name, data); err != nil {
		return nil, err
	}
	base := 0 // lines of data before data[off:]
	off := 0
	for off < len(data) {
		r := csv.NewReader(bytes.NewReader(data[off:]))
		r.FieldsPerRecord = -1 // counted here, so that such a record keeps its line
		restart := false
		var end int64 // r.InputOffset after the previous record
		for !restart {
			record, err := r.Read()
			start := end
			end = r.InputOffset()
			if err == io.EOF {
				if header == nil {
					return nil, fmt.Errorf("%w: %s: empty, want a header line", ErrCSV, name)
				}
				return header, nil
			}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line := base + pe.StartLine
				if header == nil {
					return nil, fmt.Errorf("%w: %s: header line %d, column %d: %v", ErrCSV, name, line, pe.Column, pe.Err)
				}
				if pe.Line == pe.StartLine {
					err = fmt.Errorf("%s: line %d, column %d: %w", name, line, pe.Column, pe.Err)
				} else {
					err = fmt.Errorf("%s: line %d: %w (the record runs on to line %d, column %d)", name, line, pe.Err, base+pe.Line, pe.Column)
				}
				visit(line, nil, err)
				skip := lineEnd(data[off:], pe.StartLine)
				off += skip
				base += pe.StartLine
				restart = true
				continue
			}
			if err != nil {
				return header, fmt.Errorf("%w: %s: %v", ErrCSV, name, err)
			}
			line, _ := r.FieldPos(0)
			line += base
			if header == nil {
				header = record
				continue
			}
			if size := end - start; size > MaxRecordBytes {
				visit(line, nil, fmt.Errorf("%s: line %d: %w: %d bytes, the limit is %d (an unbalanced quote can make a record swallow the lines after it)", name, line, ErrRecordTooLarge, size, MaxRecordBytes))
				continue
			}
			if len(record) != len(header) {
				visit(line, nil, fmt.Errorf("%s: line %d: %w: got %d fields, want %d (header %q)", name, line, csv.ErrFieldCount, len(record), len(header), header))
				continue
			}
			visit(line, record, nil)
		}
	}
	if header == nil {
		return nil, fmt.Errorf("%w: %s: empty, want a header line", ErrCSV, name)
	}
	return header, nil
}

// checkLineEndings refuses a file whose lines end in a bare CR (classic Mac
// OS), which encoding/csv would read as one long line and report as a quote
// error at line 1. Only the header line is looked at: a CR inside a quoted
// data field is data.
func checkLineEndings(name string, data []byte) error {
	first := data
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		first = data[:i]
	}
	first = bytes.TrimSuffix(first, []byte{'\r'})
	if i := bytes.IndexByte(first, '\r'); i >= 0 {
		return fmt.Errorf("%w: %s: line 1 ends in a bare carriage return (byte offset %d): lines must end in LF or CRLF, not CR alone (classic Mac OS); convert the file, e.g. tr '\\r' '\\n' < in.csv > out.csv", ErrCSV, name, i)
	}
	return nil
}

// lineEnd returns the offset just after the n-th newline of data (n >= 1),
// or len(data) when data has fewer lines.
func lineEnd(data []byte, n int) int {
	off := 0
	for range n {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}

// readCSVFn reads one CSV file through Beam's filesystems. The file is read
// whole (about 70 bytes per row for the Planet CSV, 2.8 MB for 40,479 rows)
// so that parsing can restart after a bad record.
type readCSVFn struct {
	// Header is the header the launcher read; the file must still have it.
	Header []string

	rowsRead   beam.Counter
	rowsBadCSV beam.Counter
}

func (f *readCSVFn) Setup() {
	f.rowsRead = beam.NewCounter("tfprep", "rows_read")
	f.rowsBadCSV = beam.NewCounter("tfprep", "rows_rejected_csv")
}

func (f *readCSVFn) ProcessElement(ctx context.Context, path string, emit func(CSVRecord), reject func(dataset.ErrorRecord), count func(ReadCount)) error {
	data, err := readFile(ctx, path)
	if err != nil {
		return err
	}
	var read int64
	header, err := scanCSV(path, data, func(line int, record []string, err error) {
		read++
		f.rowsRead.Inc(ctx, 1)
		progress.rowsRead.Add(1)
		if err != nil {
			f.rowsBadCSV.Inc(ctx, 1)
			progress.rejected.Add(1)
			reject(dataset.ErrorRecord{Line: line, Stage: dataset.StageCSV, Reason: err.Error()})
			return
		}
		emit(CSVRecord{Line: line, Fields: record})
	})
	if err != nil {
		return err
	}
	if !slices.Equal(header, f.Header) {
		return fmt.Errorf("%w: %s: header changed since the job started: got %q, want %q", ErrCSV, path, header, f.Header)
	}
	progress.csvDone.Store(true)
	count(ReadCount{File: path, Rows: read})
	return nil
}

// readFile reads a whole file through Beam's filesystems.
func readFile(ctx context.Context, path string) ([]byte, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	data, err := filesystem.Read(ctx, fsys, path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: reading %s: %w", path, err)
	}
	return data, nil
}

// readHeader returns the header record of the CSV file at path (local,
// gs:// or s3://); the launcher uses it to check the spec's columns before
// the job starts.
func readHeader(ctx context.Context, path string) ([]string, error) {
	fsys, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	f, err := fsys.OpenRead(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	// The header line is looked at before encoding/csv reads it: bare CR
	// line endings would otherwise surface as a quote error.
	head, _ := br.Peek(64 << 10)
	if err := checkLineEndings(path, head); err != nil {
		return nil, err
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s: empty, want a header line", ErrCSV, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header: %v", ErrCSV, path, err)
	}
	return header, nil
}

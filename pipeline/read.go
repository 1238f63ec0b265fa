package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/storage"
)

func init() {
	register.DoFn3x1[context.Context, csvRange, func(string, csvRange), error](&scanRangeFn{})
	register.DoFn4x1[context.Context, string, func(*csvRange) bool, func(csvRange), error](&planRangesFn{})
	register.DoFn5x1[context.Context, csvRange, func(csvRecord), func(dataset.ErrorRecord), func(readCount), error](&readRangeFn{})
	register.Emitter1[csvRecord]()
	register.Emitter1[dataset.ErrorRecord]()
	register.Emitter1[readCount]()
	register.Emitter1[csvRange]()
	register.Emitter2[string, csvRange]()
	register.Iter1[csvRange]()
}

// The CSV files are read in byte ranges, in parallel, in three steps:
//
//  1. ScanRanges: each range is parsed from the first line that starts in
//     it (a guess: that line may continue a quoted field) up to the first
//     record that starts at or after the range's end; only positions are
//     kept: where the parse started, where that next record starts, and the
//     newlines in between.
//  2. PlanRanges: per file, the ranges' positions in order (one small element
//     per range). Range 0 starts at the file's start, a true record boundary.
//     Where the previous range's parse ends is where this range's first
//     record truly starts; when the guess was that position, the range's
//     own parse was exact, otherwise (a quoted field with a line break across
//     the boundary, or a bad record whose recovery crosses it) the range is
//     parsed again from the true position here. Line numbers add up the
//     newlines. This is the sequential parse's outcome, exactly: a parse
//     from a record boundary depends on nothing before it.
//  3. ReadRanges: each range is parsed from its true first record, with its
//     true line, up to the first record at or after its end, and its records
//     emitted.
//
// So every file is parsed about twice, in parallel, and no step holds more
// than a range (csvRangeBytes) and the record that crosses its end.

// csvRangeBytes is the size of the byte ranges a CSV file is read in.
var csvRangeBytes int64 = 8 << 20

// csvRange is one byte range of a CSV file on its way through the reading
// steps.
type csvRange struct {
	File      string // path or URL
	FileIndex int    // position of File among the input files
	Index     int    // range number in the file; range 0 holds the header
	Start     int64  // ScanRanges: the first line start in the range; PlanRanges on: the first record's start
	End       int64  // end of the range (exclusive); the last range's is math.MaxInt64
	Next      int64  // where the first record at or after End starts (the file's size at its end); -1: not scanned, a whole file
	Lines     int64  // newlines in [Start, Next)
	Line      int    // PlanRanges on: the file's line at Start
}

// csvRangesLeft counts the ranges of the conversion in this process not read
// yet, for Progress.CSVDone (set by build; live only with in-process workers).
var csvRangesLeft atomic.Int64

func rangeDone() {
	if csvRangesLeft.Add(-1) == 0 {
		progress.csvDone.Store(true)
	}
}

// csvFile is an input CSV file and its size when the job was built.
type csvFile struct {
	Path string
	Size int64
}

// csvRanges cuts files into ranges of csvRangeBytes.
func csvRanges(files []csvFile) []csvRange {
	var ranges []csvRange
	for i, f := range files {
		n := max(1, (f.Size+csvRangeBytes-1)/csvRangeBytes)
		for j := range n {
			end := (j + 1) * csvRangeBytes
			if j == n-1 {
				end = math.MaxInt64 // a file that grew is still read to its end
			}
			ranges = append(ranges, csvRange{File: f.Path, FileIndex: i, Index: int(j), Start: j * csvRangeBytes, End: end})
		}
	}
	return ranges
}

// readRows reads the ranges of the CSV files (from csvRanges) and returns
// PCollection<csvRecord> of their data records,
// PCollection<dataset.ErrorRecord> of records that do not parse (stage csv),
// and PCollection<readCount>, one per range, for the row accounting. header
// is the header every file must start with.
//
// A file of one range is read in one pass from its start. A file of several
// is scanned first (ScanRanges: where each range's first record starts, and
// its newlines), the scans are put in order (PlanRanges), and then the ranges
// are read in parallel.
func readRows(s beam.Scope, ranges []csvRange, header []string) (records, rejected, counts beam.PCollection) {
	s = s.Scope("ReadRows")
	whole := true
	for _, r := range ranges {
		whole = whole && r.Index == 0 && r.End == math.MaxInt64
	}
	if whole {
		plans := slices.Clone(ranges)
		for i := range plans {
			plans[i].Line, plans[i].Next = 1, -1 // read from the start, nothing to check the end against
		}
		planned := beam.CreateList(s, plans)
		if len(plans) > 1 {
			planned = beam.Reshuffle(s, planned)
		}
		return beam.ParDo3(s.Scope("ReadRanges"), &readRangeFn{Header: header}, planned)
	}
	scanned := beam.ParDo(s.Scope("ScanRanges"), &scanRangeFn{Header: header}, beam.Reshuffle(s, beam.CreateList(s, ranges)))
	planned := beam.ParDo(s.Scope("PlanRanges"), &planRangesFn{Header: header}, beam.GroupByKey(s, scanned))
	return beam.ParDo3(s.Scope("ReadRanges"), &readRangeFn{Header: header}, beam.Reshuffle(s, planned))
}

// readCount is the number of data records (header excluded) read from a
// range of a CSV file (or, by reshard, a shard), whether they parsed or not.
type readCount struct {
	File string
	Rows int64
}

// csvRecord is one data record of the input CSV, before the spec reads it.
type csvRecord struct {
	File   int      // position of the record's file among the input files
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
	s := &recordScanner{name: name, buf: data, eof: true}
	header, _, _, err = s.scan(0, 1, math.MaxInt, nil, visit)
	return header, err
}

// recordScanner parses a CSV file from some offset on, keeping the bytes it
// has read (buf, from that offset) so that parsing can restart after a bad
// record and positions can be turned into line counts.
type recordScanner struct {
	name string
	src  io.Reader // the rest of the file after buf
	buf  []byte
	eof  bool
	err  error // a read error of src, sticky
}

// fill reads more of the file into buf.
func (s *recordScanner) fill() error {
	if s.err != nil {
		return s.err
	}
	if s.eof {
		return io.EOF
	}
	if cap(s.buf)-len(s.buf) < 32<<10 {
		s.buf = slices.Grow(s.buf, max(64<<10, len(s.buf)))
	}
	n, err := s.src.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	switch {
	case err == io.EOF:
		s.eof = true
		if n == 0 {
			return io.EOF
		}
	case err != nil:
		s.err = fmt.Errorf("pipeline: reading %s: %w", s.name, err)
		return s.err
	}
	return nil
}

// bufReader reads the scanner's file from buf offset pos on.
type bufReader struct {
	s   *recordScanner
	pos int
}

func (r *bufReader) Read(p []byte) (int, error) {
	for r.pos >= len(r.s.buf) {
		if err := r.s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.s.buf[r.pos:])
	r.pos += n
	return n, nil
}

// scan parses from buf offset off, a record boundary on line line of the
// file, and calls visit (unless nil) for every record that starts before
// stop, as scanCSV describes. Records are checked against header; when it
// is nil, the first record is the header, and it is returned. It returns the buf offset where the first record
// at or after stop starts (the end of the file when there is none) and the
// line there. A record starts where the one before it ended, so blank lines
// before it belong to it.
func (s *recordScanner) scan(off, line, stop int, header []string, visit func(line int, record []string, err error)) (_ []string, next, nextLine int, err error) {
	if visit == nil {
		visit = func(int, []string, error) {}
	}
	first, firstLine := off, line
	base := line - 1 // lines of the file before off
	done := func(at int) ([]string, int, int, error) {
		return header, at, firstLine + bytes.Count(s.buf[first:at], []byte{'\n'}), nil
	}
	for {
		r := csv.NewReader(&bufReader{s: s, pos: off})
		r.FieldsPerRecord = -1 // counted here, so that such a record keeps its line
		var end int64          // r.InputOffset after the previous record
		restart := false
		for !restart {
			start := off + int(end)
			if start >= stop && header != nil {
				return done(start)
			}
			record, err := r.Read()
			end = r.InputOffset()
			if s.err != nil {
				return header, 0, 0, s.err
			}
			if err == io.EOF {
				if header == nil {
					return nil, 0, 0, fmt.Errorf("%w: %s: empty, want a header line", ErrCSV, s.name)
				}
				return done(off + int(end))
			}
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				line := base + pe.StartLine
				if header == nil {
					return nil, 0, 0, fmt.Errorf("%w: %s: header line %d, column %d: %v", ErrCSV, s.name, line, pe.Column, pe.Err)
				}
				if pe.Line == pe.StartLine {
					err = fmt.Errorf("%s: line %d, column %d: %w", s.name, line, pe.Column, pe.Err)
				} else {
					err = fmt.Errorf("%s: line %d: %w (the record runs on to line %d, column %d)", s.name, line, pe.Err, base+pe.Line, pe.Column)
				}
				visit(line, nil, err)
				off += lineEnd(s.buf[off:], pe.StartLine)
				base += pe.StartLine
				restart = true
				continue
			}
			if err != nil {
				return header, 0, 0, fmt.Errorf("%w: %s: %v", ErrCSV, s.name, err)
			}
			line, _ := r.FieldPos(0)
			line += base
			if header == nil {
				header = record
				continue
			}
			if size := int(end) - (start - off); size > MaxRecordBytes {
				visit(line, nil, fmt.Errorf("%s: line %d: %w: %d bytes, the limit is %d (an unbalanced quote can make a record swallow the lines after it)", s.name, line, ErrRecordTooLarge, size, MaxRecordBytes))
				continue
			}
			if len(record) != len(header) {
				visit(line, nil, fmt.Errorf("%s: line %d: %w: got %d fields, want %d (header %q)", s.name, line, csv.ErrFieldCount, len(record), len(header), header))
				continue
			}
			visit(line, record, nil)
		}
	}
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

// openRange opens the file at path from offset on and returns a scanner
// over it, and the function that closes it. Range 0 skips a byte order mark.
// A file the pre-flight kept whole (csvsnapshot.go) is served from memory,
// as storage would serve it: from offset to its end, nothing past it.
func openRange(ctx context.Context, path string, offset int64) (*recordScanner, func(), error) {
	if data, ok := csvSnapshot(path); ok {
		rest := data[min(max(offset, 0), int64(len(data))):]
		// The whole range is in buf and src is never read: fill reports
		// io.EOF, and nothing appends to the shared bytes.
		return &recordScanner{name: path, buf: rest[:len(rest):len(rest)], eof: true}, func() {}, nil
	}
	d, name, err := openParent(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	r, err := d.NewRangeReader(ctx, name, offset, -1)
	if err != nil {
		d.Close()
		return nil, nil, fmt.Errorf("pipeline: %w", err)
	}
	s := &recordScanner{name: path, src: r}
	return s, func() { r.Close(); d.Close() }, nil
}

// skipBOM returns the buf offset after a UTF-8 byte order mark at the start
// of the scanner's data, or 0.
func (s *recordScanner) skipBOM() int {
	for len(s.buf) < len(utf8BOM) && s.fill() == nil {
	}
	if bytes.HasPrefix(s.buf, utf8BOM) {
		return len(utf8BOM)
	}
	return 0
}

// scanRangeFn is ScanRanges: it parses a range from its first line start
// (range 0: from the file's start, header included) and records where the
// parse reaches the first record at or after the range's end. It keys the
// range by its file.
type scanRangeFn struct {
	Header []string
}

func (f *scanRangeFn) ProcessElement(ctx context.Context, r csvRange, emit func(string, csvRange)) error {
	origin := max(r.Start-1, 0) // range > 0: the byte before, to see whether Start begins a line
	s, closeRange, err := openRange(ctx, r.File, origin)
	if err != nil {
		return err
	}
	defer closeRange()
	off := 0
	var header []string
	if r.Index == 0 {
		off = s.skipBOM()
	} else {
		header = f.Header
		for {
			if i := bytes.IndexByte(s.buf[off:], '\n'); i >= 0 {
				off += i + 1
				break
			}
			off = len(s.buf)
			if err := s.fill(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
		}
	}
	r.Start = origin + int64(off)
	_, next, nextLine, err := s.scan(off, 1, stopAt(r.End, origin), header, nil)
	if err != nil {
		return err
	}
	r.Next, r.Lines = origin+int64(next), int64(nextLine-1)
	emit(r.File, r)
	return nil
}

// stopAt is a range end as an offset into a scanner's buf that starts at
// origin.
func stopAt(end, origin int64) int { return int(min(end-origin, math.MaxInt)) }

// planRangesFn is PlanRanges: it puts one file's ranges in order, finds
// each range's true first record and line, parses a range again where
// ScanRanges guessed wrong, and emits the ranges that hold a record.
type planRangesFn struct {
	Header []string
}

func (f *planRangesFn) ProcessElement(ctx context.Context, file string, scanned func(*csvRange) bool, emit func(csvRange)) error {
	var ranges []csvRange
	var r csvRange
	for scanned(&r) {
		ranges = append(ranges, r)
	}
	slices.SortFunc(ranges, func(a, b csvRange) int { return a.Index - b.Index })
	var start, lines int64 // where the next range's first record starts, newlines before it
	for _, r := range ranges {
		if r.Index > 0 && r.Start != start {
			var err error
			if r, err = f.rescan(ctx, r, start); err != nil {
				return err
			}
		}
		r.Line = int(lines) + 1
		if r.Index == 0 || r.Start < r.End {
			emit(r)
		} else {
			rangeDone() // nothing to read
		}
		start, lines = r.Next, lines+r.Lines
	}
	return nil
}

// rescan parses r from start, its true first record, to the first record
// at or after its end.
func (f *planRangesFn) rescan(ctx context.Context, r csvRange, start int64) (csvRange, error) {
	r.Start, r.Next, r.Lines = start, start, 0
	if start >= r.End {
		return r, nil
	}
	s, closeRange, err := openRange(ctx, r.File, start)
	if err != nil {
		return r, err
	}
	defer closeRange()
	_, next, nextLine, err := s.scan(0, 1, stopAt(r.End, start), f.Header, nil)
	if err != nil {
		return r, err
	}
	r.Next, r.Lines = start+int64(next), int64(nextLine-1)
	return r, nil
}

// readRangeFn is ReadRanges: it parses a range from its first record to the
// first record at or after its end, emitting records and rejecting those
// that do not parse, and counts the records it read.
type readRangeFn struct {
	// Header is the header the launcher read; every file must still have it.
	Header []string

	rowsRead   beam.Counter
	rowsBadCSV beam.Counter
}

func (f *readRangeFn) Setup() {
	f.rowsRead = beam.NewCounter("tfprep", "rows_read")
	f.rowsBadCSV = beam.NewCounter("tfprep", "rows_rejected_csv")
}

func (f *readRangeFn) ProcessElement(ctx context.Context, r csvRange, emit func(csvRecord), reject func(dataset.ErrorRecord), count func(readCount)) error {
	s, closeRange, err := openRange(ctx, r.File, r.Start)
	if err != nil {
		return err
	}
	defer closeRange()
	off, header := 0, f.Header
	if r.Index == 0 {
		off, header = s.skipBOM(), nil
	}
	var read int64
	header, next, _, err := s.scan(off, r.Line, stopAt(r.End, r.Start), header, func(line int, record []string, err error) {
		read++
		f.rowsRead.Inc(ctx, 1)
		progress.rowsRead.Add(1)
		if err != nil {
			f.rowsBadCSV.Inc(ctx, 1)
			progress.rejected.Add(1)
			reject(dataset.ErrorRecord{Line: line, Stage: dataset.StageCSV, Reason: err.Error()})
			return
		}
		emit(csvRecord{File: r.FileIndex, Line: line, Fields: record})
	})
	if err != nil {
		return err
	}
	if !slices.Equal(header, f.Header) {
		return fmt.Errorf("%w: %s: header changed since the job started: got %q, want %q", ErrCSV, r.File, header, f.Header)
	}
	if got := r.Start + int64(next); r.Next >= 0 && got != r.Next {
		return fmt.Errorf("%w: %s changed since the job started: the records of bytes %d-%d end at byte %d, not %d", ErrCSV, r.File, r.Start, r.End, got, r.Next)
	}
	rangeDone()
	count(readCount{File: r.File, Rows: read})
	return nil
}

// csvInputs expands the --csv arguments (files and globs, local or URLs)
// into files, checks that every file has the same header and returns it.
func csvInputs(ctx context.Context, args []string) ([]csvFile, []string, error) {
	var files []csvFile
	seen := map[string]bool{}
	for _, arg := range args {
		matched, err := listCSV(ctx, arg)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range matched {
			if !seen[f.Path] {
				seen[f.Path] = true
				files = append(files, f)
			}
		}
	}
	// The header reads give the sizes listCSV left unknown: one round trip
	// per file on a bucket.
	headers := make([][]string, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range files {
		g.Go(func() error {
			h, size, err := readHeader(gctx, files[i].Path)
			headers[i] = h
			if files[i].Size < 0 {
				files[i].Size = size
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, h := range headers[1:] {
		if !slices.Equal(h, headers[0]) {
			return nil, nil, fmt.Errorf("%w: %s: header %q differs from %s's %q; every --csv file must have the same header", ErrCSV, files[i+1].Path, h, files[0].Path, headers[0])
		}
	}
	return files, headers[0], nil
}

// listCSV returns the file arg names, with its size, or the files its last
// path element matches as a glob (path.Match syntax), in name order.
func listCSV(ctx context.Context, arg string) ([]csvFile, error) {
	d, name, err := openParent(ctx, arg)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if !strings.ContainsAny(name, "*?[\\") {
		return []csvFile{{Path: arg, Size: -1}}, nil // readHeader finds its size
	}
	if _, err := path.Match(name, ""); err != nil {
		return nil, fmt.Errorf("%w: --csv %s: %v", ErrConfig, arg, err)
	}
	loc, query, _ := strings.Cut(arg, "?")
	if !strings.Contains(arg, "://") {
		loc, query = arg, ""
	}
	prefix := loc[:len(loc)-len(name)]
	if query != "" {
		query = "?" + query
	}
	all, err := d.ListAll(ctx, storage.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("pipeline: --csv %s: %w", arg, err)
	}
	var files []csvFile
	for _, a := range all {
		if ok, _ := path.Match(name, a.Name); ok && !a.IsDir {
			files = append(files, csvFile{Path: prefix + a.Name + query, Size: a.Size})
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: --csv %s: no file matches", ErrConfig, arg)
	}
	return files, nil
}

// readHeader returns the header record of the CSV file at path (local,
// gs:// or s3://); the launcher uses it to check the spec's columns before
// the job starts. A small remote file is read whole in the same request and
// kept as its snapshot for the job's readers (csvsnapshot.go) when its
// header reads.
func readHeader(ctx context.Context, path string) (header []string, size int64, err error) {
	f, err := openRead(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size = f.Size()
	var src io.Reader = f
	if reserved := size; reserveCSVSnapshot(ctx, path, reserved) {
		var whole []byte
		whole, src = readWhole(f, reserved)
		defer func() { // after the returns below have set err (and size)
			if err == nil && whole != nil {
				storeCSVSnapshot(path, whole)
			} else {
				releaseCSVSnapshot(reserved)
			}
		}()
	}
	br := bufio.NewReader(src)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	// The header line is looked at before encoding/csv reads it: bare CR
	// line endings would otherwise surface as a quote error.
	head, _ := br.Peek(64 << 10)
	if err := checkLineEndings(path, head); err != nil {
		return nil, 0, err
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	header, err = r.Read()
	if err == io.EOF {
		return nil, 0, fmt.Errorf("%w: %s: empty, want a header line", ErrCSV, path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: header: %v", ErrCSV, path, err)
	}
	return header, size, nil
}

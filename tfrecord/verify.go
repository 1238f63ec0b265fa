package tfrecord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// VerifyOptions control VerifyFiles.
type VerifyOptions struct {
	Recover bool // skip damaged ranges and keep reading
	All     bool // go on to the next file after a damaged one
	// IsExample tells whether a payload is a tf.train.Example (counted in
	// Examples, else in Raw); nil counts every payload raw.
	IsExample func(payload []byte) bool
	// Open opens the file at path and returns its size; nil opens local
	// files with os.Open. It lets callers verify files elsewhere (in a
	// bucket) without this package knowing where.
	Open func(ctx context.Context, path string) (r io.ReadCloser, size int64, err error)
}

// FileReport is what VerifyFiles found in one TFRecord file.
type FileReport struct {
	File        string `json:"file"`
	Compression string `json:"compression"`
	FileBytes   int64  `json:"file_bytes"`   // size on disk
	StreamBytes int64  `json:"stream_bytes"` // uncompressed framed stream read
	Records     int64  `json:"records"`      // intact records read
	Examples    int64  `json:"examples"`     // of which tf.train.Examples
	Raw         int64  `json:"raw"`          // of which other payloads
	Bytes       int64  `json:"bytes"`        // payload bytes of the intact records
	// Damage lists the problems: without --recover at most one, where
	// reading stopped; with it, every skipped byte range.
	Damage   []DamagedRange `json:"damage"`
	Complete bool           `json:"complete"` // read to the end
}

// DamagedRange is a damaged part of a file: where reading stopped (Length
// -1), or a range a recovering reader skipped. Offset and Record are -1 when
// the file could not be opened.
type DamagedRange struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Record int64  `json:"record"` // intact records before it
	Length int64  `json:"length"`
	Reason string `json:"reason"`
}

func (d DamagedRange) String() string {
	if d.Offset < 0 {
		return fmt.Sprintf("%s: %s", d.File, d.Reason)
	}
	s := fmt.Sprintf("%s:%d (record %d): %s", d.File, d.Offset, d.Record, d.Reason)
	if d.Length >= 0 {
		s += fmt.Sprintf("; skipped %d bytes", d.Length)
	}
	return s
}

// FilesReport is the result of VerifyFiles; its JSON form is "tfprep
// verify --json"'s output.
type FilesReport struct {
	OK       bool         `json:"ok"`
	Complete bool         `json:"complete"` // false: stopped at the first problem
	Paths    int          `json:"paths"`    // files asked for; len(Files) were checked
	Records  int64        `json:"records"`
	Examples int64        `json:"examples"`
	Raw      int64        `json:"raw"`
	Bytes    int64        `json:"bytes"`
	Files    []FileReport `json:"files"`
}

// verifyFiles reads and checks every record of the files. Problems with
// the files are in the report; the error is for failing to check at all
// (a cancelled context).
func VerifyFiles(ctx context.Context, paths []string, opts VerifyOptions) (*FilesReport, error) {
	r := &FilesReport{OK: true, Complete: true, Paths: len(paths), Files: []FileReport{}}
	for i, path := range paths {
		fr, err := verifyFile(ctx, path, opts)
		if err != nil {
			return nil, err
		}
		r.Files = append(r.Files, *fr)
		r.Records += fr.Records
		r.Examples += fr.Examples
		r.Raw += fr.Raw
		r.Bytes += fr.Bytes
		if len(fr.Damage) > 0 {
			r.OK = false
			if !opts.All && !opts.Recover && i < len(paths)-1 {
				r.Complete = false
				break
			}
		}
	}
	return r, nil
}

func verifyFile(ctx context.Context, path string, opts VerifyOptions) (*FileReport, error) {
	fr := &FileReport{File: path, Damage: []DamagedRange{}}
	fail := func(offset, record, length int64, reason string) {
		fr.Damage = append(fr.Damage, DamagedRange{File: path, Offset: offset, Record: record, Length: length, Reason: reason})
	}
	open := opts.Open
	if open == nil {
		open = openLocal
	}
	file, size, err := open(ctx, path)
	if err != nil {
		fail(-1, -1, -1, err.Error())
		return fr, nil
	}
	defer file.Close()
	fr.FileBytes = size
	f, err := newReader(file, &ReaderOptions{ReuseBuffer: true, Recover: opts.Recover}, path)
	if err != nil {
		fail(-1, -1, -1, fmt.Sprintf("%v (opening %s)", err, path))
		return fr, nil
	}
	fr.Compression = f.Compression().String()
	for {
		if f.Index()%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := f.Next()
		if err == io.EOF {
			fr.Complete = true
			break
		}
		if err != nil {
			offset, record, reason := f.Offset(), f.Index(), err.Error()
			var re *RecordError
			if errors.As(err, &re) {
				offset, record, reason = re.Offset, re.Record, re.Reason()
			}
			if opts.Recover {
				// The reader recovers from everything but a broken
				// compressed stream.
				reason += "; the rest of the file cannot be read"
			}
			fail(offset, record, -1, reason)
			break
		}
		fr.Records++
		fr.Bytes += int64(len(rec))
		if opts.IsExample != nil && opts.IsExample(rec) {
			fr.Examples++
		} else {
			fr.Raw++
		}
	}
	fr.StreamBytes = f.Offset()
	// Ranges a recovering reader skipped come before where it stopped.
	var skipped []DamagedRange
	for _, d := range f.Skipped() {
		dr := DamagedRange{File: path, Offset: d.Offset, Length: d.Length, Reason: d.Err.Error()}
		var re *RecordError
		if errors.As(d.Err, &re) {
			dr.Record, dr.Reason = re.Record, re.Reason()
		}
		skipped = append(skipped, dr)
	}
	fr.Damage = append(skipped, fr.Damage...)
	return fr, nil
}

// openLocal is VerifyOptions.Open for local files.
func openLocal(_ context.Context, path string) (io.ReadCloser, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	return f, size, nil
}

// WriteText writes the verdict for people: a table of files, then each
// problem, then one line that sums up.
func (r *FilesReport) WriteText(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "FILE\tSTATUS\tRECORDS\tEXAMPLES\tRAW\tBYTES\tCOMPRESSION\tSIZE")
	for _, f := range r.Files {
		status, compression := "ok", f.Compression
		switch {
		case f.Compression == "":
			status, compression = "UNREADABLE", "-"
		case len(f.Damage) > 0:
			status = "DAMAGED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\n", f.File, status, f.Records, f.Examples, f.Raw, f.Bytes, compression, f.FileBytes)
	}
	tw.Flush()
	for _, f := range r.Files {
		for _, d := range f.Damage {
			fmt.Fprintln(&b, d)
		}
	}
	files := countOf(len(r.Files), "file", "files")
	examples := countOf(r.Examples, "Example", "Examples")
	switch {
	case r.OK:
		fmt.Fprintf(&b, "ok: %s, %s (%s, %d raw), %s\n", files, countOf(r.Records, "record", "records"), examples, r.Raw, countOf(r.Bytes, "payload byte", "payload bytes"))
	case !r.Complete:
		fmt.Fprintf(&b, "FAILED at the first problem, in file %d of %d (--all checks every file, --recover reads past damage)\n", len(r.Files), r.Paths)
	default:
		fmt.Fprintf(&b, "FAILED: %s, %s (%s, %d raw), %s\n", files, countOf(r.Records, "intact record", "intact records"), examples, r.Raw, countOf(r.Bytes, "payload byte", "payload bytes"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// countOf returns "1 file" or "3 files".
func countOf[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

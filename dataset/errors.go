package dataset

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Stage names the step of the conversion that rejected a row.
type Stage string

// The stages, in pipeline order.
const (
	// StageCSV: the CSV record could not be parsed (bad quoting, wrong
	// number of fields). Key is empty.
	StageCSV Stage = "csv"
	// StageLabel: the record parsed but a field is invalid: a malformed
	// label, an empty key, an image name escaping the images root.
	StageLabel Stage = "label"
	// StageImage: the image exists but cannot be decoded or processed
	// (corrupt, truncated, unsupported, too large).
	StageImage Stage = "image"
	// StageIO: the image could not be read (missing file, permission).
	StageIO Stage = "io"
)

// Stages lists every Stage in pipeline order.
var Stages = []Stage{StageCSV, StageLabel, StageImage, StageIO}

// Valid reports whether s is one of Stages.
func (s Stage) Valid() bool { return slices.Contains(Stages, s) }

// ErrorRecord is one line of errors.csv: a rejected input row.
type ErrorRecord struct {
	// Line is the line of the input CSV where the row starts (the header
	// is line 1).
	Line int
	// Key is the row's key (image name); empty when the row could not be
	// parsed far enough to know it.
	Key string
	// Stage that rejected the row.
	Stage Stage
	// Reason is the error message, naming the column or file at fault.
	Reason string
}

// ErrorsHeader is the header line of errors.csv.
var ErrorsHeader = []string{"line", "key", "stage", "reason"}

// ErrErrorsFile: errors.csv is malformed.
var ErrErrorsFile = errors.New("dataset: invalid errors.csv")

// ErrorsFileError locates a problem in an errors.csv file.
type ErrorsFileError struct {
	Line   int    // line in errors.csv, from 1
	Column string // column name, empty for the whole line
	Err    error  // wraps ErrErrorsFile
}

func (e *ErrorsFileError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("errors.csv line %d, column %s: %v", e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("errors.csv line %d: %v", e.Line, e.Err)
}

func (e *ErrorsFileError) Unwrap() error { return e.Err }

// SortErrorRecords orders records by line, then stage (pipeline order), key
// and reason: the order of errors.csv, independent of the order in which a
// parallel pipeline found them.
func SortErrorRecords(recs []ErrorRecord) {
	slices.SortFunc(recs, func(a, b ErrorRecord) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(slices.Index(Stages, a.Stage), slices.Index(Stages, b.Stage)),
			cmp.Compare(a.Key, b.Key),
			cmp.Compare(a.Reason, b.Reason),
		)
	})
}

// WriteErrors writes the header and recs, in the given order, as RFC 4180
// CSV with LF line endings.
func WriteErrors(w io.Writer, recs []ErrorRecord) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ErrorsHeader); err != nil {
		return err
	}
	for _, r := range recs {
		if err := cw.Write([]string{strconv.Itoa(r.Line), r.Key, string(r.Stage), r.Reason}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadErrors parses an errors.csv document. It checks the header, that line
// is a non-negative integer and that stage is one of Stages.
func ReadErrors(r io.Reader) ([]ErrorRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(ErrorsHeader)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &ErrorsFileError{Line: 1, Err: fmt.Errorf("%w: empty file, want header %q", ErrErrorsFile, ErrorsHeader)}
	}
	if err != nil {
		return nil, csvError(err)
	}
	if !slices.Equal(header, ErrorsHeader) {
		return nil, &ErrorsFileError{Line: 1, Err: fmt.Errorf("%w: header %q, want %q", ErrErrorsFile, header, ErrorsHeader)}
	}
	var recs []ErrorRecord
	for {
		fields, err := cr.Read()
		if err == io.EOF {
			return recs, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		at, _ := cr.FieldPos(0)
		line, err := strconv.Atoi(fields[0])
		if err != nil || line < 0 {
			return nil, &ErrorsFileError{Line: at, Column: "line", Err: fmt.Errorf("%w: %q is not a line number", ErrErrorsFile, fields[0])}
		}
		stage := Stage(fields[2])
		if !stage.Valid() {
			return nil, &ErrorsFileError{Line: at, Column: "stage", Err: fmt.Errorf("%w: unknown stage %q (want one of %q)", ErrErrorsFile, fields[2], Stages)}
		}
		recs = append(recs, ErrorRecord{Line: line, Key: fields[1], Stage: stage, Reason: fields[3]})
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &ErrorsFileError{Line: pe.StartLine, Err: fmt.Errorf("%w: %v", ErrErrorsFile, pe.Err)}
	}
	return fmt.Errorf("dataset: reading errors.csv: %w", err)
}

// ReadErrorsFile reads dir/errors.csv.
func ReadErrorsFile(dir string) ([]ErrorRecord, error) {
	store, err := storageFor(dir)
	if err != nil {
		return nil, err
	}
	return readErrorsFile(context.Background(), store, dir)
}

func readErrorsFile(ctx context.Context, store storage, dir string) ([]ErrorRecord, error) {
	path := joinPath(dir, ErrorsName)
	f, err := store.Open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	recs, err := ReadErrors(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// CountByStage returns how many records each stage rejected; stages without
// records are omitted, matching Rows.RejectedByStage.
func CountByStage(recs []ErrorRecord) map[Stage]int64 {
	counts := map[Stage]int64{}
	for _, r := range recs {
		counts[r.Stage]++
	}
	return counts
}

// CheckErrors checks that errs, the contents of errors.csv, agree with the
// manifest: as many records as rows.rejected, and the same count per stage.
func (m *Manifest) CheckErrors(errs []ErrorRecord) error {
	if int64(len(errs)) != m.Rows.Rejected {
		return fmt.Errorf("%w: errors.csv has %d rows, manifest rows.rejected is %d", ErrInvariant, len(errs), m.Rows.Rejected)
	}
	got := CountByStage(errs)
	for _, s := range Stages {
		if got[s] != m.Rows.RejectedByStage[s] {
			return fmt.Errorf("%w: errors.csv has %d %s-stage rows, manifest says %d", ErrInvariant, got[s], s, m.Rows.RejectedByStage[s])
		}
	}
	return nil
}

// ErrNothingWritten: rows were read but every one was rejected. A
// conversion that writes nothing has failed, whatever --max-errors says:
// Commit refuses it (errors.csv stays for diagnosis, no manifest is
// written) and Verify fails a manifest that records it.
var ErrNothingWritten = errors.New("dataset: no row written")

// NothingWrittenError is Commit's ErrNothingWritten: Read rows, all
// rejected, most of them (StageRows) at Stage; First is the first of those
// in line order. Hint, which a command may set, says what to check.
type NothingWrittenError struct {
	Read       int64
	Stage      Stage
	StageRows  int64
	First      ErrorRecord
	ErrorsFile string
	Hint       string
}

func (e *NothingWrittenError) Error() string {
	hint := ""
	if e.Hint != "" {
		hint = " " + e.Hint
	}
	return fmt.Sprintf("%v: all %d rows read were rejected, %d of them at stage %s (see %s);%s first: line %d: %s",
		ErrNothingWritten, e.Read, e.StageRows, e.Stage, e.ErrorsFile, hint, e.First.Line, e.First.Reason)
}

func (e *NothingWrittenError) Unwrap() error { return ErrNothingWritten }

// nothingWritten describes sorted, the rejected rows of a conversion that
// wrote none, by the stage that rejected most of them.
func nothingWritten(read int64, sorted []ErrorRecord, errorsFile string) *NothingWrittenError {
	e := &NothingWrittenError{Read: read, ErrorsFile: errorsFile}
	for stage, n := range CountByStage(sorted) {
		if n > e.StageRows || n == e.StageRows && slices.Index(Stages, stage) < slices.Index(Stages, e.Stage) {
			e.Stage, e.StageRows = stage, n
		}
	}
	for _, r := range sorted {
		if r.Stage == e.Stage {
			e.First = r
			break
		}
	}
	return e
}

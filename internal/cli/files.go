package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

// Helpers of the commands that take TFRecord files (count, verify, cat).

// recordProblem presents a reading error of the file at path as the
// commands print it, "file:offset (record N): reason", still wrapping it.
// Errors that name the file already (failing to open it) are kept.
func recordProblem(path string, err error) error {
	var re *tfrecord.RecordError
	var se *storage.Error
	var pe *fs.PathError
	switch {
	case errors.As(err, &re):
		return &positionError{path: path, record: re}
	case errors.As(err, &se), errors.As(err, &pe):
		return err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// positionError is a *tfrecord.RecordError printed as file:offset (record N).
type positionError struct {
	path   string
	record *tfrecord.RecordError
}

func (e *positionError) Error() string {
	return fmt.Sprintf("%s:%d (record %d): %s", e.path, e.record.Offset, e.record.Record, e.record.Reason())
}

func (e *positionError) Unwrap() error { return e.record }

// openSized opens a file, local or in a bucket, and tells its size
// (tfrecord.VerifyOptions.Open).
func openSized(ctx context.Context, path string) (io.ReadCloser, int64, error) {
	f, err := dataset.OpenFile(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, size, nil
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeReport prints a library report as JSON, or as its text form.
func writeReport(w io.Writer, r interface{ WriteText(io.Writer) error }, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	return r.WriteText(w)
}

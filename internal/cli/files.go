package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tfprep/tfprep/tfrecord"
)

// Helpers of the commands that take TFRecord files (count, verify, cat).

// expandFiles turns FILE|GLOB arguments into paths, in the order given and
// each glob's matches sorted. A glob matching nothing and a directory are
// errors; a plain path is kept as is, for opening to report if missing.
func expandFiles(args []string) ([]string, error) {
	var paths []string
	for _, arg := range args {
		if !strings.ContainsAny(arg, `*?[`) {
			if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
				return nil, fmt.Errorf("%s is a directory, not a TFRecord file", arg)
			}
			paths = append(paths, arg)
			continue
		}
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, fmt.Errorf("bad glob %q: %w", arg, err)
		}
		var files []string
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && !fi.IsDir() {
				files = append(files, m)
			}
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no files match %q", arg)
		}
		paths = append(paths, files...)
	}
	return paths, nil
}

// recordProblem presents a reading error of the file at path as the
// commands print it, "file:offset (record N): reason", still wrapping it.
func recordProblem(path string, err error) error {
	var re *tfrecord.RecordError
	if errors.As(err, &re) {
		return &positionError{path: path, record: re}
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

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

package synth

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Header is the CSV header line, as in KagglePlanetMCML.csv.
const Header = "image_name,weather_labels,ground_labels"

// WriteCSV writes rows in the seed's format: header, then one line per row
// with the label vectors as quoted Python list literals.
func WriteCSV(w io.Writer, rows []Row) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(Header + "\n")
	for _, row := range rows {
		bw.WriteString(row.Name)
		bw.WriteString(`,"`)
		writeList(bw, row.Weather[:])
		bw.WriteString(`","`)
		writeList(bw, row.Ground[:])
		bw.WriteString("\"\n")
	}
	return bw.Flush()
}

// listWriter is what writeList needs of bufio.Writer and bytes.Buffer.
type listWriter interface {
	WriteByte(c byte) error
	WriteString(s string) (int, error)
}

func writeList(w listWriter, values []uint8) {
	w.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteByte('0' + v)
	}
	w.WriteByte(']')
}

// ErrCSV is wrapped by every CSV parsing error.
var ErrCSV = errors.New("synth: bad CSV")

// CSVError locates a CSV problem.
type CSVError struct {
	Line   int    // 1-based line number in the file
	Column string // column name, or "" for a whole-line problem
	Err    error
}

func (e *CSVError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d, column %s: %v", e.Line, e.Column, e.Err)
}

func (e *CSVError) Unwrap() error { return e.Err }

// ParseList parses a label vector written as a Python list literal of 0/1
// integers, "[0, 1, 0]", into dst, whose length it must match.
func ParseList(s string, dst []uint8) error {
	s = strings.TrimSpace(s)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return fmt.Errorf("%w: %q is not a [..] list", ErrCSV, s)
	}
	body := strings.TrimSpace(s[1 : len(s)-1])
	var parts []string
	if body != "" {
		parts = strings.Split(body, ",")
	}
	if len(parts) != len(dst) {
		return fmt.Errorf("%w: %q has %d values, want %d", ErrCSV, s, len(parts), len(dst))
	}
	for i, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 0 || v > 1 {
			return fmt.Errorf("%w: %q: value %d is %q, want 0 or 1", ErrCSV, s, i, strings.TrimSpace(p))
		}
		dst[i] = uint8(v)
	}
	return nil
}

// ReadCSVFile reads the rows of the CSV file at path (see ReadCSV); errors
// name the file.
func ReadCSVFile(path string) ([]Row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := ReadCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// ReadCSV reads rows in the seed's format. The header must name the columns
// image_name, weather_labels and ground_labels (in any order; others are
// ignored). Errors are *CSVError values wrapping ErrCSV.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, &CSVError{Line: 1, Err: fmt.Errorf("%w: empty file, want header %q", ErrCSV, Header)}
	}
	if err != nil {
		return nil, csvReadError(err)
	}
	names := [3]string{"image_name", "weather_labels", "ground_labels"}
	var columns [3]int
	for c, name := range names {
		columns[c] = -1
		for i, h := range header {
			if i == 0 {
				h = strings.TrimPrefix(h, "\ufeff")
			}
			if h == name {
				columns[c] = i
			}
		}
		if columns[c] < 0 {
			return nil, &CSVError{Line: 1, Err: fmt.Errorf("%w: header %q has no column %s", ErrCSV, strings.Join(header, ","), name)}
		}
	}
	var rows []Row
	for {
		record, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, csvReadError(err)
		}
		line, _ := cr.FieldPos(0)
		var row Row
		for c, col := range columns {
			name := names[c]
			if col >= len(record) {
				return nil, &CSVError{Line: line, Column: name, Err: fmt.Errorf("%w: %d fields, no column %s", ErrCSV, len(record), name)}
			}
			switch value := record[col]; name {
			case "image_name":
				row.Name = value
				if value == "" {
					err = fmt.Errorf("%w: empty image name", ErrCSV)
				}
			case "weather_labels":
				err = ParseList(value, row.Weather[:])
			case "ground_labels":
				err = ParseList(value, row.Ground[:])
			}
			if err != nil {
				return nil, &CSVError{Line: line, Column: name, Err: err}
			}
		}
		rows = append(rows, row)
	}
}

func csvReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Err: fmt.Errorf("%w: %v", ErrCSV, pe.Err)}
	}
	return err
}

package schema

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors of CSV rows, wrapped in a *FieldError; test with errors.Is.
var (
	ErrMissingColumn  = errors.New("schema: missing column")
	ErrRepeatedColumn = errors.New("schema: column appears more than once")
	ErrFieldCount     = errors.New("schema: wrong number of fields")
	ErrEmptyKey       = errors.New("schema: empty key")
	ErrKeyEncoding    = errors.New("schema: key is not valid UTF-8")
	ErrLength         = errors.New("schema: wrong number of values")
	ErrNotBinary      = errors.New("schema: value is not 0 or 1")
	ErrNotOneHot      = errors.New("schema: not one-hot")
	ErrUnknownTag     = errors.New("schema: unknown tag")
	ErrUnknownClass   = errors.New("schema: unknown class")
	ErrPathEscape     = errors.New("schema: image path escapes the images root")
)

// FieldError is a bad cell (or, with an empty Column, a bad record).
type FieldError struct {
	Line   int    // 1-based line of the record in the CSV file
	Column string // header name of the column
	Value  string // the cell
	Err    error  // wraps one of the package's sentinel errors
}

func (e *FieldError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d, column %q, value %s: %v", e.Line, e.Column, QuoteCell(e.Value), e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// MaxQuoted is how many bytes of a cell QuoteCell keeps.
const MaxQuoted = 120

// QuoteCell quotes a cell for a message (Go syntax, as %q), keeping at most
// MaxQuoted bytes of it and saying how long the rest was: a message about a
// 1 MiB cell must not carry the cell into errors.csv and the manifest.
func QuoteCell(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	cut := MaxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes in all)", strconv.Quote(s[:cut]), len(s))
}

// Warning is a questionable cell that was kept; Strict mode rejects it.
type Warning struct {
	Line    int
	Column  string
	Value   string
	Message string
}

func (w Warning) String() string { return fmt.Sprintf("line %d, %s", w.Line, w.Detail()) }

// Detail is the warning without its line: column, value and message, for
// records that give the line apart (dataset.Warning).
func (w Warning) Detail() string {
	return fmt.Sprintf("column %q, value %s: %s", w.Column, QuoteCell(w.Value), w.Message)
}

// Row is one decoded CSV record.
type Row struct {
	Line int    // 1-based line of the record in the CSV file
	Key  string // the key column's value
	// ImagePath is the image file relative to the images root, slash
	// separated and cleaned; it cannot be absolute or leave the root.
	ImagePath string
	Labels    []Label // one per spec label, in spec order
}

// Label is one label's vector.
type Label struct {
	Feature string
	Values  []float32
}

// RowDecoder decodes CSV records of one file (one header) into Rows. It is
// not safe for concurrent use; it keeps no reference to decoded records.
type RowDecoder struct {
	spec      *Spec
	width     int // fields per record
	keyIndex  int
	pathCols  []string       // columns the image path template references
	colIndex  map[string]int // needed column → field index
	labels    []labelDecoder
	tagGroups map[string][]int // tags column → its labels, to tell unknown tags
	scratch   []float64
}

type labelDecoder struct {
	LabelSpec
	index int            // field index of the column
	vocab map[string]int // name → position
}

// NewRowDecoder binds the spec to a CSV header. Every column the spec needs
// must appear exactly once; otherwise the error is a *HeaderError listing
// every missing or repeated column. A UTF-8 byte order mark before the first
// name is ignored.
func (s *Spec) NewRowDecoder(header []string) (*RowDecoder, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	d := &RowDecoder{spec: s, width: len(header), colIndex: map[string]int{}, tagGroups: map[string][]int{}}
	positions := map[string][]int{}
	for i, name := range header {
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff")
		}
		positions[name] = append(positions[name], i)
	}
	d.pathCols, _ = templateColumns(s.CSV.ImagePath)
	herr := &HeaderError{Spec: s.Name, Header: header}
	for _, need := range s.neededColumns() {
		switch p := positions[need.Name]; len(p) {
		case 1:
			d.colIndex[need.Name] = p[0]
		case 0:
			herr.Missing = append(herr.Missing, need)
		default:
			herr.Repeated = append(herr.Repeated, need)
		}
	}
	if len(herr.Missing) > 0 || len(herr.Repeated) > 0 {
		return nil, herr
	}
	d.keyIndex = d.colIndex[s.CSV.KeyColumn]
	for i, l := range s.Labels {
		ld := labelDecoder{LabelSpec: l, index: d.colIndex[l.Column], vocab: make(map[string]int, len(l.Names))}
		for j, name := range l.Names {
			ld.vocab[name] = j
		}
		d.labels = append(d.labels, ld)
		if l.Kind == KindTags {
			d.tagGroups[l.Column] = append(d.tagGroups[l.Column], i)
		}
	}
	return d, nil
}

// NeededColumn is a CSV column a spec reads, and what for.
type NeededColumn struct {
	Name string
	Role string // "key", "image path", "label weather_labels", joined by ", " when several
}

// neededColumns lists the columns the spec reads, in order of first use:
// the key, the image path's columns, the labels'.
func (s *Spec) neededColumns() []NeededColumn {
	var cols []NeededColumn
	add := func(name, role string) {
		if i := slices.IndexFunc(cols, func(c NeededColumn) bool { return c.Name == name }); i >= 0 {
			if !strings.Contains(", "+cols[i].Role+", ", ", "+role+", ") {
				cols[i].Role += ", " + role
			}
			return
		}
		cols = append(cols, NeededColumn{Name: name, Role: role})
	}
	add(s.CSV.KeyColumn, "key")
	refs, _ := templateColumns(s.CSV.ImagePath)
	for _, col := range refs {
		add(col, "image path")
	}
	for _, l := range s.Labels {
		add(l.Column, "label "+l.Feature)
	}
	return cols
}

// HeaderError is a CSV header that does not fit a spec. It wraps
// ErrMissingColumn when columns are missing and ErrRepeatedColumn when
// columns appear more than once.
type HeaderError struct {
	Spec     string   // the spec's name
	Header   []string // the CSV header as read
	Missing  []NeededColumn
	Repeated []NeededColumn
}

func (e *HeaderError) Error() string {
	var b strings.Builder
	list := func(cols []NeededColumn) string {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = fmt.Sprintf("%q (%s)", c.Name, c.Role)
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintf(&b, "schema: the CSV header [%s] does not fit the spec %q:", strings.Join(e.Header, ", "), e.Spec)
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, " %s %s", plural(len(e.Missing), "missing column", "missing columns"), list(e.Missing))
	}
	if len(e.Repeated) > 0 {
		if len(e.Missing) > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s %s", plural(len(e.Repeated), "column appearing more than once:", "columns appearing more than once:"), list(e.Repeated))
	}
	b.WriteString(`; choose the spec that describes this CSV with --spec, or start one from its header with "tfprep spec init --csv FILE"`)
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (e *HeaderError) Unwrap() []error {
	var errs []error
	if len(e.Missing) > 0 {
		errs = append(errs, ErrMissingColumn)
	}
	if len(e.Repeated) > 0 {
		errs = append(errs, ErrRepeatedColumn)
	}
	return errs
}

// Decode decodes one record; line is its 1-based line in the CSV file (for
// messages). A bad cell gives a *FieldError. Warnings are cells that were
// kept but look wrong (see Spec.Strict).
func (d *RowDecoder) Decode(line int, record []string) (Row, []Warning, error) {
	if len(record) != d.width {
		return Row{}, nil, &FieldError{Line: line, Err: fmt.Errorf("%w: got %d, want %d as in the header", ErrFieldCount, len(record), d.width)}
	}
	row := Row{Line: line, Key: record[d.keyIndex]}
	if strings.TrimSpace(row.Key) == "" {
		return Row{}, nil, &FieldError{Line: line, Column: d.spec.CSV.KeyColumn, Value: row.Key, Err: ErrEmptyKey}
	}
	if !utf8.ValidString(row.Key) {
		// dataset.json declares the key feature utf-8, and errors.csv and
		// the manifest's warnings are text: a key must be text to be one.
		return Row{}, nil, &FieldError{Line: line, Column: d.spec.CSV.KeyColumn, Value: row.Key,
			Err: fmt.Errorf("%w at byte %d; save the CSV as UTF-8", ErrKeyEncoding, invalidUTF8At(row.Key))}
	}
	imagePath, err := d.imagePath(line, record)
	if err != nil {
		return Row{}, nil, err
	}
	row.ImagePath = imagePath
	var warnings []Warning
	row.Labels = make([]Label, len(d.labels))
	for i := range d.labels {
		l := &d.labels[i]
		cell := record[l.index]
		values := make([]float32, l.Size)
		var err error
		switch l.Kind {
		case KindList:
			err = d.decodeList(l, cell, values)
		case KindTags:
			err = d.decodeTags(l, cell, values)
		case KindClass:
			err = decodeClass(l, cell, values)
		}
		if err == nil && l.Semantics == OneHot {
			var warning string
			warning, err = checkOneHot(values, d.allZeroRefusal(l))
			if warning != "" {
				warnings = append(warnings, Warning{Line: line, Column: l.Column, Value: cell, Message: l.Feature + ": " + warning})
			}
		}
		if err != nil {
			return Row{}, nil, &FieldError{Line: line, Column: l.Column, Value: cell, Err: err}
		}
		row.Labels[i] = Label{Feature: l.Feature, Values: values}
	}
	return row, warnings, nil
}

func (d *RowDecoder) imagePath(line int, record []string) (string, error) {
	var culprit string
	p, err := expandTemplate(d.spec.CSV.ImagePath, func(col string) (string, bool) {
		v := record[d.colIndex[col]]
		if culprit == "" && (strings.Contains(v, "..") || strings.HasPrefix(v, "/") || strings.ContainsRune(v, 0)) {
			culprit = col
		}
		return v, true
	})
	if culprit == "" {
		culprit = d.pathCols[0]
	}
	if err != nil {
		return "", &FieldError{Line: line, Column: culprit, Value: record[d.colIndex[culprit]], Err: err}
	}
	cleaned := path.Clean(p)
	// filepath.IsLocal rejects empty, absolute and "..".-escaping paths (and,
	// on Windows, reserved names); "." would name the root itself.
	if !filepath.IsLocal(p) || cleaned == "." || strings.ContainsRune(p, 0) {
		return "", &FieldError{Line: line, Column: culprit, Value: record[d.colIndex[culprit]],
			Err: fmt.Errorf("%w: %s is empty, absolute or outside the images root", ErrPathEscape, QuoteCell(p))}
	}
	return cleaned, nil
}

func (d *RowDecoder) decodeList(l *labelDecoder, cell string, values []float32) error {
	var err error
	d.scratch, err = ParseList(d.scratch[:0], cell)
	if err != nil {
		return err
	}
	if len(d.scratch) != l.Size {
		return fmt.Errorf("%w: got %d, want %d", ErrLength, len(d.scratch), l.Size)
	}
	for i, v := range d.scratch {
		if v != 0 && v != 1 {
			return fmt.Errorf("%w: element %d is %v; a %s label holds 0s and 1s", ErrNotBinary, i, v, l.Semantics)
		}
		values[i] = float32(v)
	}
	return nil
}

func (d *RowDecoder) decodeTags(l *labelDecoder, cell string, values []float32) error {
	var tags []string
	if l.Separator == "" {
		tags = strings.Fields(cell)
	} else {
		tags = strings.Split(cell, l.Separator)
	}
	for _, tag := range tags {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue
		}
		if j, ok := l.vocab[tag]; ok {
			// A set: a repeated tag (73 rows of Kaggle's train_v2.csv) is one 1.
			values[j] = 1
			continue
		}
		known := false
		for _, other := range d.tagGroups[l.Column] {
			if _, ok := d.labels[other].vocab[tag]; ok {
				known = true
				break
			}
		}
		if !known {
			return fmt.Errorf("%w %q; known: %s", ErrUnknownTag, tag, strings.Join(d.columnVocabulary(l.Column), " "))
		}
	}
	return nil
}

func (d *RowDecoder) columnVocabulary(column string) []string {
	var names []string
	for _, i := range d.tagGroups[column] {
		names = append(names, d.labels[i].Names...)
	}
	return names
}

func decodeClass(l *labelDecoder, cell string, values []float32) error {
	name := strings.TrimSpace(cell)
	if j, ok := l.vocab[name]; ok {
		values[j] = 1
		return nil
	}
	if j, err := strconv.Atoi(name); err == nil && j >= 0 && j < l.Size {
		values[j] = 1
		return nil
	}
	if len(l.Names) == 0 {
		return fmt.Errorf("%w: want an index 0..%d", ErrUnknownClass, l.Size-1)
	}
	return fmt.Errorf("%w: want one of %s or an index 0..%d", ErrUnknownClass, strings.Join(l.Names, ", "), l.Size-1)
}

// allZeroRefusal says why an all-zero onehot vector is rejected for label
// l, or "" when it is kept with a warning.
func (d *RowDecoder) allZeroRefusal(l *labelDecoder) string {
	switch {
	case l.Encoding == ClassIndex:
		return "a class_index label needs exactly one class"
	case d.spec.Strict:
		return "strict mode"
	}
	return ""
}

// invalidUTF8At returns the byte offset of the first invalid UTF-8 sequence
// in s.
func invalidUTF8At(s string) int {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return i
			}
		}
	}
	return len(s)
}

// checkOneHot accepts exactly one 1. An all-zero vector is real (the seed
// CSV's train_24448 has no weather tag): kept with a warning unless strict.
// refusal says why it is rejected instead, "" if it is not.
func checkOneHot(values []float32, refusal string) (warning string, err error) {
	ones := 0
	for _, v := range values {
		if v != 0 {
			ones++
		}
	}
	switch {
	case ones == 1:
		return "", nil
	case ones > 1:
		return "", fmt.Errorf("%w: %d values are 1", ErrNotOneHot, ones)
	case refusal != "":
		return "", fmt.Errorf("%w: all values are 0 (%s)", ErrNotOneHot, refusal)
	}
	return "all values are 0, not one-hot; kept", nil
}

package schema

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Draft guesses a spec for a CSV from its header and sample records (the
// more, the more complete the vocabularies): the key column and image path,
// and one label per remaining column with its kind, vocabulary and
// semantics. The notes say what was guessed and what to check; the image
// size is a placeholder to set to the model's input. The draft is valid, but
// it is a start to edit, not a verdict: a vocabulary holds only the names the
// sample shows. Records whose field count differs from the header are
// ignored.
func Draft(name string, header []string, records [][]string) (*Spec, []string, error) {
	if len(header) < 2 {
		return nil, nil, fmt.Errorf("schema: a CSV header of %d columns [%s]: want a key column and at least one label column", len(header), strings.Join(header, ", "))
	}
	header = slices.Clone(header)
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	var sample [][]string
	for _, r := range records {
		if len(r) == len(header) {
			sample = append(sample, r)
		}
	}
	column := func(i int) []string {
		cells := make([]string, len(sample))
		for j, r := range sample {
			cells[j] = strings.TrimSpace(r[i])
		}
		return cells
	}
	s := &Spec{Name: name, Image: ImageSpec{Width: 128, Height: 128}}
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }

	key := draftKeyColumn(header, column)
	s.CSV.KeyColumn = header[key]
	s.CSV.ImagePath = "{" + header[key] + "}"
	if !slices.ContainsFunc(column(key), hasImageExtension) {
		s.CSV.ImagePath += ".jpg"
	}
	note("csv: key column %q, image files %q under --images; check both", s.CSV.KeyColumn, s.CSV.ImagePath)
	note("image: 128x128 is a placeholder: set width and height to your model's input")
	if len(sample) == 0 {
		note("no data rows to learn from: every label is a guess; set kind and names")
	} else {
		note("vocabularies hold the names seen in the %d rows read; add any others the data uses", len(sample))
	}
	for i, col := range header {
		if i == key {
			continue
		}
		if slices.Index(header, col) < i {
			note("column %q left out: it repeats an earlier column's name", col)
			continue
		}
		l, why := draftLabel(col, column(i))
		if l == nil {
			note("column %q left out: %s", col, why)
			continue
		}
		note("labels: %q read as %s", col, why)
		s.Labels = append(s.Labels, *l)
	}
	if slices.Contains(header, "image") {
		s.Image.Feature = "image_data"
		note("image: stored as feature %q, since a column is called image", s.Image.Feature)
	}
	if len(s.Labels) == 0 {
		return nil, notes, fmt.Errorf("schema: no column of [%s] looks like a label:\n  %s", strings.Join(header, ", "), strings.Join(notes, "\n  "))
	}
	if err := s.Validate(); err != nil {
		return nil, notes, fmt.Errorf("schema: the drafted spec is invalid: %w", err)
	}
	return s, notes, nil
}

// draftKeyColumn picks the column holding image file names: the first whose
// values have an image extension, else the first of a usual name, else the
// first column.
func draftKeyColumn(header []string, column func(int) []string) int {
	for i := range header {
		cells := column(i)
		if len(cells) > 0 && !slices.ContainsFunc(cells, func(c string) bool { return !hasImageExtension(c) }) {
			return i
		}
	}
	for _, usual := range []string{"image_name", "image", "filename", "file_name", "file", "image_id", "id", "path", "name"} {
		if i := slices.IndexFunc(header, func(h string) bool { return strings.EqualFold(h, usual) }); i >= 0 {
			return i
		}
	}
	return 0
}

func hasImageExtension(cell string) bool {
	switch strings.ToLower(path.Ext(cell)) {
	case ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff":
		return true
	}
	return false
}

// maxDraftClasses is the largest vocabulary a drafted class or tags label
// gets; a column with more distinct values is more likely an identifier or
// a measurement than a label.
const maxDraftClasses = 1000

// draftLabel guesses the label a column holds, and says why; nil when the
// column does not look like a label.
func draftLabel(col string, cells []string) (*LabelSpec, string) {
	l := &LabelSpec{Column: col}
	if len(cells) == 0 {
		l.Kind, l.Size = KindClass, 2
		return l, "a class (no rows to tell; size 2 is a placeholder)"
	}
	if size, onehot, ok := draftList(cells); ok {
		l.Kind, l.Size, l.Semantics = KindList, size, MultiHot
		if onehot {
			l.Semantics = OneHot
		}
		return l, fmt.Sprintf("%s list literals of %d values", l.Semantics, size)
	}
	separator, multi := draftSeparator(cells)
	seen := map[string]bool{}
	for _, c := range cells {
		for _, name := range splitTags(c, separator) {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for name := range seen {
		names = append(names, name)
	}
	slices.Sort(names)
	switch {
	case len(names) == 0:
		return nil, "every cell is empty"
	case len(names) > maxDraftClasses:
		return nil, fmt.Sprintf("%d distinct values, too many for a label", len(names))
	case multi && slices.ContainsFunc(names, func(n string) bool { return strings.ContainsAny(n, " \t") }):
		return nil, fmt.Sprintf("tags with spaces inside (%q); a tag is one word", names[slices.IndexFunc(names, func(n string) bool { return strings.ContainsAny(n, " \t") })])
	case multi:
		l.Kind, l.Names, l.Semantics, l.Separator = KindTags, names, MultiHot, separator
		how := "whitespace"
		if separator != "" {
			how = strconv.Quote(separator)
		}
		return l, fmt.Sprintf("multihot tags split on %s, %d names", how, len(names))
	}
	if slices.Contains(cells, "") {
		return nil, "a class column with empty cells (every row needs a class)"
	}
	l.Kind, l.Semantics = KindClass, OneHot
	if indexes, ok := draftIndexes(names); ok {
		l.Size = indexes
		return l, fmt.Sprintf("a class given by its index 0..%d; add names if you have them", indexes-1)
	}
	l.Names = names
	return l, fmt.Sprintf("a class, %d names", len(names))
}

// draftList reports whether every cell is a list literal of 0s and 1s of
// one length, and whether none has more than one 1.
func draftList(cells []string) (size int, onehot, ok bool) {
	onehot = true
	var values []float64
	for i, c := range cells {
		if !strings.HasPrefix(c, "[") && !strings.HasPrefix(c, "(") {
			return 0, false, false
		}
		var err error
		if values, err = ParseList(values[:0], c); err != nil {
			return 0, false, false
		}
		if i == 0 {
			size = len(values)
		}
		if len(values) != size || size == 0 {
			return 0, false, false
		}
		ones := 0
		for _, v := range values {
			switch v {
			case 1:
				ones++
			case 0:
			default:
				return 0, false, false
			}
		}
		// An all-zero row (the seed CSV has one) is a onehot label's warning.
		onehot = onehot && ones <= 1
	}
	return size, onehot, true
}

// draftSeparator picks how a cell lists several names: whitespace (""), or
// the first of , ; | that a cell uses. multi is false when no cell holds
// more than one name.
func draftSeparator(cells []string) (separator string, multi bool) {
	for _, sep := range []string{",", ";", "|"} {
		if slices.ContainsFunc(cells, func(c string) bool { return strings.Contains(c, sep) }) {
			return sep, true
		}
	}
	return "", slices.ContainsFunc(cells, func(c string) bool { return len(strings.Fields(c)) > 1 })
}

func splitTags(cell, separator string) []string {
	if separator == "" {
		return strings.Fields(cell)
	}
	var names []string
	for _, name := range strings.Split(cell, separator) {
		if name = strings.TrimSpace(name); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// draftIndexes reports whether the names are all small non-negative
// integers, and the class count they imply.
func draftIndexes(names []string) (int, bool) {
	largest := -1
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil || n < 0 || n >= maxDraftClasses || strconv.Itoa(n) != name {
			return 0, false
		}
		largest = max(largest, n)
	}
	return largest + 1, true
}

// DraftYAML drafts a spec from the CSV text of the file named source (see
// DraftCSV) and returns it as YAML, headed by comments saying where it comes
// from and listing the notes on what was guessed.
func DraftYAML(source string, r io.Reader, maxRows int) ([]byte, error) {
	name := strings.TrimSuffix(path.Base(source), path.Ext(source))
	s, notes, err := DraftCSV(name, r, maxRows)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	out, err := s.YAML()
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("# Drafted by \"tfprep spec init\" from %q. Check it, then\n# \"tfprep spec validate\" it and convert with --spec:\n", source)
	for _, n := range notes {
		head += "#   " + n + "\n"
	}
	return append([]byte(head), out...), nil
}

// DraftCSV drafts a spec (see Draft) from CSV text: its header and up to
// maxRows records (every record when maxRows <= 0). Records that do not
// parse are skipped; a header that does not is an error.
func DraftCSV(name string, r io.Reader, maxRows int) (*Spec, []string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, errors.New("schema: empty CSV, want a header line")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("schema: CSV header: %w", err)
	}
	var records [][]string
	for maxRows <= 0 || len(records) < maxRows {
		record, err := cr.Read()
		if err == io.EOF {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("schema: reading the CSV: %w", err)
		}
		records = append(records, record)
	}
	return Draft(name, header, records)
}

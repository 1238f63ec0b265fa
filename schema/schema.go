// Package schema says what a dataset is: which CSV columns hold the image key
// and the labels, how label cells are read, how images are prepared, and
// which tf.train.Example features the converter writes. A Spec is that
// description; it is written as YAML or JSON, or taken from a preset
// ("planet", the seed Kaggle Planet pipeline).
//
// From a Spec, the converter gets a RowDecoder (CSV record → Row, with
// line/column errors for bad cells) and AppendExample (Row + image bytes →
// serialized Example); the reading side gets ReadExample (Example → typed
// tensors), Features (the machine-readable feature description the manifest
// embeds) and Python (tf.data code that parses the same records).
//
// A spec file for the seed's CSV:
//
//	name: planet
//	csv:
//	  key_column: image_name
//	  image_path: "{image_name}.jpg"
//	labels:
//	  - column: weather_labels
//	    kind: list          # "[0, 0, 1, 0]", read like ast.literal_eval
//	    semantics: onehot
//	    names: [clear, cloudy, haze, partly_cloudy]
//	  - column: ground_labels
//	    kind: list
//	    semantics: multihot
//	    names: [agriculture, artisinal_mine, ...]
//	image: {width: 128, height: 128, filter: nearest, encoding: float32}
//
// Each label becomes one feature (default name: its column) of len(names)
// values, stored by default as the raw little-endian float32 bytes of the
// vector, as the seed's np.ndarray.tostring() did.
package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tfprep/tfprep/imageprep"
)

// Spec describes a dataset. The zero values of optional fields mean the
// defaults documented on each field; Validate fills them in.
type Spec struct {
	// Name identifies the spec (a preset name or the user's own).
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description" yaml:"description"`
	// Strict rejects rows that the default mode keeps with a warning, such as
	// an all-zero vector in a one-hot label.
	Strict bool `json:"strict" yaml:"strict"`
	// Source is where the rows come from: csv (default), one CSV record per
	// image, or imagefolder, one file per image under the images root,
	// its class the first folder of its path (see SourceImageFolder).
	Source string      `json:"source" yaml:"source"`
	CSV    CSV         `json:"csv" yaml:"csv"`
	Labels []LabelSpec `json:"labels" yaml:"labels"`
	Image  ImageSpec   `json:"image" yaml:"image"`
	Key    KeySpec     `json:"key" yaml:"key"`
}

// Row sources.
const (
	SourceCSV = "csv"
	// SourceImageFolder reads the tree ROOT/CLASS/.../IMAGE (Keras
	// image_dataset_from_directory, torchvision's ImageFolder) as a table
	// of two columns: FolderPathColumn, the file's path relative to ROOT
	// with forward slashes, and FolderClassColumn, its first folder. Class
	// labels that list no names get the sorted class folders as names when
	// the dataset is converted, and the manifest records them.
	SourceImageFolder = "imagefolder"
)

// The columns of an image folder's rows (SourceImageFolder).
const (
	FolderPathColumn  = "path"
	FolderClassColumn = "class"
)

// FolderHeader is the header of the table an image folder is read as.
func FolderHeader() []string { return []string{FolderPathColumn, FolderClassColumn} }

// NeedsClassNames reports whether s reads an image folder and has a label
// whose names are still to be taken from the class folders.
func (s *Spec) NeedsClassNames() bool {
	if s.Source != SourceImageFolder {
		return false
	}
	for _, l := range s.Labels {
		if len(l.Names) == 0 && l.Size == 0 {
			return true
		}
	}
	return false
}

// WithClassNames returns a copy of s whose labels without names get
// classes (sorted class folder names) as names, validated.
func (s *Spec) WithClassNames(classes []string) (*Spec, error) {
	c := *s
	c.Labels = slices.Clone(s.Labels)
	for i := range c.Labels {
		if l := &c.Labels[i]; len(l.Names) == 0 && l.Size == 0 {
			l.Names, l.Size = slices.Clone(classes), len(classes)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// CSV says how rows of the CSV file are read.
type CSV struct {
	// KeyColumn names the column that identifies a row; default "image_name".
	KeyColumn string `json:"key_column" yaml:"key_column"`
	// ImagePath is the image file of a row relative to the images root:
	// {column} is replaced by that column's value and {{ }} stand for literal
	// braces. Default "{" + KeyColumn + "}.jpg".
	ImagePath string `json:"image_path" yaml:"image_path"`
}

// Label kinds: how a label cell is written in the CSV.
const (
	KindList  = "list"  // a Python list literal of numbers: "[0, 1, 0, 0]"
	KindTags  = "tags"  // separator-split names: "haze primary water"
	KindClass = "class" // one name or a 0-based integer index: "daisy" or "3"
)

// Label semantics.
const (
	OneHot   = "onehot"   // exactly one value is 1
	MultiHot = "multihot" // any number of values are 1
)

// Label feature encodings.
const (
	RawFloat32 = "raw_float32" // one bytes value: little-endian float32s (the seed's tostring())
	FloatList  = "float_list"
	Int64List  = "int64_list"
	// ClassIndex stores a onehot label as the 0-based index of its 1: one
	// int64, a scalar tensor, the target of Keras' sparse categorical
	// losses.
	ClassIndex = "class_index"
)

// LabelSpec describes one label column and the feature it becomes.
type LabelSpec struct {
	// Column is the CSV column the label is read from. Several tags labels may
	// read one column (Kaggle's "tags" holds weather and ground tags); a tag
	// is then unknown only if no label of that column names it.
	Column string `json:"column" yaml:"column"`
	// Kind is list, tags or class.
	Kind string `json:"kind" yaml:"kind"`
	// Semantics is onehot or multihot; default onehot for class, multihot
	// otherwise.
	Semantics string `json:"semantics" yaml:"semantics"`
	// Names is the vocabulary, index i naming value i of the vector. Required
	// for tags; optional for list and class if Size is given.
	Names []string `json:"names" yaml:"names,flow"`
	// Size is the vector length; default len(Names). When both are given
	// they must agree.
	Size int `json:"size" yaml:"size"`
	// Separator splits a tags cell; default: runs of whitespace.
	Separator string `json:"separator" yaml:"separator"`
	// Feature is the Example feature name; default Column (or, when several
	// labels share a column, required).
	Feature string `json:"feature" yaml:"feature"`
	// Encoding is raw_float32 (default), float_list, int64_list or, for a
	// onehot label, class_index.
	Encoding string `json:"encoding" yaml:"encoding"`
}

// ImageSpec says how images are prepared and stored.
type ImageSpec struct {
	// Feature is the Example feature name; default "image".
	Feature string `json:"feature" yaml:"feature"`
	// Width and Height are the target size in pixels.
	Width  int `json:"width" yaml:"width"`
	Height int `json:"height" yaml:"height"`
	// ColorMode is rgb (default), grayscale or rgba.
	ColorMode string `json:"color_mode" yaml:"color_mode"`
	// Filter is the resize filter; default nearest, as Keras load_img.
	Filter string `json:"filter" yaml:"filter"`
	// KeepAspectRatio center-crops to the target aspect ratio before
	// resizing, like Keras load_img(keep_aspect_ratio=True).
	KeepAspectRatio bool `json:"keep_aspect_ratio" yaml:"keep_aspect_ratio"`
	// ApplyOrientation rotates and flips by the EXIF orientation first
	// (phone photos); Keras does not, so the default is off.
	ApplyOrientation bool `json:"apply_orientation" yaml:"apply_orientation"`
	// Encoding is float32 (default: raw float32 pixels/255, HWC), uint8
	// (raw bytes, HWC), png or jpeg.
	Encoding string `json:"encoding" yaml:"encoding"`
	// JPEGQuality is 1..100 for the jpeg encoding; default 95.
	JPEGQuality int `json:"jpeg_quality" yaml:"jpeg_quality"`
	// Mean and Std normalise each channel after /255 (float32 encoding
	// only): (x/255 - Mean[c]) / Std[c]. Both or neither, one per channel.
	Mean []float32 `json:"mean" yaml:"mean,flow"`
	Std  []float32 `json:"std" yaml:"std,flow"`
}

// KeySpec says whether the row key is stored as a bytes feature. It is by
// default: tf.data ignores features it is not asked for, and the key lets a
// record be traced back to its CSV row.
type KeySpec struct {
	// Omit leaves the key out of the Example.
	Omit bool `json:"omit" yaml:"omit"`
	// Feature is the feature name; default the key column's name.
	Feature string `json:"feature" yaml:"feature"`
}

// ErrInvalidSpec is wrapped by every error that Validate, Load and Parse
// return for a spec that cannot be used.
var ErrInvalidSpec = errors.New("schema: invalid spec")

// Load reads a spec file: JSON for .json, YAML for .yaml and .yml. Unknown
// fields are errors. The returned spec is validated, defaults filled in.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var format string
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		format = "json"
	case ".yaml", ".yml":
		format = "yaml"
	default:
		return nil, fmt.Errorf("%s: %w: unknown spec file extension, want .yaml, .yml or .json", path, ErrInvalidSpec)
	}
	return Parse(data, format, path)
}

// Parse decodes a spec from data in format "json" or "yaml"; source names it
// in errors (a file name). Unknown fields are errors. The returned spec is
// validated, defaults filled in.
func Parse(data []byte, format, source string) (*Spec, error) {
	s, problems, err := decodeSpec(data, format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", source, ErrInvalidSpec, err)
	}
	// Validate after cutting out what did not decode: its complaints about
	// those fields (an empty name where the name was a list) say nothing new.
	structural := problems
	for _, p := range s.validate() {
		if !slices.ContainsFunc(structural, func(reported Problem) bool { return within(p.Path, reported.Path) }) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &SpecError{Source: source, Name: s.Name, Problems: problems}
	}
	return s, nil
}

// within reports whether path is base or a field or element below it.
func within(path, base string) bool {
	rest, ok := strings.CutPrefix(path, base)
	return ok && (base == "" || rest == "" || rest[0] == '.' || rest[0] == '[')
}

// Resolve returns a preset by name or loads a spec file. A directory is an
// error: the spec a converted dataset embeds is package dataset's to read
// (dataset.ResolveSpec takes a preset, a file or a dataset directory).
func Resolve(nameOrPath string) (*Spec, error) {
	if slices.Contains(PresetNames(), nameOrPath) {
		return Preset(nameOrPath)
	}
	info, err := os.Stat(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			return nil, fmt.Errorf("%w: %q is neither a preset (%s) nor a file", ErrInvalidSpec, nameOrPath, strings.Join(PresetNames(), ", "))
		}
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory, not a spec file", ErrInvalidSpec, nameOrPath)
	}
	return Load(nameOrPath)
}

// Marshal returns the spec as canonical JSON: defaults explicit, fields in
// declaration order, two-space indent. The manifest embeds it.
func (s *Spec) Marshal() ([]byte, error) {
	return json.MarshalIndent(s, "", "  ")
}

// Validate fills in defaults for omitted fields and checks the spec. The
// error is a *SpecError (wrapping ErrInvalidSpec) that lists every problem
// with its field path, such as labels[1].names[3].
func (s *Spec) Validate() error {
	if problems := s.validate(); len(problems) > 0 {
		return &SpecError{Name: s.Name, Problems: problems}
	}
	return nil
}

// validate fills in defaults and returns every problem.
func (s *Spec) validate() []Problem {
	s.setDefaults()
	var problems []Problem
	bad := func(field, format string, args ...any) {
		problems = append(problems, Problem{Path: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(s.Name) == "" {
		bad("name", "must not be empty")
	}
	folder := s.Source == SourceImageFolder
	switch s.Source {
	case SourceCSV:
	case SourceImageFolder:
		for _, c := range s.neededColumns() {
			if c.Name != FolderPathColumn && c.Name != FolderClassColumn {
				bad("source", "an imagefolder spec reads the columns %q and %q of the folder tree; %q (%s) is not one of them", FolderPathColumn, FolderClassColumn, c.Name, c.Role)
			}
		}
	default:
		bad("source", "unknown source %q, want csv or imagefolder", s.Source)
	}
	if s.CSV.KeyColumn == "" {
		bad("csv.key_column", "must not be empty")
	}
	refs, err := templateColumns(s.CSV.ImagePath)
	switch {
	case err != nil:
		bad("csv.image_path", "%v", err)
	case len(refs) == 0:
		bad("csv.image_path", "%q references no column, so every row would name the same image", s.CSV.ImagePath)
	}
	if len(s.Labels) == 0 {
		bad("labels", "want at least one label")
	}
	features := map[string]string{}
	claim := func(name, field string) {
		if name == "" {
			return
		}
		if !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0 {
			bad(field, "feature name %q is not valid UTF-8 or has control characters", name)
			return
		}
		if prev, dup := features[name]; dup {
			bad(field, "feature %q is already used by %s", name, prev)
			return
		}
		features[name] = field
	}
	claim(s.Image.Feature, "image.feature")
	if !s.Key.Omit {
		claim(s.Key.Feature, "key.feature")
	}
	columnKinds := map[string]string{}
	columnUses := map[string]int{}
	for _, l := range s.Labels {
		columnUses[l.Column]++
	}
	for i, l := range s.Labels {
		field := fmt.Sprintf("labels[%d]", i)
		s.validateLabel(field, l, columnUses[l.Column] > 1, folder, bad)
		claim(l.Feature, field+".feature")
		if prev, ok := columnKinds[l.Column]; ok && (prev != KindTags || l.Kind != KindTags) && !(folder && prev == KindClass && l.Kind == KindClass) {
			bad(field+".column", "column %q is read by another label; only tags labels may share a column (and class labels, in an imagefolder spec)", l.Column)
		}
		columnKinds[l.Column] = l.Kind
		if l.Column == s.CSV.KeyColumn && l.Column != "" {
			bad(field+".column", "column %q is the key column", l.Column)
		}
	}
	s.validateImage(bad)
	return problems
}

// validateLabel checks label l; in an imagefolder spec (folder), a class
// label may omit names and size until the class folders name them.
func (s *Spec) validateLabel(field string, l LabelSpec, shared, folder bool, bad func(string, string, ...any)) {
	if l.Column == "" {
		bad(field+".column", "must not be empty")
	}
	if shared && l.Feature == l.Column {
		bad(field+".feature", "required when several labels read column %q", l.Column)
	}
	switch l.Kind {
	case KindList, KindTags, KindClass:
	case "":
		bad(field+".kind", "must be set: list, tags or class")
	default:
		bad(field+".kind", "unknown kind %q, want list, tags or class", l.Kind)
	}
	switch l.Semantics {
	case OneHot, MultiHot:
	default:
		bad(field+".semantics", "unknown semantics %q, want onehot or multihot", l.Semantics)
	}
	if l.Kind == KindClass && l.Semantics != OneHot {
		bad(field+".semantics", "a class label is onehot")
	}
	switch l.Encoding {
	case RawFloat32, FloatList, Int64List:
	case ClassIndex:
		if l.Semantics == MultiHot {
			bad(field+".encoding", "class_index holds one class; a multihot label needs raw_float32, float_list or int64_list")
		}
	default:
		bad(field+".encoding", "unknown encoding %q, want raw_float32, float_list, int64_list or class_index", l.Encoding)
	}
	if l.Kind == KindTags && len(l.Names) == 0 {
		bad(field+".names", "a tags label needs its vocabulary")
	}
	if folder && l.Kind == KindClass && l.Size == 0 && len(l.Names) == 0 {
		// Named by the class folders when the dataset is converted.
	} else if l.Size <= 0 {
		bad(field+".size", "want a positive vector length (or names)")
	} else if len(l.Names) > 0 && l.Size != len(l.Names) {
		bad(field+".size", "%d, but %d names are given", l.Size, len(l.Names))
	}
	seen := map[string]bool{}
	for j, name := range l.Names {
		switch {
		case name == "":
			bad(fmt.Sprintf("%s.names[%d]", field, j), "empty name")
		case seen[name]:
			bad(fmt.Sprintf("%s.names[%d]", field, j), "duplicate name %q", name)
		case l.Kind == KindTags && strings.ContainsAny(name, l.Separator+" \t\n\r"):
			bad(fmt.Sprintf("%s.names[%d]", field, j), "tag %q contains the separator or whitespace", name)
		}
		seen[name] = true
	}
	if l.Separator != "" && l.Kind != KindTags {
		bad(field+".separator", "only tags labels are split")
	}
}

// setDefaults fills in omitted optional fields. It writes only fields that
// change, so that validating an already valid spec is read-only and safe
// while other goroutines use it.
func (s *Spec) setDefaults() {
	orDefault(&s.Source, SourceCSV)
	orDefault(&s.CSV.KeyColumn, "image_name")
	orDefault(&s.CSV.ImagePath, "{"+s.CSV.KeyColumn+"}.jpg")
	if s.Key.Omit {
		set(&s.Key.Feature, "")
	} else {
		orDefault(&s.Key.Feature, s.CSV.KeyColumn)
	}
	for i := range s.Labels {
		l := &s.Labels[i]
		if l.Kind == KindClass {
			orDefault(&l.Semantics, OneHot)
		} else {
			orDefault(&l.Semantics, MultiHot)
		}
		if l.Size == 0 && len(l.Names) > 0 {
			l.Size = len(l.Names)
		}
		orDefault(&l.Feature, l.Column)
		orDefault(&l.Encoding, RawFloat32)
		nonNil(&l.Names)
	}
	im := &s.Image
	// imageprep reads these names case-insensitively; the canonical form is
	// lower case.
	set(&im.ColorMode, strings.ToLower(im.ColorMode))
	set(&im.Filter, strings.ToLower(im.Filter))
	set(&im.Encoding, strings.ToLower(im.Encoding))
	orDefault(&im.Feature, "image")
	orDefault(&im.ColorMode, "rgb")
	orDefault(&im.Filter, "nearest")
	orDefault(&im.Encoding, "float32")
	if im.Encoding == "jpeg" && im.JPEGQuality == 0 {
		im.JPEGQuality = imageprep.DefaultJPEGQuality
	}
	nonNil(&im.Mean)
	nonNil(&im.Std)
}

// nonNil makes an omitted list empty, so that the spec's YAML and JSON show
// it as [] like every other field with its default.
func nonNil[T any](list *[]T) {
	if *list == nil {
		*list = []T{}
	}
}

func set(field *string, value string) {
	if *field != value {
		*field = value
	}
}

func orDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// templateColumns returns the columns an image path template references, in
// order of first use.
func templateColumns(template string) ([]string, error) {
	var cols []string
	_, err := expandTemplate(template, func(col string) (string, bool) {
		if !slices.Contains(cols, col) {
			cols = append(cols, col)
		}
		return "", true
	})
	return cols, err
}

// expandTemplate replaces each {column} of template by value(column);
// "{{" and "}}" are literal braces.
func expandTemplate(template string, value func(column string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		c := template[i]
		switch {
		case c == '{' && strings.HasPrefix(template[i:], "{{"):
			b.WriteByte('{')
			i++
		case c == '}' && strings.HasPrefix(template[i:], "}}"):
			b.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(template[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed '{' at byte %d of %q", i, template)
			}
			col := template[i+1 : i+end]
			if col == "" || strings.ContainsAny(col, "{") {
				return "", fmt.Errorf("bad column reference at byte %d of %q", i, template)
			}
			v, ok := value(col)
			if !ok {
				return "", fmt.Errorf("unknown column %q in %q", col, template)
			}
			b.WriteString(v)
			i += end
		case c == '}':
			return "", fmt.Errorf("unmatched '}' at byte %d of %q (write }} for a literal brace)", i, template)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

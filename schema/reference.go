package schema

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// fieldDoc documents one spec field. The table is the one source of the
// comments "spec show" writes and of the field reference in docs/SPEC.md (a
// test keeps the document in step with it, and every field of Spec in the
// table).
type fieldDoc struct {
	Path    string // labels[].kind
	Default string // what an omitted field means
	Allowed string // the values accepted, when they are a short list or range
	Comment string // the line comment of "spec show"; "" for none
	Doc     string // the reference's description
}

var fieldDocs = []fieldDoc{
	{Path: "name", Default: "(required)", Doc: "Identifies the spec; a preset's name or your own."},
	{Path: "description", Default: `""`, Doc: "Free text, shown by `tfprep spec list` for presets."},
	{Path: "strict", Default: "false", Allowed: "true, false", Comment: "true rejects rows kept with a warning (an all-zero onehot label)",
		Doc: "Reject rows that are otherwise kept with a warning: an all-zero vector in a onehot label (recorded under `rows.warned` in dataset.json)."},
	{Path: "source", Default: "csv", Allowed: "csv, imagefolder", Comment: "csv | imagefolder (rows from ROOT/CLASS/IMAGE, no CSV)",
		Doc: "Where the rows come from: `csv`, one record of `--csv` per image; `imagefolder`, one file per image under `--images` ROOT, read as a table of two columns, `path` (relative to ROOT, forward slashes) and `class` (its first folder); class labels without `names` get the sorted class folders as names when converting. Files directly in ROOT, and files that are not .jpg, .jpeg or .png, are rejected; hidden files and folders (a leading `.`) are not read."},
	{Path: "csv", Doc: "How rows of the CSV file (or, for `imagefolder`, of the folder's `path` and `class` columns) are read."},
	{Path: "csv.key_column", Default: "image_name", Doc: "The column that identifies a row; stored as the key feature. Its values must be non-empty UTF-8."},
	{Path: "csv.image_path", Default: "{KEY_COLUMN}.jpg", Comment: "{column} is replaced by the row's value",
		Doc: "The image file relative to `--images`: `{column}` is replaced by that column's value, `{{` and `}}` are literal braces. At least one column must be referenced; a path may not leave the images folder."},
	{Path: "labels", Default: "(at least one)", Doc: "The label columns, one feature each, in order."},
	{Path: "labels[].column", Default: "(required)", Doc: "The CSV column the label is read from. Several `tags` labels may read one column (Kaggle's `tags` holds weather and ground tags)."},
	{Path: "labels[].kind", Default: "(required)", Allowed: "list, tags, class", Comment: "list | tags | class",
		Doc: "How the cell is written: `list` a Python list literal of 0s and 1s (`[0, 1, 0, 0]`, read like `ast.literal_eval`); `tags` names split on `separator` (`haze primary water`), a repeated tag counting once; `class` one name of `names` or a 0-based index (`daisy`, `3`)."},
	{Path: "labels[].semantics", Default: "onehot for class, multihot otherwise", Allowed: "onehot, multihot", Comment: "onehot | multihot",
		Doc: "`onehot`: exactly one value is 1 (an all-zero vector is kept with a warning unless `strict`); `multihot`: any number. A `class` label is onehot."},
	{Path: "labels[].names", Default: "[] (then size is required)", Comment: "name i is value i of the vector",
		Doc: "The vocabulary: name i is value i of the vector. Required for `tags`; optional for `list` and `class` when `size` is given. Names are unique and non-empty; tags contain no separator or whitespace."},
	{Path: "labels[].size", Default: "the number of names", Doc: "The vector length; must agree with `names` when both are given."},
	{Path: "labels[].separator", Default: `"" (runs of whitespace)`, Comment: `tags only; "" splits on whitespace`, Doc: "Splits a `tags` cell; only for tags labels."},
	{Path: "labels[].feature", Default: "the column", Doc: "The tf.train.Example feature name, and the key of this label in the dict the generated Python returns: name the model's output layer so. Required when several labels share a column."},
	{Path: "labels[].encoding", Default: "raw_float32", Allowed: "raw_float32, float_list, int64_list, class_index", Comment: "raw_float32 | float_list | int64_list | class_index (onehot only)",
		Doc: "How the label is stored: `raw_float32` one bytes value of little-endian float32s (the seed's `tostring()`; `tf.io.decode_raw`); `float_list` and `int64_list` the vector as a list; `class_index` the 0-based index of the 1 as one int64, a scalar — the integer target of Keras' `sparse_categorical_crossentropy` (onehot labels only; an all-zero row is rejected, since it has no index)."},
	{Path: "image", Doc: "How images are prepared and stored."},
	{Path: "image.feature", Default: "image", Doc: "The Example feature name of the image."},
	{Path: "image.width", Default: "(required)", Allowed: "> 0", Doc: "Target width in pixels."},
	{Path: "image.height", Default: "(required)", Allowed: "> 0", Doc: "Target height in pixels."},
	{Path: "image.color_mode", Default: "rgb", Allowed: "rgb, grayscale, rgba", Comment: "rgb | grayscale | rgba", Doc: "Channels of the stored image, as Keras `load_img(color_mode=...)`."},
	{Path: "image.filter", Default: "nearest", Allowed: "nearest, bilinear, bicubic, box, hamming, lanczos", Comment: "nearest (Keras' default) | bilinear | bicubic | box | hamming | lanczos",
		Doc: "Resize filter, computed as Pillow does; `nearest` is Keras `load_img`'s default."},
	{Path: "image.keep_aspect_ratio", Default: "false", Allowed: "true, false", Comment: "true centre-crops to the target's aspect ratio first",
		Doc: "Centre-crop to the target aspect ratio before resizing, as Keras `load_img(keep_aspect_ratio=True)`."},
	{Path: "image.apply_orientation", Default: "false", Allowed: "true, false", Comment: "true applies the EXIF orientation first (Keras does not)",
		Doc: "Rotate and flip by the EXIF orientation first (phone photos); Keras does not, hence off."},
	{Path: "image.encoding", Default: "float32", Allowed: "float32, uint8, png, jpeg", Comment: "float32 (pixels/255) | uint8 | png | jpeg",
		Doc: "`float32`: raw float32 pixels / 255, HWC (the seed); `uint8`: raw bytes, HWC; `png`, `jpeg`: encoded (`tf.io.decode_png`/`decode_jpeg`)."},
	{Path: "image.jpeg_quality", Default: "95 for jpeg, else 0", Allowed: "1..100 (jpeg only)", Comment: "jpeg only: 1..100, default 95",
		Doc: "JPEG quality of the `jpeg` encoding; must be 0 (unset) for the others."},
	{Path: "image.mean", Default: "[]", Comment: "per channel, float32 only: (pixel/255 - mean) / std",
		Doc: "Per-channel normalisation after /255, float32 encoding only: `(x/255 - mean[c]) / std[c]`. Both or neither, one value per channel."},
	{Path: "image.std", Default: "[]", Comment: "per channel, > 0", Doc: "See `mean`; every value > 0."},
	{Path: "key", Doc: "Whether the row key is stored. It is by default: tf.data ignores features it is not asked for, and the key traces a record back to its CSV row."},
	{Path: "key.omit", Default: "false", Allowed: "true, false", Comment: "true leaves the key out of each Example", Doc: "Leave the key out of the Example."},
	{Path: "key.feature", Default: "the key column", Doc: "The key's feature name (a bytes feature, UTF-8); empty when `omit`."},
}

// fieldDocByPath returns the documentation of a field path such as
// "labels[].kind".
func fieldDocByPath(path string) (fieldDoc, bool) {
	for _, d := range fieldDocs {
		if d.Path == path {
			return d, true
		}
	}
	return fieldDoc{}, false
}

// specFieldPaths lists every field path of Spec in declaration order, with
// its Go type, as fieldDocs must document them.
func specFieldPaths() (paths []string, types []reflect.Type) {
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range fieldsOf(t) {
			path := joinPath(prefix, f.name)
			paths, types = append(paths, path), append(types, f.typ)
			switch {
			case f.typ.Kind() == reflect.Struct:
				walk(f.typ, path)
			case f.typ.Kind() == reflect.Slice && f.typ.Elem().Kind() == reflect.Struct:
				walk(f.typ.Elem(), path+"[]")
			}
		}
	}
	walk(reflect.TypeFor[Spec](), "")
	return paths, types
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "mapping"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of mappings"
		}
		return "list of " + strings.TrimPrefix(typeName(t.Elem()), "a ")
	case reflect.Bool:
		return "boolean"
	case reflect.Int:
		return "integer"
	case reflect.Float32:
		return "number"
	}
	return "text"
}

// FieldReference returns the table of every spec field as Markdown: path,
// type, default, allowed values and meaning. docs/SPEC.md embeds it.
func FieldReference() string {
	var b strings.Builder
	b.WriteString("| field | type | default | allowed | meaning |\n|---|---|---|---|---|\n")
	paths, types := specFieldPaths()
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for i, path := range paths {
		d, _ := fieldDocByPath(path)
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", path, typeName(types[i]), cell(d.Default), cell(d.Allowed), cell(d.Doc))
	}
	return b.String()
}

// YAML returns the spec as a YAML document with the same field names as its
// JSON, every field written out (defaults included) and the fields whose
// values are not self-explanatory commented with what they accept; Parse
// reads it back.
func (s *Spec) YAML() ([]byte, error) {
	var root yaml.Node
	if err := root.Encode(s); err != nil {
		return nil, err
	}
	commentFields(&root, "")
	root.HeadComment = "tfprep dataset spec, every field written out with its default.\nField reference: docs/SPEC.md in tfprep's repository."
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// commentFields sets the line comment of every documented field under n,
// a node of the encoded spec at path.
func commentFields(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			fieldPath := joinPath(path, key.Value)
			if d, ok := fieldDocByPath(fieldPath); ok && d.Comment != "" {
				if value.Kind == yaml.ScalarNode || value.Style&yaml.FlowStyle != 0 {
					value.LineComment = d.Comment
				} else {
					key.LineComment = d.Comment
				}
			}
			commentFields(value, fieldPath)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			commentFields(item, path+"[]")
		}
	}
}

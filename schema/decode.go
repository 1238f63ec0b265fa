package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SpecError lists every problem found in a spec, each with the YAML/JSON
// path of its field. It wraps ErrInvalidSpec.
type SpecError struct {
	Source   string // the file (or other origin) the spec was read from; "" for a spec built in Go
	Name     string // the spec's name, when it has one
	Problems []Problem
}

// Problem is one thing wrong with a spec.
type Problem struct {
	// Path is the field's path, such as "labels[1].names[3]"; "" for the
	// document as a whole.
	Path string
	// Line is the 1-based line of the field in the source, 0 if unknown.
	Line    int
	Message string
}

func (p Problem) String() string {
	where := p.Path
	if p.Line > 0 {
		where = strings.TrimSpace(fmt.Sprintf("%s (line %d)", p.Path, p.Line))
	}
	if where == "" {
		return p.Message
	}
	return where + ": " + p.Message
}

func (e *SpecError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source + ": ")
	}
	b.WriteString(ErrInvalidSpec.Error())
	if e.Name != "" {
		fmt.Fprintf(&b, " %q", e.Name)
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

// parseDocument reads a spec document into a YAML node tree, whatever the
// format, so that both formats are checked by one walk that knows lines.
func parseDocument(data []byte, format string) (*yaml.Node, error) {
	switch format {
	case "yaml":
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, err
		}
		if len(doc.Content) == 0 {
			return nil, errors.New("empty document")
		}
		return doc.Content[0], nil
	case "json":
		return jsonToNode(data)
	}
	return nil, fmt.Errorf("unknown format %q, want json or yaml", format)
}

// jsonToNode converts one JSON value into the YAML node tree of the same
// value, with line numbers. Duplicate keys are left for checkNode to report.
func jsonToNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	line, counted := 1, 0
	lineAt := func(offset int64) int {
		line += bytes.Count(data[counted:offset], []byte{'\n'})
		counted = int(offset)
		return line
	}
	var value func() (*yaml.Node, error)
	value = func() (*yaml.Node, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(data, err)
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Line: lineAt(dec.InputOffset())}
		switch tok := tok.(type) {
		case json.Delim:
			n.Kind, n.Tag, n.Style = yaml.MappingNode, "!!map", yaml.FlowStyle
			if tok == '[' {
				n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
			}
			for dec.More() {
				if n.Kind == yaml.MappingNode {
					keyTok, err := dec.Token()
					if err != nil {
						return nil, jsonError(data, err)
					}
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: keyTok.(string), Line: lineAt(dec.InputOffset())})
				}
				child, err := value()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, child)
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, jsonError(data, err)
			}
		case string:
			n.Tag, n.Value, n.Style = "!!str", tok, yaml.DoubleQuotedStyle
		case json.Number:
			n.Tag, n.Value = "!!float", tok.String()
			if _, err := tok.Int64(); err == nil {
				n.Tag = "!!int"
			}
		case bool:
			n.Tag, n.Value = "!!bool", strconv.FormatBool(tok)
		case nil:
			n.Tag, n.Value = "!!null", "null"
		}
		return n, nil
	}
	root, err := value()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty document")
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("unexpected data after the spec object")
	}
	return root, nil
}

// jsonError adds the line to a JSON syntax error.
func jsonError(data []byte, err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && syntax.Offset <= int64(len(data)) {
		return fmt.Errorf("line %d: %w", 1+bytes.Count(data[:syntax.Offset], []byte{'\n'}), err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("unexpected end of JSON: %w", err)
	}
	return err
}

// specChecker walks a document against the Spec type. It reports unknown
// fields, repeated fields and values of the wrong type with their paths, and
// cuts them out of the tree so that what remains decodes.
type specChecker struct {
	problems []Problem
	// fieldPaths maps a field name to where it is allowed, for "did you
	// mean" across levels (strict written inside a label).
	fieldPaths map[string][]string
}

func newSpecChecker() *specChecker {
	c := &specChecker{fieldPaths: map[string][]string{}}
	var collect func(t reflect.Type, path string)
	collect = func(t reflect.Type, path string) {
		for _, f := range fieldsOf(t) {
			c.fieldPaths[f.name] = append(c.fieldPaths[f.name], joinPath(path, f.name))
			ft := f.typ
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				collect(ft.Elem(), joinPath(path, f.name)+"[]")
			} else if ft.Kind() == reflect.Struct {
				collect(ft, joinPath(path, f.name))
			}
		}
	}
	collect(reflect.TypeFor[Spec](), "")
	return c
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

type specField struct {
	name string
	typ  reflect.Type
}

// fieldsOf lists a struct's fields by their YAML names, in order.
func fieldsOf(t reflect.Type) []specField {
	var fields []specField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields = append(fields, specField{name, f.Type})
	}
	return fields
}

func (c *specChecker) bad(path string, n *yaml.Node, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Line: n.Line, Message: fmt.Sprintf(format, args...)})
}

// check reports what in n does not fit type t and returns the node to
// decode in its place (nil to drop it).
func (c *specChecker) check(n *yaml.Node, t reflect.Type, path string) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return n // the zero value; Validate says if it is missing
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.bad(path, n, "want a mapping of fields, got %s", describe(n))
			return nil
		}
		known := fieldsOf(t)
		seen := map[string]int{}
		kept := make([]*yaml.Node, 0, len(n.Content))
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Kind != yaml.ScalarNode {
				c.bad(path, key, "want a field name, got %s", describe(key))
				continue
			}
			fieldPath := joinPath(path, key.Value)
			j := slices.IndexFunc(known, func(f specField) bool { return f.name == key.Value })
			if j < 0 {
				c.bad(fieldPath, key, "unknown field%s", c.suggest(key.Value, known, path))
				continue
			}
			if first, dup := seen[key.Value]; dup {
				c.bad(fieldPath, key, "given twice (first on line %d)", first)
				continue
			}
			seen[key.Value] = key.Line
			if val = c.check(val, known[j].typ, fieldPath); val != nil {
				kept = append(kept, key, val)
			}
		}
		copied := *n
		copied.Content = kept
		return &copied
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.bad(path, n, "want a list, got %s", describe(n))
			return nil
		}
		copied := *n
		copied.Content = make([]*yaml.Node, len(n.Content))
		for i, item := range n.Content {
			if copied.Content[i] = c.check(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); copied.Content[i] == nil {
				copied.Content[i] = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: item.Line}
			}
		}
		return &copied
	}
	if n.Kind != yaml.ScalarNode {
		c.bad(path, n, "want %s, got %s", scalarWant(t), describe(n))
		return nil
	}
	ok := true
	switch t.Kind() {
	case reflect.String:
		// Any scalar reads as text: "size: 4" for a name is the name "4".
	case reflect.Bool:
		ok = n.ShortTag() == "!!bool"
	case reflect.Int:
		var v int
		err := n.Decode(&v)
		ok = n.ShortTag() == "!!int" && err == nil
	case reflect.Float32:
		var v float64
		err := n.Decode(&v)
		ok = (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") && err == nil && math.Abs(v) <= math.MaxFloat32
	}
	if !ok {
		c.bad(path, n, "want %s, got %s", scalarWant(t), describe(n))
		return nil
	}
	return n
}

// suggest says which known field a misspelt one probably is, or where a
// field of another level belongs.
func (c *specChecker) suggest(name string, known []specField, path string) string {
	best, bestDist := "", 3
	lower := strings.ToLower(name)
	for _, f := range known {
		// A one- or two-letter name is a distance 2 from too much.
		if d := editDistance(lower, f.name); d < bestDist && d < len(lower) {
			best, bestDist = f.name, d
		}
	}
	if best == "" {
		// "colour" for color_mode, "keep_aspect" for keep_aspect_ratio.
		for _, f := range known {
			if commonPrefix(lower, f.name) >= 4 {
				best = f.name
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %s?", best)
	}
	if elsewhere := c.fieldPaths[name]; len(elsewhere) > 0 {
		places := make([]string, len(elsewhere))
		for i, p := range elsewhere {
			places[i] = p
			if !strings.Contains(p, ".") {
				places[i] = p + " at the top level"
			}
		}
		return fmt.Sprintf("; did you mean %s?", strings.Join(places, " or "))
	}
	names := make([]string, len(known))
	for i, f := range known {
		names[i] = f.name
	}
	where := "top-level fields"
	if path != "" {
		where = "fields of " + path
	}
	return fmt.Sprintf("; %s: %s", where, strings.Join(names, ", "))
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func scalarWant(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "an integer"
	case reflect.Float32:
		return "a number"
	}
	return "a text value"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// decodeSpec decodes a spec document, collecting every problem of its
// structure: unknown or repeated fields and values of the wrong type.
func decodeSpec(data []byte, format string) (*Spec, []Problem, error) {
	root, err := parseDocument(data, format)
	if err != nil {
		return nil, nil, err
	}
	c := newSpecChecker()
	root = c.check(root, reflect.TypeFor[Spec](), "")
	s := new(Spec)
	if root != nil {
		if err := root.Decode(s); err != nil {
			// The walk admits only what decodes; this is a bug, not input.
			return nil, nil, fmt.Errorf("decoding the checked document: %w", err)
		}
	}
	return s, c.problems, nil
}

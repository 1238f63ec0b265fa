// Package example reads and writes tf.train.Example records: the serialized
// protocol buffer that TensorFlow's tf.io.parse_example and
// tf.data.TFRecordDataset pipelines consume, one per TFRecord record.
//
// The hot paths do not use generated code. AppendExample encodes a list of
// Features, copying each bytes value exactly once, into a caller's buffer;
// Parse decodes one without copying large values when the caller keeps the
// record buffer alive. New and FromProto convert to and from the generated
// types in package examplepb for code that works with
// google.golang.org/protobuf.
//
// # Wire format
//
// A tf.train.Example is a proto3 message (TensorFlow's example.proto and
// feature.proto):
//
//	Example   = { 1: Features }                        field 1, length-delimited
//	Features  = { 1: Entry }*                          one map entry per feature
//	Entry     = { 1: name (string), 2: Feature }       a map<string, Feature> entry
//	Feature   = { 1: BytesList | 2: FloatList | 3: Int64List }   a oneof; may be unset
//	BytesList = { 1: bytes }*                          one field per value
//	FloatList = { 1: packed float32 little-endian }    4 bytes per value
//	Int64List = { 1: packed varint }                   negative values take 10 bytes
//
// Every length-delimited field is a tag byte (field<<3 | 2) followed by a
// varint length and that many bytes. So an Example with one float feature
// "w" = [1] is these 17 bytes (see the package's examples):
//
//	0a 0f                          Example.features, 15 bytes
//	   0a 0d                       Features.feature entry, 13 bytes
//	      0a 01 77                 key "w"
//	      12 08                    value: Feature, 8 bytes
//	         12 06                 float_list, 6 bytes
//	            0a 04 00 00 80 3f  packed values, 4 bytes: 1.0
//
// Writers are free to order map entries as they like; TensorFlow's writers
// do not sort them. AppendExample sorts them by name, as
// proto.MarshalOptions{Deterministic: true} does, so its output is
// byte-identical to the generated code's.
//
// Readers must accept more than writers produce: a Feature with no list set
// (TensorFlow reads it as an empty list), unpacked as well as packed float
// and int64 values, fields the schema does not know (skipped), the same map
// key twice (the last entry wins) and the same message field twice (merged,
// so two float_list fields of one Feature concatenate). Parse follows
// google.golang.org/protobuf's proto.Unmarshal in all of these, except that
// it does not insist on feature names being valid UTF-8, as TensorFlow does
// not.
package example

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says which of the three value lists a Feature holds.
type Kind uint8

// The kinds of Feature. NoKind is a Feature whose oneof is unset, which
// TensorFlow writes for missing CSV values and reads as an empty list.
const (
	NoKind Kind = iota
	BytesKind
	FloatKind
	Int64Kind
)

// String returns the proto field name of the kind ("bytes_list",
// "float_list", "int64_list"), or "none" for NoKind.
func (k Kind) String() string {
	switch k {
	case NoKind:
		return "none"
	case BytesKind:
		return "bytes_list"
	case FloatKind:
		return "float_list"
	case Int64Kind:
		return "int64_list"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Feature is one named feature of an Example. Kind selects which of the
// lists is the value; the other two are ignored when encoding and empty
// after decoding.
type Feature struct {
	Name   string
	Kind   Kind
	Bytes  [][]byte
	Floats []float32
	Int64s []int64
}

// Len returns the number of values in the feature's list.
func (f *Feature) Len() int {
	switch f.Kind {
	case BytesKind:
		return len(f.Bytes)
	case FloatKind:
		return len(f.Floats)
	case Int64Kind:
		return len(f.Int64s)
	}
	return 0
}

// BytesFeature returns a bytes_list feature. The values are not copied.
func BytesFeature(name string, values ...[]byte) Feature {
	return Feature{Name: name, Kind: BytesKind, Bytes: values}
}

// StringFeature returns a bytes_list feature holding the strings' bytes.
func StringFeature(name string, values ...string) Feature {
	b := make([][]byte, len(values))
	for i, v := range values {
		b[i] = []byte(v)
	}
	return Feature{Name: name, Kind: BytesKind, Bytes: b}
}

// FloatFeature returns a float_list feature. The values are not copied.
func FloatFeature(name string, values ...float32) Feature {
	return Feature{Name: name, Kind: FloatKind, Floats: values}
}

// Int64Feature returns an int64_list feature. The values are not copied.
func Int64Feature(name string, values ...int64) Feature {
	return Feature{Name: name, Kind: Int64Kind, Int64s: values}
}

// Errors of the typed getters, wrapped in a *FeatureError.
var (
	ErrMissing = errors.New("example: missing feature")
	ErrKind    = errors.New("example: wrong feature kind")
	ErrCount   = errors.New("example: wrong number of values")
)

// FeatureError reports a feature that is missing, of the wrong kind or with
// the wrong number of values. errors.Is(err, ErrMissing) (or ErrKind,
// ErrCount) tells which.
type FeatureError struct {
	Name   string // the feature asked for
	Err    error  // ErrMissing, ErrKind or ErrCount
	Detail string // what was found instead
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("example: feature %q: %s", e.Name, e.Detail)
}

func (e *FeatureError) Unwrap() error { return e.Err }

// ErrMalformed is wrapped by every *ParseError.
var ErrMalformed = errors.New("example: malformed Example")

// ParseError reports bytes that are not a valid serialized Example.
type ParseError struct {
	Offset int    // byte offset into the buffer given to Parse
	Reason string // what is wrong there
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("example: malformed Example at byte %d: %s", e.Offset, e.Reason)
}

func (e *ParseError) Unwrap() error { return ErrMalformed }

// nameList formats names for an error message, at most ten of them.
func nameList(features []Feature) string {
	const max = 10
	var b strings.Builder
	for i, f := range features {
		if i == max {
			fmt.Fprintf(&b, ", and %d more", len(features)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", f.Name)
	}
	if len(features) == 0 {
		return "none"
	}
	return b.String()
}

package schema

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/tfprep/tfprep/tfrecord/example"
)

// AppendExample appends the serialized tf.train.Example of row and its
// processed image (imageprep output for ImageOptions) to dst: the image as
// one bytes value, each label in its encoding, and the key unless omitted.
// Feature order does not matter: the encoder sorts by name. The spec must be
// valid and row must come from its RowDecoder. Safe for concurrent use.
func (s *Spec) AppendExample(dst []byte, row Row, image []byte) []byte {
	var stack [8]example.Feature
	features := stack[:0]
	features = append(features, example.BytesFeature(s.Image.Feature, image))
	if !s.Key.Omit {
		features = append(features, example.Feature{Name: s.Key.Feature, Kind: example.BytesKind, Bytes: [][]byte{[]byte(row.Key)}})
	}
	rawBytes := 0
	for i, l := range s.Labels {
		if l.Encoding == RawFloat32 {
			rawBytes += 4 * len(row.Labels[i].Values)
		}
	}
	raw := make([]byte, 0, rawBytes)
	for i, l := range s.Labels {
		values := row.Labels[i].Values
		switch l.Encoding {
		case RawFloat32:
			start := len(raw)
			for _, v := range values {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			features = append(features, example.BytesFeature(l.Feature, raw[start:]))
		case FloatList:
			features = append(features, example.FloatFeature(l.Feature, values...))
		case Int64List:
			ints := make([]int64, len(values))
			for j, v := range values {
				ints[j] = int64(v)
			}
			features = append(features, example.Int64Feature(l.Feature, ints...))
		case ClassIndex:
			features = append(features, example.Int64Feature(l.Feature, int64(classIndex(values))))
		}
	}
	return example.AppendExample(dst, features)
}

// classIndex is the position of the 1 in a onehot vector (0 for none: the
// row decoder rejects all-zero class_index labels, so only size estimates
// see it).
func classIndex(values []float32) int {
	for i, v := range values {
		if v != 0 {
			return i
		}
	}
	return 0
}

// Record is one Example decoded by ReadExample.
type Record struct {
	Key   string // the key feature when the spec stores it, else ""
	Image []byte // the image feature exactly as stored (aliases the parsed buffer)
	// Labels holds one vector per label feature, in spec order, whatever
	// the encoding: a class_index label is expanded to its onehot vector.
	Labels [][]float32
}

// ErrFeatureSize reports a feature whose size does not match the spec, such
// as an image of the wrong number of bytes.
var ErrFeatureSize = errors.New("schema: feature has the wrong size")

// ErrClassIndex reports a class_index label outside 0..size-1.
var ErrClassIndex = errors.New("schema: class index out of range")

// ReadExample decodes the spec's features of a parsed Example into rec,
// reusing rec's label slices. A class_index label out of range wraps
// ErrClassIndex. Features the spec does not name are ignored,
// as tf.data does. A missing feature, a wrong kind or a wrong number of
// values or bytes is an error naming the feature; the wrong-size error wraps
// ErrFeatureSize, the others the example package's ErrMissing, ErrKind or
// ErrCount.
func (s *Spec) ReadExample(p example.Parsed, rec *Record) error {
	rec.Key = ""
	if !s.Key.Omit {
		key, err := p.Bytes(s.Key.Feature)
		if err != nil {
			return fmt.Errorf("schema: spec %q: %w", s.Name, err)
		}
		rec.Key = string(key)
	}
	image, err := p.Bytes(s.Image.Feature)
	if err != nil {
		return fmt.Errorf("schema: spec %q: %w", s.Name, err)
	}
	if want := s.rawImageBytes(); want >= 0 && len(image) != want {
		return fmt.Errorf("%w: feature %q: got %d bytes, want %d (%s %v)",
			ErrFeatureSize, s.Image.Feature, len(image), want, s.Image.Encoding, s.imageShape())
	}
	rec.Image = image
	if cap(rec.Labels) < len(s.Labels) {
		rec.Labels = make([][]float32, len(s.Labels))
	}
	rec.Labels = rec.Labels[:len(s.Labels)]
	for i, l := range s.Labels {
		values := rec.Labels[i][:0]
		switch l.Encoding {
		case RawFloat32:
			raw, err := p.Bytes(l.Feature)
			if err != nil {
				return fmt.Errorf("schema: spec %q: %w", s.Name, err)
			}
			if len(raw) != 4*l.Size {
				return fmt.Errorf("%w: feature %q: got %d bytes, want %d (%d float32)", ErrFeatureSize, l.Feature, len(raw), 4*l.Size, l.Size)
			}
			for j := 0; j < len(raw); j += 4 {
				values = append(values, math.Float32frombits(binary.LittleEndian.Uint32(raw[j:])))
			}
		case FloatList:
			floats, err := p.Floats(l.Feature)
			if err != nil {
				return fmt.Errorf("schema: spec %q: %w", s.Name, err)
			}
			if len(floats) != l.Size {
				return fmt.Errorf("%w: feature %q: got %d floats, want %d", ErrFeatureSize, l.Feature, len(floats), l.Size)
			}
			values = append(values, floats...)
		case Int64List:
			ints, err := p.Int64s(l.Feature)
			if err != nil {
				return fmt.Errorf("schema: spec %q: %w", s.Name, err)
			}
			if len(ints) != l.Size {
				return fmt.Errorf("%w: feature %q: got %d int64s, want %d", ErrFeatureSize, l.Feature, len(ints), l.Size)
			}
			for _, v := range ints {
				values = append(values, float32(v))
			}
		case ClassIndex:
			ints, err := p.Int64s(l.Feature)
			if err != nil {
				return fmt.Errorf("schema: spec %q: %w", s.Name, err)
			}
			if len(ints) != 1 {
				return fmt.Errorf("%w: feature %q: got %d int64s, want 1 class index", ErrFeatureSize, l.Feature, len(ints))
			}
			if ints[0] < 0 || ints[0] >= int64(l.Size) {
				return fmt.Errorf("%w: feature %q: %d, want 0..%d", ErrClassIndex, l.Feature, ints[0], l.Size-1)
			}
			values = slices.Grow(values, l.Size)[:l.Size]
			clear(values)
			values[ints[0]] = 1
		}
		rec.Labels[i] = values
	}
	return nil
}

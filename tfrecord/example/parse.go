package example

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// Parsed is a decoded Example.
type Parsed struct {
	// Features in the order their names first appear on the wire. A name
	// that appears again keeps its place and takes the later value, as a
	// proto map does.
	Features []Feature
}

// Parse decodes a serialized tf.train.Example without generated code.
//
// With noCopy true the bytes values alias buf, so nothing but the float and
// int64 lists is copied; the caller must keep buf unchanged while it uses
// them. With noCopy false, the values share one private copy of buf.
//
// Errors are *ParseError, naming the byte offset; errors.Is(err,
// ErrMalformed) holds, and the Parsed holds the features decoded before the
// error. See the package documentation for what is accepted.
func Parse(buf []byte, noCopy bool) (Parsed, error) {
	var p Parsed
	err := ParseInto(&p, buf, noCopy)
	return p, err
}

// ParseInto is Parse reusing p's slices, so that a loop decoding records of
// the same shape allocates nothing once warm (with noCopy true). What p held
// before, including the lists of its Features, is overwritten.
func ParseInto(p *Parsed, buf []byte, noCopy bool) error {
	if !noCopy {
		buf = bytes.Clone(buf)
	}
	p.Features = p.Features[:0]
	d := decoder{p: p}
	err := d.example(buf)
	p.Features = p.Features[:d.used]
	return err
}

// decoder decodes one Example into p, reusing p.Features' backing array.
type decoder struct {
	p     *Parsed
	used  int            // Features in use so far
	index map[string]int // name → index, once there are too many names to scan
}

// scanLimit is the number of features below which a name is looked up by
// scanning rather than in a map.
const scanLimit = 16

func malformed(offset int, format string, args ...any) error {
	return &ParseError{Offset: offset, Reason: fmt.Sprintf(format, args...)}
}

// field reads the tag at msg[i:] and, when it is a length-delimited field,
// its value. It returns the field number, the value (nil if the field is not
// length-delimited), the value's offset in msg, and the index of the next
// field. Fields of other wire types are skipped, as protobuf skips a known
// field with an unexpected wire type.
func field(msg []byte, i, base int) (num protowire.Number, typ protowire.Type, value []byte, valueAt, next int, err error) {
	num, typ, n := protowire.ConsumeTag(msg[i:])
	if n < 0 {
		return 0, 0, nil, 0, 0, malformed(base+i, "bad field tag: %v", protowire.ParseError(n))
	}
	if num > protowire.MaxValidNumber {
		return 0, 0, nil, 0, 0, malformed(base+i, "field number %d out of range", num)
	}
	at := i + n
	if typ == protowire.BytesType {
		v, m := protowire.ConsumeBytes(msg[at:])
		if m < 0 {
			return 0, 0, nil, 0, 0, malformed(base+at, "field %d: bad length-delimited value: %v", num, protowire.ParseError(m))
		}
		return num, typ, v, at + m - len(v), at + m, nil
	}
	m := protowire.ConsumeFieldValue(num, typ, msg[at:])
	if m < 0 {
		return 0, 0, nil, 0, 0, malformed(base+at, "field %d: bad value of wire type %d: %v", num, typ, protowire.ParseError(m))
	}
	return num, typ, nil, at, at + m, nil
}

// example decodes an Example message: its features fields merge.
func (d *decoder) example(msg []byte) error {
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, 0)
		if err != nil {
			return err
		}
		if num == 1 && typ == protowire.BytesType {
			if err := d.features(v, at); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}

// features decodes a Features message: a map<string, Feature>.
func (d *decoder) features(msg []byte, base int) error {
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		if num == 1 && typ == protowire.BytesType {
			if err := d.entry(v, base+at); err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}

// entry decodes one map entry into the next free slot of p.Features, then
// either keeps it there or, for a name seen before, moves it into that
// name's slot.
func (d *decoder) entry(msg []byte, base int) error {
	if d.used == len(d.p.Features) {
		if d.used < cap(d.p.Features) {
			d.p.Features = d.p.Features[:d.used+1] // revives a slot of an earlier call
		} else {
			d.p.Features = append(d.p.Features, Feature{})
		}
	}
	f := &d.p.Features[d.used]
	resetLists(f, NoKind)
	var name []byte // a missing key is the empty string
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ == protowire.BytesType:
			name = v
		case num == 2 && typ == protowire.BytesType:
			// A repeated value field merges into the same Feature.
			if err := d.feature(f, v, base+at); err != nil {
				return err
			}
		}
		i = next
	}
	if string(name) != f.Name { // keeps the old string when reused
		f.Name = string(name)
	}
	if j, ok := d.lookup(f.Name); ok {
		// Last wins; the old value's slices stay in the free slot for reuse.
		d.p.Features[j], d.p.Features[d.used] = d.p.Features[d.used], d.p.Features[j]
		return nil
	}
	if d.index != nil {
		d.index[f.Name] = d.used
	}
	d.used++
	if d.used == scanLimit {
		d.index = make(map[string]int, 2*scanLimit)
		for j, g := range d.p.Features[:d.used] {
			d.index[g.Name] = j
		}
	}
	return nil
}

// lookup finds a name among the features decoded so far.
func (d *decoder) lookup(name string) (int, bool) {
	if d.index != nil {
		j, ok := d.index[name]
		return j, ok
	}
	for j := range d.p.Features[:d.used] {
		if d.p.Features[j].Name == name {
			return j, true
		}
	}
	return 0, false
}

// resetLists empties f's lists, keeping their capacity, and sets its kind.
func resetLists(f *Feature, kind Kind) {
	f.Kind = kind
	f.Bytes = f.Bytes[:0]
	f.Floats = f.Floats[:0]
	f.Int64s = f.Int64s[:0]
}

// feature decodes a Feature message into f. A list of the kind f already
// has merges (appends); a list of another kind replaces it, as a oneof does.
func (d *decoder) feature(f *Feature, msg []byte, base int) error {
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		if num >= 1 && num <= 3 && typ == protowire.BytesType {
			kind := Kind(num) // the kinds are numbered as the oneof's fields
			if f.Kind != kind {
				resetLists(f, kind)
			}
			switch kind {
			case BytesKind:
				err = bytesList(f, v, base+at)
			case FloatKind:
				err = floatList(f, v, base+at)
			case Int64Kind:
				err = int64List(f, v, base+at)
			}
			if err != nil {
				return err
			}
		}
		i = next
	}
	return nil
}

func bytesList(f *Feature, msg []byte, base int) error {
	for i := 0; i < len(msg); {
		num, typ, v, _, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		if num == 1 && typ == protowire.BytesType {
			f.Bytes = append(f.Bytes, v[:len(v):len(v)])
		}
		i = next
	}
	return nil
}

// floatList accepts values packed (the proto3 default) and unpacked.
func floatList(f *Feature, msg []byte, base int) error {
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		if num == 1 {
			switch typ {
			case protowire.BytesType:
				if len(v)%4 != 0 {
					return malformed(base+at, "packed float_list of %d bytes is not a multiple of 4", len(v))
				}
				f.Floats = slices.Grow(f.Floats, len(v)/4)
				for j := 0; j < len(v); j += 4 {
					f.Floats = append(f.Floats, math.Float32frombits(binary.LittleEndian.Uint32(v[j:])))
				}
			case protowire.Fixed32Type:
				f.Floats = append(f.Floats, math.Float32frombits(binary.LittleEndian.Uint32(msg[at:])))
			}
		}
		i = next
	}
	return nil
}

// int64List accepts values packed (the proto3 default) and unpacked.
func int64List(f *Feature, msg []byte, base int) error {
	for i := 0; i < len(msg); {
		num, typ, v, at, next, err := field(msg, i, base)
		if err != nil {
			return err
		}
		if num == 1 {
			switch typ {
			case protowire.BytesType:
				// Every varint ends in the one byte of it below 0x80.
				count := 0
				for _, c := range v {
					if c < 0x80 {
						count++
					}
				}
				f.Int64s = slices.Grow(f.Int64s, count)
				for j := 0; j < len(v); {
					x, n := protowire.ConsumeVarint(v[j:])
					if n < 0 {
						return malformed(base+at+j, "packed int64_list: %v", protowire.ParseError(n))
					}
					f.Int64s = append(f.Int64s, int64(x))
					j += n
				}
			case protowire.VarintType:
				x, _ := protowire.ConsumeVarint(msg[at:]) // checked by field
				f.Int64s = append(f.Int64s, int64(x))
			}
		}
		i = next
	}
	return nil
}

// Get returns the named feature.
func (p Parsed) Get(name string) (Feature, bool) {
	for _, f := range p.Features {
		if f.Name == name {
			return f, true
		}
	}
	return Feature{}, false
}

// find returns the named feature if it has kind want or no kind at all
// (an empty list of any kind, to TensorFlow).
func (p Parsed) find(name string, want Kind) (*Feature, error) {
	for i := range p.Features {
		f := &p.Features[i]
		if f.Name != name {
			continue
		}
		if f.Kind != want && f.Kind != NoKind {
			return nil, &FeatureError{Name: name, Err: ErrKind, Detail: fmt.Sprintf("is a %v, want a %v", f.Kind, want)}
		}
		return f, nil
	}
	return nil, &FeatureError{Name: name, Err: ErrMissing, Detail: "missing; the Example has " + nameList(p.Features)}
}

// Bytes returns the single value of the named bytes_list feature.
func (p Parsed) Bytes(name string) ([]byte, error) {
	f, err := p.find(name, BytesKind)
	if err != nil {
		return nil, err
	}
	if len(f.Bytes) != 1 {
		return nil, &FeatureError{Name: name, Err: ErrCount, Detail: fmt.Sprintf("has %d values, want 1", len(f.Bytes))}
	}
	return f.Bytes[0], nil
}

// BytesList returns the values of the named bytes_list feature.
func (p Parsed) BytesList(name string) ([][]byte, error) {
	f, err := p.find(name, BytesKind)
	if err != nil {
		return nil, err
	}
	return f.Bytes, nil
}

// Floats returns the values of the named float_list feature.
func (p Parsed) Floats(name string) ([]float32, error) {
	f, err := p.find(name, FloatKind)
	if err != nil {
		return nil, err
	}
	return f.Floats, nil
}

// Int64s returns the values of the named int64_list feature.
func (p Parsed) Int64s(name string) ([]int64, error) {
	f, err := p.find(name, Int64Kind)
	if err != nil {
		return nil, err
	}
	return f.Int64s, nil
}

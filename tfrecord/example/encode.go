package example

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tags of the length-delimited fields: field number << 3 | wire type 2.
const (
	tagField1 = 1<<3 | 2 // Example.features, Features.feature, Entry.key, the lists' values
	tagField2 = 2<<3 | 2 // Entry.value
)

// AppendExample appends the serialized tf.train.Example holding features to
// dst and returns the extended slice. It grows dst at most once, and copies
// each bytes value exactly once, into dst.
//
// The output is byte-identical to proto.MarshalOptions{Deterministic: true}
// of the equivalent generated Example (see New): entries are sorted by name,
// a NoKind feature is an empty Feature, empty float and int64 lists are
// written as empty lists, and the lists of the kinds a feature does not have
// are ignored. When two features have the same name, the later one is
// written and the earlier one dropped, as a map assignment would; readers,
// TensorFlow's included, would keep only the later one anyway.
//
// AppendExample panics if a feature's Kind is not one of the four kinds.
func AppendExample(dst []byte, features []Feature) []byte {
	var stack [32]int32
	order := writeOrder(features, stack[:0])
	body := 0
	for i := range order.count(features) {
		n := entrySize(&features[order.at(i)])
		body += 1 + protowire.SizeVarint(uint64(n)) + n
	}
	dst = slices.Grow(dst, 1+protowire.SizeVarint(uint64(body))+body)
	dst = append(dst, tagField1)
	dst = protowire.AppendVarint(dst, uint64(body))
	for i := range order.count(features) {
		dst = appendEntry(dst, &features[order.at(i)])
	}
	return dst
}

// EncodedSize returns len(AppendExample(nil, features)) without encoding,
// so that a caller can size one buffer for many Examples.
func EncodedSize(features []Feature) int {
	var stack [32]int32
	order := writeOrder(features, stack[:0])
	body := 0
	for i := range order.count(features) {
		n := entrySize(&features[order.at(i)])
		body += 1 + protowire.SizeVarint(uint64(n)) + n
	}
	return 1 + protowire.SizeVarint(uint64(body)) + body
}

// order lists the indexes of the features to write, in writing order; nil
// means all of them as given, the common case of sorted unique names.
type order []int32

func (o order) count(features []Feature) int {
	if o == nil {
		return len(features)
	}
	return len(o)
}

func (o order) at(i int) int {
	if o == nil {
		return i
	}
	return int(o[i])
}

// writeOrder sorts the features by name (stably, so that of equal names the
// last given is last) and drops all but the last of each name. buf is
// scratch space for the indexes.
func writeOrder(features []Feature, buf []int32) order {
	sorted := true
	for i := 1; i < len(features); i++ {
		if features[i-1].Name >= features[i].Name {
			sorted = false
			break
		}
	}
	if sorted {
		return nil
	}
	idx := buf[:0]
	for i := range features {
		idx = append(idx, int32(i))
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		return strings.Compare(features[a].Name, features[b].Name)
	})
	kept := idx[:0]
	for i, j := range idx {
		if i+1 < len(idx) && features[idx[i+1]].Name == features[j].Name {
			continue
		}
		kept = append(kept, j)
	}
	return order(kept)
}

// entrySize is the size of a Features map entry's body: key and value.
func entrySize(f *Feature) int {
	v := featureSize(f)
	return 1 + protowire.SizeBytes(len(f.Name)) + 1 + protowire.SizeBytes(v)
}

// featureSize is the size of a Feature message: its one list, if any.
func featureSize(f *Feature) int {
	switch f.Kind {
	case NoKind:
		return 0
	case BytesKind, FloatKind, Int64Kind:
		return 1 + protowire.SizeBytes(listSize(f))
	}
	panic("example: feature " + f.Name + " has invalid " + f.Kind.String())
}

// listSize is the size of a BytesList, FloatList or Int64List message.
func listSize(f *Feature) int {
	switch f.Kind {
	case BytesKind:
		n := 0
		for _, v := range f.Bytes {
			n += 1 + protowire.SizeBytes(len(v))
		}
		return n
	case FloatKind:
		if len(f.Floats) == 0 {
			return 0
		}
		return 1 + protowire.SizeBytes(4*len(f.Floats))
	case Int64Kind:
		if len(f.Int64s) == 0 {
			return 0
		}
		return 1 + protowire.SizeBytes(varintsSize(f.Int64s))
	}
	return 0
}

func varintsSize(values []int64) int {
	n := 0
	for _, v := range values {
		n += protowire.SizeVarint(uint64(v))
	}
	return n
}

// appendEntry appends one Features map entry, tag included. dst has room.
func appendEntry(dst []byte, f *Feature) []byte {
	value := featureSize(f)
	entry := 1 + protowire.SizeBytes(len(f.Name)) + 1 + protowire.SizeBytes(value)
	dst = append(dst, tagField1)
	dst = protowire.AppendVarint(dst, uint64(entry))
	dst = append(dst, tagField1)
	dst = protowire.AppendVarint(dst, uint64(len(f.Name)))
	dst = append(dst, f.Name...)
	dst = append(dst, tagField2)
	dst = protowire.AppendVarint(dst, uint64(value))
	if f.Kind == NoKind {
		return dst
	}
	dst = append(dst, byte(f.Kind)<<3|2) // the kinds are numbered as the oneof's fields
	dst = protowire.AppendVarint(dst, uint64(listSize(f)))
	switch f.Kind {
	case BytesKind:
		for _, v := range f.Bytes {
			dst = append(dst, tagField1)
			dst = protowire.AppendVarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	case FloatKind:
		if len(f.Floats) > 0 {
			dst = append(dst, tagField1)
			dst = protowire.AppendVarint(dst, uint64(4*len(f.Floats)))
			for _, v := range f.Floats {
				dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(v))
			}
		}
	case Int64Kind:
		if len(f.Int64s) > 0 {
			dst = append(dst, tagField1)
			dst = protowire.AppendVarint(dst, uint64(varintsSize(f.Int64s)))
			for _, v := range f.Int64s {
				dst = protowire.AppendVarint(dst, uint64(v))
			}
		}
	}
	return dst
}

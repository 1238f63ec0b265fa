package example

import (
	"slices"
	"strings"

	"github.com/tfprep/tfprep/tfrecord/example/examplepb"
)

// New returns the generated Example holding features, for code built on
// google.golang.org/protobuf. Values are shared, not copied. Of two features
// with the same name the later one is kept. New panics if a feature's Kind
// is not one of the four kinds.
func New(features ...Feature) *examplepb.Example {
	m := make(map[string]*examplepb.Feature, len(features))
	for i := range features {
		m[features[i].Name] = toProto(&features[i])
	}
	return &examplepb.Example{Features: &examplepb.Features{Feature: m}}
}

func toProto(f *Feature) *examplepb.Feature {
	switch f.Kind {
	case NoKind:
		return &examplepb.Feature{}
	case BytesKind:
		return &examplepb.Feature{Kind: &examplepb.Feature_BytesList{BytesList: &examplepb.BytesList{Value: f.Bytes}}}
	case FloatKind:
		return &examplepb.Feature{Kind: &examplepb.Feature_FloatList{FloatList: &examplepb.FloatList{Value: f.Floats}}}
	case Int64Kind:
		return &examplepb.Feature{Kind: &examplepb.Feature_Int64List{Int64List: &examplepb.Int64List{Value: f.Int64s}}}
	}
	panic("example: feature " + f.Name + " has invalid " + f.Kind.String())
}

// FromProto returns the features of a generated Example sorted by name (a
// proto map has no order), sharing its values. A nil Example, or one
// without Features, has no features.
func FromProto(ex *examplepb.Example) Parsed {
	m := ex.GetFeatures().GetFeature()
	p := Parsed{Features: make([]Feature, 0, len(m))}
	for name, pf := range m {
		f := Feature{Name: name}
		switch k := pf.GetKind().(type) {
		case *examplepb.Feature_BytesList:
			f.Kind, f.Bytes = BytesKind, k.BytesList.GetValue()
		case *examplepb.Feature_FloatList:
			f.Kind, f.Floats = FloatKind, k.FloatList.GetValue()
		case *examplepb.Feature_Int64List:
			f.Kind, f.Int64s = Int64Kind, k.Int64List.GetValue()
		}
		p.Features = append(p.Features, f)
	}
	slices.SortFunc(p.Features, func(a, b Feature) int { return strings.Compare(a.Name, b.Name) })
	return p
}

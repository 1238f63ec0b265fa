package schema

import "slices"

// FeatureInfo describes one stored feature: what tf.io.parse_single_example
// needs and what the decoded tensor is. Its JSON field names are those of the
// manifest's feature list (package dataset).
type FeatureInfo struct {
	Name string `json:"name"`
	// Kind is the tf.train.Feature list: bytes_list, float_list or int64_list.
	Kind string `json:"kind"`
	// DType is the element type after decoding: float32, uint8, int64, string.
	DType string `json:"dtype"`
	// Shape is the decoded tensor's shape; empty for a scalar.
	Shape []int `json:"shape"`
	// Encoding says how a bytes_list value holds the tensor: raw
	// (tf.io.decode_raw, little-endian), png, jpeg or utf-8; empty for
	// float_list and int64_list.
	Encoding string `json:"encoding,omitempty"`
	// Role is image, label or key.
	Role string `json:"role"`
}

// LabelInfo describes one label feature.
type LabelInfo struct {
	Feature   string   `json:"feature"`
	Names     []string `json:"names,omitempty"` // vocabulary; empty when the spec gives only a size
	Size      int      `json:"size"`
	Semantics string   `json:"semantics"` // onehot or multihot
	Encoding  string   `json:"encoding"`  // raw_float32, float_list, int64_list or class_index
}

// Features describes every feature the spec's Examples hold: the image, the
// labels in spec order, then the key (unless omitted). The spec must be
// valid.
func (s *Spec) Features() []FeatureInfo {
	image := FeatureInfo{Name: s.Image.Feature, Kind: "bytes_list", DType: "uint8", Shape: s.imageShape(), Role: "image"}
	switch s.Image.Encoding {
	case "float32":
		image.DType, image.Encoding = "float32", "raw"
	case "uint8":
		image.Encoding = "raw"
	default:
		image.Encoding = s.Image.Encoding
	}
	infos := []FeatureInfo{image}
	for _, l := range s.Labels {
		info := FeatureInfo{Name: l.Feature, DType: "float32", Shape: []int{l.Size}, Role: "label"}
		switch l.Encoding {
		case RawFloat32:
			info.Kind, info.Encoding = "bytes_list", "raw"
		case FloatList:
			info.Kind = "float_list"
		case Int64List:
			info.Kind, info.DType = "int64_list", "int64"
		case ClassIndex:
			info.Kind, info.DType, info.Shape = "int64_list", "int64", []int{}
		}
		infos = append(infos, info)
	}
	if !s.Key.Omit {
		infos = append(infos, FeatureInfo{Name: s.Key.Feature, Kind: "bytes_list", DType: "string", Shape: []int{}, Encoding: "utf-8", Role: "key"})
	}
	return infos
}

// LabelFeatures describes the label features in spec order.
func (s *Spec) LabelFeatures() []LabelInfo {
	infos := make([]LabelInfo, len(s.Labels))
	for i, l := range s.Labels {
		infos[i] = LabelInfo{Feature: l.Feature, Names: slices.Clone(l.Names), Size: l.Size, Semantics: l.Semantics, Encoding: l.Encoding}
	}
	return infos
}

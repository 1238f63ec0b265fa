package schema

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// Description is an Example decoded by its spec for people to read ("tfprep
// cat" on a converted dataset): the key, the image summarised, each label
// with the names of the labels set. Its JSON form is cat's.
type Description struct {
	Key    string             `json:"key,omitempty"` // "" when the spec omits it
	Image  ImageSummary       `json:"image"`
	Labels []LabelDescription `json:"labels"` // in spec order
}

// ImageSummary describes an image feature by the tensor it decodes to:
// tf.io.decode_raw of a float32 or uint8 feature, tf.io.decode_png or
// decode_jpeg of an encoded one.
type ImageSummary struct {
	Feature  string  `json:"feature"`
	Encoding string  `json:"encoding"` // float32, uint8, png or jpeg
	Bytes    int     `json:"bytes"`    // stored
	Shape    []int   `json:"shape"`    // [height, width, channels] of the decoded tensor
	Min      float32 `json:"min"`
	Max      float32 `json:"max"`
	Mean     float32 `json:"mean"`
}

// LabelDescription is one label feature: its vector (a class_index label
// expanded to onehot) and the names of the labels set in it (value != 0).
type LabelDescription struct {
	Feature string    `json:"feature"`
	Values  []float32 `json:"values"`
	Names   []string  `json:"names"` // when the spec has no vocabulary: the indices, as strings
}

// Describe decodes the spec's features of a parsed Example (see
// ReadExample, whose errors it returns) and summarises the image. The
// Description does not alias p.
func (s *Spec) Describe(p example.Parsed) (*Description, error) {
	var rec Record
	if err := s.ReadExample(p, &rec); err != nil {
		return nil, err
	}
	image, err := s.summariseImage(rec.Image)
	if err != nil {
		return nil, err
	}
	d := &Description{Key: rec.Key, Image: image, Labels: make([]LabelDescription, len(s.Labels))}
	for i, l := range s.Labels {
		ld := LabelDescription{Feature: l.Feature, Values: rec.Labels[i], Names: []string{}}
		for j, v := range ld.Values {
			switch {
			case v == 0:
			case j < len(l.Names):
				ld.Names = append(ld.Names, l.Names[j])
			default:
				ld.Names = append(ld.Names, fmt.Sprint(j))
			}
		}
		d.Labels[i] = ld
	}
	return d, nil
}

// summariseImage decodes a stored image as the spec stored it.
func (s *Spec) summariseImage(data []byte) (ImageSummary, error) {
	sum := ImageSummary{Feature: s.Image.Feature, Encoding: s.Image.Encoding, Bytes: len(data)}
	if sum.Encoding == "" {
		sum.Encoding = "float32"
	}
	if sum.Encoding == "float32" {
		// ReadExample checked the size: the tensor is the floats as stored,
		// normalised or not.
		sum.Shape = s.imageShape()
		n := len(data) / 4
		values := make([]float32, n)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		sum.Min, sum.Max, sum.Mean = moments(values)
		return sum, nil
	}
	img, err := imageprep.DecodeOutput(data, s.ImageOptions())
	if err != nil {
		return sum, fmt.Errorf("schema: feature %q: %w", s.Image.Feature, err)
	}
	sum.Shape = []int{img.Height, img.Width, img.Channels}
	values := make([]float32, len(img.Pix))
	for i, v := range img.Pix {
		values[i] = float32(v)
	}
	sum.Min, sum.Max, sum.Mean = moments(values)
	return sum, nil
}

// moments returns the minimum, maximum and mean of values (zeros when
// empty); the mean is summed in float64.
func moments(values []float32) (lo, hi, mean float32) {
	if len(values) == 0 {
		return 0, 0, 0
	}
	lo, hi = values[0], values[0]
	var total float64
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
		total += float64(v)
	}
	return lo, hi, float32(total / float64(len(values)))
}

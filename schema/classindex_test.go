package schema

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/tfprep/tfprep/tfrecord/example"
	"github.com/tfprep/tfprep/tfrecord/example/examplepb"
)

// sparsePlanet is planet with the onehot weather label stored as a class
// index, as Keras' sparse_categorical_crossentropy wants it.
func sparsePlanet(t testing.TB) *Spec {
	t.Helper()
	s := mustPreset(t, "planet")
	s.Labels[0].Encoding = ClassIndex
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestClassIndexExample checks the stored feature with the generated
// protobuf code: one int64, the position of the 1.
func TestClassIndexExample(t *testing.T) {
	spec := sparsePlanet(t)
	dec, err := spec.NewRowDecoder([]string{"image_name", "weather_labels", "ground_labels"})
	if err != nil {
		t.Fatal(err)
	}
	row, _, err := dec.Decode(2, []string{"train_7", "[0, 0, 1, 0]", "[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]"})
	if err != nil {
		t.Fatal(err)
	}
	data := spec.AppendExample(nil, row, make([]byte, 128*128*3*4))
	var ex examplepb.Example
	if err := proto.Unmarshal(data, &ex); err != nil {
		t.Fatal(err)
	}
	weather := ex.GetFeatures().GetFeature()["weather_labels"]
	if diff := cmp.Diff([]int64{2}, weather.GetInt64List().GetValue()); diff != "" {
		t.Errorf("weather_labels int64_list (-want +got):\n%s", diff)
	}

	parsed, err := example.Parse(data, false)
	if err != nil {
		t.Fatal(err)
	}
	rec := Record{Labels: [][]float32{{9, 9, 9, 9, 9, 9, 9}}}
	if err := spec.ReadExample(parsed, &rec); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float32{0, 0, 1, 0}, rec.Labels[0]); diff != "" {
		t.Errorf("ReadExample expands the index to the onehot vector (-want +got):\n%s", diff)
	}

	want := FeatureInfo{Name: "weather_labels", Kind: "int64_list", DType: "int64", Shape: []int{}, Role: "label"}
	if diff := cmp.Diff(want, spec.Features()[1]); diff != "" {
		t.Errorf("Features (-want +got):\n%s", diff)
	}
	if got := spec.LabelFeatures()[0].Encoding; got != ClassIndex {
		t.Errorf("LabelFeatures encoding: got %q, want %q", got, ClassIndex)
	}
}

func TestClassIndexReadErrors(t *testing.T) {
	spec := sparsePlanet(t)
	tests := []struct {
		name    string
		weather example.Feature
		wantErr error
		message string
	}{
		{"out of range", example.Int64Feature("weather_labels", 4), ErrClassIndex, `feature "weather_labels": 4, want 0..3`},
		{"negative", example.Int64Feature("weather_labels", -1), ErrClassIndex, "-1, want 0..3"},
		{"two values", example.Int64Feature("weather_labels", 0, 1), ErrFeatureSize, "got 2 int64s, want 1 class index"},
		{"floats", example.FloatFeature("weather_labels", 1), example.ErrKind, "weather_labels"},
	}
	for _, tt := range tests {
		parsed, err := example.Parse(example.AppendExample(nil, []example.Feature{
			example.BytesFeature("image", make([]byte, 196608)),
			tt.weather,
			example.BytesFeature("ground_labels", float32Bytes(make([]float32, 13)...)),
			example.StringFeature("image_name", "train_0"),
		}), false)
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		err = spec.ReadExample(parsed, &rec)
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.message) {
			t.Errorf("%s: got %v, want %v containing %q", tt.name, err, tt.wantErr, tt.message)
		}
	}
}

func TestClassIndexNeedsOneHot(t *testing.T) {
	s := mustPreset(t, "planet")
	s.Labels[1].Encoding = ClassIndex
	err := s.Validate()
	if !errors.Is(err, ErrInvalidSpec) || !strings.Contains(err.Error(), "labels[1].encoding: class_index holds one class") {
		t.Errorf("class_index on a multihot label: got %v", err)
	}
}

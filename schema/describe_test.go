package schema

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tfprep/tfprep/tfrecord/example"
)

func TestDescribe(t *testing.T) {
	spec := mustPreset(t, "planet")
	values := make([]float32, 128*128*3)
	values[0], values[1] = 1, 0.5 // mean (1 + 0.5) / n
	data := spec.AppendExample(nil, planetRow(t), float32Bytes(values...))
	parsed, err := example.Parse(data, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spec.Describe(parsed)
	if err != nil {
		t.Fatal(err)
	}
	want := &Description{
		Key: "train_1",
		Image: ImageSummary{Feature: "image", Encoding: "float32", Bytes: 4 * len(values), Shape: []int{128, 128, 3},
			Min: 0, Max: 1, Mean: float32(1.5 / float64(len(values)))},
		Labels: []LabelDescription{
			{Feature: "weather_labels", Values: []float32{1, 0, 0, 0}, Names: []string{"clear"}},
			{Feature: "ground_labels", Values: []float32{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1}, Names: []string{"agriculture", "primary", "water"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Describe (-want +got):\n%s", diff)
	}
}

// A png image is summarised by its decoded pixels; an Example that does not
// fit the spec is an error.
func TestDescribePNG(t *testing.T) {
	spec := mustPreset(t, "planet")
	spec.Image.Encoding, spec.Image.Width, spec.Image.Height = "png", 2, 1
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.NRGBA{10, 20, 30, 255})
	img.Set(1, 0, color.NRGBA{40, 50, 60, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	parsed, err := example.Parse(spec.AppendExample(nil, planetRow(t), buf.Bytes()), true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spec.Describe(parsed)
	if err != nil {
		t.Fatal(err)
	}
	want := ImageSummary{Feature: "image", Encoding: "png", Bytes: buf.Len(), Shape: []int{1, 2, 3}, Min: 10, Max: 60, Mean: 35}
	if diff := cmp.Diff(want, got.Image); diff != "" {
		t.Errorf("image summary (-want +got):\n%s", diff)
	}
	other := mustPreset(t, "planet")
	if _, err := other.Describe(parsed); err == nil {
		t.Error("a png Example described by a float32 spec: got no error")
	}
}

package schema

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/tfprep/tfprep/tfrecord/example"
	"github.com/tfprep/tfprep/tfrecord/example/examplepb"
)

func planetRow(t testing.TB) Row {
	t.Helper()
	dec, err := mustPreset(t, "planet").NewRowDecoder([]string{"image_name", "weather_labels", "ground_labels"})
	if err != nil {
		t.Fatal(err)
	}
	row, _, err := dec.Decode(3, []string{"train_1", "[1, 0, 0, 0]", "[1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]"})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

// float32Bytes is what the seed's np.float32 array .tostring() gives.
func float32Bytes(values ...float32) []byte {
	b := make([]byte, 0, 4*len(values))
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// TestAppendExampleIsTheSeedRecord decodes the planet Example with the
// generated protobuf code and checks each feature as the seed wrote it.
func TestAppendExampleIsTheSeedRecord(t *testing.T) {
	spec := mustPreset(t, "planet")
	image := float32Bytes(make([]float32, 128*128*3)...)
	image[0] = 0x3f // a recognisable first byte
	data := spec.AppendExample(nil, planetRow(t), image)

	var ex examplepb.Example
	if err := proto.Unmarshal(data, &ex); err != nil {
		t.Fatal(err)
	}
	got := map[string][]byte{}
	for name, f := range ex.GetFeatures().GetFeature() {
		values := f.GetBytesList().GetValue()
		if len(values) != 1 {
			t.Fatalf("feature %q: got %d bytes values, want 1", name, len(values))
		}
		got[name] = values[0]
	}
	want := map[string][]byte{
		"image":          image,
		"weather_labels": float32Bytes(1, 0, 0, 0),
		"ground_labels":  float32Bytes(1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1),
		"image_name":     []byte("train_1"),
	}
	// The image separately: cmp over 196,608 bytes is slow under -race.
	if !bytes.Equal(got["image"], image) {
		t.Errorf("image feature differs from the image bytes")
	}
	delete(got, "image")
	delete(want, "image")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Deterministic marshalling of the same message gives the same bytes.
	again, err := proto.MarshalOptions{Deterministic: true}.Marshal(&ex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Errorf("AppendExample output differs from deterministic proto.Marshal")
	}
}

func TestReadExampleRoundTrip(t *testing.T) {
	flowers, err := Load("testdata/flowers/flowers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	flowersJSON, err := Load("testdata/flowers/flowers.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		spec   *Spec
		header []string
		record []string
		image  []byte
	}{
		{mustPreset(t, "planet"), []string{"image_name", "weather_labels", "ground_labels"},
			[]string{"train_9", "[0, 0, 0, 1]", "[1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0]"}, make([]byte, 128*128*3*4)},
		{flowers, []string{"file", "species"}, []string{"a.jpg", "roses"}, []byte("\x89PNG any length")},
		{flowersJSON, []string{"file", "species"}, []string{"a.jpg", "3"}, make([]byte, 64*48)},
	}
	for _, tt := range tests {
		dec, err := tt.spec.NewRowDecoder(tt.header)
		if err != nil {
			t.Fatal(err)
		}
		row, _, err := dec.Decode(2, tt.record)
		if err != nil {
			t.Fatal(err)
		}
		data := tt.spec.AppendExample([]byte("prefix"), row, tt.image)
		parsed, err := example.Parse(data[len("prefix"):], true)
		if err != nil {
			t.Fatal(err)
		}
		rec := Record{Labels: [][]float32{{9, 9, 9, 9, 9, 9}}}
		if err := tt.spec.ReadExample(parsed, &rec); err != nil {
			t.Fatalf("%s: %v", tt.spec.Name, err)
		}
		want := Record{Image: tt.image}
		if !tt.spec.Key.Omit {
			want.Key = row.Key
		}
		for _, l := range row.Labels {
			want.Labels = append(want.Labels, l.Values)
		}
		if !bytes.Equal(rec.Image, tt.image) {
			t.Errorf("%s: image differs", tt.spec.Name)
		}
		want.Image, rec.Image = nil, nil
		if diff := cmp.Diff(want, rec); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.spec.Name, diff)
		}
	}
}

func TestReadExampleErrors(t *testing.T) {
	spec := mustPreset(t, "planet")
	good := func() []example.Feature {
		return []example.Feature{
			example.BytesFeature("image", make([]byte, 196608)),
			example.BytesFeature("weather_labels", float32Bytes(1, 0, 0, 0)),
			example.BytesFeature("ground_labels", float32Bytes(make([]float32, 13)...)),
			example.StringFeature("image_name", "train_0"),
		}
	}
	tests := []struct {
		name    string
		modify  func([]example.Feature) []example.Feature
		wantErr error
		message string
	}{
		{"short image", func(f []example.Feature) []example.Feature {
			f[0] = example.BytesFeature("image", make([]byte, 196607))
			return f
		}, ErrFeatureSize, `feature "image": got 196607 bytes, want 196608 (float32 [128 128 3])`},
		{"weather as floats", func(f []example.Feature) []example.Feature {
			f[1] = example.FloatFeature("weather_labels", 1, 0, 0, 0)
			return f
		}, example.ErrKind, "weather_labels"},
		{"missing ground", func(f []example.Feature) []example.Feature { return append(f[:2], f[3]) }, example.ErrMissing, "ground_labels"},
		{"missing key", func(f []example.Feature) []example.Feature { return f[:3] }, example.ErrMissing, "image_name"},
		{"ground too short", func(f []example.Feature) []example.Feature {
			f[2] = example.BytesFeature("ground_labels", float32Bytes(make([]float32, 12)...))
			return f
		}, ErrFeatureSize, `feature "ground_labels": got 48 bytes, want 52 (13 float32)`},
	}
	for _, tt := range tests {
		parsed, err := example.Parse(example.AppendExample(nil, tt.modify(good())), false)
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		err = spec.ReadExample(parsed, &rec)
		if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.message) {
			t.Errorf("%s: got %v, want %v containing %q", tt.name, err, tt.wantErr, tt.message)
		}
	}
	var rec Record
	parsed, _ := example.Parse(example.AppendExample(nil, good()), false)
	if err := spec.ReadExample(parsed, &rec); err != nil {
		t.Errorf("good record: %v", err)
	}
}

package example_test

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tfprep/tfprep/tfrecord/example"
)

// The 17 bytes of the package documentation's wire-format example.
func ExampleAppendExample() {
	buf := example.AppendExample(nil, []example.Feature{example.FloatFeature("w", 1)})
	fmt.Printf("% x\n", buf)
	// Output:
	// 0a 0f 0a 0d 0a 01 77 12 08 12 06 0a 04 00 00 80 3f
}

// Encoding many Examples into one reused buffer: no allocation per record,
// and the image bytes are copied once.
func ExampleEncodedSize() {
	image := make([]byte, 128*128*3*4) // raw float32 pixels
	features := []example.Feature{
		example.BytesFeature("ground_labels", make([]byte, 13*4)),
		example.BytesFeature("image", image),
		example.BytesFeature("weather_labels", make([]byte, 4*4)),
	}
	buf := make([]byte, 0, example.EncodedSize(features))
	for range 3 {
		buf = example.AppendExample(buf[:0], features)
		// write buf as one TFRecord record here
	}
	fmt.Println(len(buf), cap(buf) == len(buf))
	// Output:
	// 196750 true
}

func ExampleParse() {
	record := example.AppendExample(nil, []example.Feature{
		example.StringFeature("image_name", "train_0"),
		example.FloatFeature("weather_labels", 0, 0, 1, 0),
		{Name: "missing"}, // a Feature with no kind, as TensorFlow writes for missing CSV values
	})
	p, err := example.Parse(record, true) // record outlives p: values alias it
	if err != nil {
		fmt.Println(err)
		return
	}
	name, _ := p.Bytes("image_name")
	weather, _ := p.Floats("weather_labels")
	missing, _ := p.Floats("missing")
	fmt.Printf("%s %v %v\n", name, weather, missing)

	_, err = p.Int64s("weather_labels")
	fmt.Println(err, errors.Is(err, example.ErrKind))
	_, err = p.Bytes("image")
	fmt.Println(errors.Is(err, example.ErrMissing))

	_, err = example.Parse(record[:10], true)
	fmt.Println(err)
	// Output:
	// train_0 [0 0 1 0] []
	// example: feature "weather_labels": is a float_list, want a int64_list true
	// true
	// example: malformed Example at byte 1: field 1: bad length-delimited value: unexpected EOF
}

// New and FromProto connect to code built on the generated types.
func ExampleNew() {
	ex := example.New(example.Int64Feature("label", 3), example.StringFeature("id", "test_09933"))
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(ex)
	if err != nil {
		fmt.Println(err)
		return
	}
	same := string(b) == string(example.AppendExample(nil, []example.Feature{
		example.Int64Feature("label", 3), example.StringFeature("id", "test_09933"),
	}))
	fmt.Println(same)
	for _, f := range example.FromProto(ex).Features {
		fmt.Println(f.Name, f.Kind, f.Len())
	}
	// Output:
	// true
	// id bytes_list 1
	// label int64_list 1
}

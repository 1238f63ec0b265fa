package schema_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

func ExampleParseList() {
	values, err := schema.ParseList(nil, "[0, 1., True, 0x0,]")
	fmt.Println(values, err)
	_, err = schema.ParseList(nil, "[0, 1, O]")
	fmt.Println(err)
	// Output:
	// [0 1 1 0] <nil>
	// schema: not a Python list literal of numbers: "O" is not a number at byte 7
}

// Decode the seed's CSV rows, including the real row without a weather
// label, and a bad row.
func ExampleSpec_NewRowDecoder() {
	const data = `image_name,weather_labels,ground_labels
train_0,"[0, 0, 1, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
train_24448,"[0, 0, 0, 0]","[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]"
train_x,"[0, 0, 1]","[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]"
`
	spec, err := schema.Preset("planet")
	if err != nil {
		log.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(data))
	header, _ := r.Read()
	dec, err := spec.NewRowDecoder(header)
	if err != nil {
		log.Fatal(err)
	}
	for {
		record, err := r.Read()
		if err == io.EOF {
			break
		}
		line, _ := r.FieldPos(0)
		row, warnings, err := dec.Decode(line, record)
		if err != nil {
			fmt.Println("rejected:", err)
			continue
		}
		fmt.Println(row.ImagePath, row.Labels[0].Values, warnings)
	}
	// Output:
	// train_0.jpg [0 0 1 0] []
	// train_24448.jpg [0 0 0 0] [line 3, column "weather_labels", value "[0, 0, 0, 0]": weather_labels: all values are 0, not one-hot; kept]
	// rejected: line 4, column "weather_labels", value "[0, 0, 1]": schema: wrong number of values: got 3, want 4
}

func ExampleSpec_Features() {
	spec, err := schema.Preset("planet")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range spec.Features() {
		fmt.Println(f.Name, f.Kind, f.DType, f.Shape, f.Encoding)
	}
	// Output:
	// image bytes_list float32 [128 128 3] raw
	// weather_labels bytes_list float32 [4] raw
	// ground_labels bytes_list float32 [13] raw
	// image_name bytes_list string [] utf-8
}

// A converter writes AppendExample's bytes; a reader gets them back with
// ReadExample.
func ExampleSpec_ReadExample() {
	spec, err := schema.Parse([]byte(`
name: digits
csv: {key_column: id, image_path: "{id}.png"}
labels:
  - {column: digit, kind: class, size: 10, encoding: int64_list}
image: {width: 8, height: 8, color_mode: grayscale, encoding: uint8}
`), "yaml", "digits.yaml")
	if err != nil {
		log.Fatal(err)
	}
	dec, err := spec.NewRowDecoder([]string{"id", "digit"})
	if err != nil {
		log.Fatal(err)
	}
	row, _, err := dec.Decode(2, []string{"img7", "7"})
	if err != nil {
		log.Fatal(err)
	}
	data := spec.AppendExample(nil, row, make([]byte, 8*8))
	parsed, err := example.Parse(data, true)
	if err != nil {
		log.Fatal(err)
	}
	var rec schema.Record
	if err := spec.ReadExample(parsed, &rec); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Key, len(rec.Image), rec.Labels[0])
	// Output:
	// img7 64 [0 0 0 0 0 0 0 1 0 0]
}

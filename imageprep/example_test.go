package imageprep_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"math"
	"os"

	"github.com/tfprep/tfprep/imageprep"
)

// The Planet preset: Keras' load_img(path, target_size=(128, 128)) followed by img_to_array / 255.
func ExampleProcessor() {
	p, err := imageprep.NewProcessor(imageprep.Options{Width: 128, Height: 128})
	if err != nil {
		log.Fatal(err)
	}
	data, err := os.ReadFile("testdata/planet/train_0.jpg")
	if err != nil {
		log.Fatal(err)
	}
	feature, err := p.Process("train_0.jpg", data, nil)
	if err != nil {
		log.Fatal(err)
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i := 0; i < len(feature); i += 4 {
		v := math.Float32frombits(binary.LittleEndian.Uint32(feature[i:]))
		lo, hi = min(lo, v), max(hi, v)
	}
	fmt.Println(len(feature), "bytes =", p.Options().OutputBytes())
	fmt.Println("in [0, 1]:", lo >= 0 && hi <= 1)
	// Output:
	// 196608 bytes = 196608
	// in [0, 1]: true
}

func ExampleDecode() {
	data, err := os.ReadFile("testdata/jpeg/ljt_testimggray.jpg")
	if err != nil {
		log.Fatal(err)
	}
	img, err := imageprep.Decode(data, imageprep.RGB, imageprep.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%dx%dx%d\n", img.Width, img.Height, img.Channels)
	// Output: 227x149x3
}

// Truncated and corrupt images are errors that name the image, never grey-filled pixels.
func ExampleError() {
	data, err := os.ReadFile("testdata/jpeg/pil_truncated_jpeg.jpg")
	if err != nil {
		log.Fatal(err)
	}
	p, err := imageprep.NewProcessor(imageprep.Options{Width: 128, Height: 128})
	if err != nil {
		log.Fatal(err)
	}
	_, err = p.Process("truncated.jpg", data, nil)
	var e *imageprep.Error
	fmt.Println(errors.Is(err, imageprep.ErrTruncated), errors.As(err, &e) && e.Name == "truncated.jpg")
	// Output: true true
}

// PIL's filters on a tiny gray ramp: nearest picks pixels on PIL's grid, bilinear averages.
func ExampleResize() {
	ramp := &imageprep.Image{Width: 4, Height: 1, Channels: 1, Pix: []uint8{0, 60, 120, 240}}
	fmt.Println(imageprep.Resize(ramp, 2, 1, imageprep.Nearest).Pix)
	fmt.Println(imageprep.Resize(ramp, 2, 1, imageprep.Bilinear).Pix)
	fmt.Println(imageprep.Resize(ramp, 3, 1, imageprep.Nearest).Pix)
	// Output:
	// [60 240]
	// [43 163]
	// [0 120 240]
}

func ExampleParseFilter() {
	f, err := imageprep.ParseFilter("Lanczos")
	fmt.Println(f, err)
	_, err = imageprep.ParseFilter("antialias")
	fmt.Println(errors.Is(err, imageprep.ErrOption))
	// Output:
	// lanczos <nil>
	// true
}

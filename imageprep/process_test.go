package imageprep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustProcess(t *testing.T, opts Options, name string) ([]byte, *Processor) {
	t.Helper()
	p, err := NewProcessor(opts)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Process(name, readCorpus(t, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out, p
}

// TestColorModes checks grayscale and rgba against the RGB output they derive from, the way PIL
// derives them: L = Convert.c's rgb2l of the RGB pixels (for nearest, where no mixing happens),
// RGBA = RGB plus opaque alpha, and a grayscale JPEG is its own L.
func TestColorModes(t *testing.T) {
	for _, name := range []string{"ljt_testorig.jpg", "pil_pil_sample_cmyk.jpg", "train_0.jpg", "ljt_testimggray.jpg"} {
		t.Run(name, func(t *testing.T) {
			rgb, _ := mustProcess(t, Options{Width: 50, Height: 40, Encoding: Uint8}, name)
			gray, _ := mustProcess(t, Options{Width: 50, Height: 40, Encoding: Uint8, ColorMode: Grayscale}, name)
			rgba, _ := mustProcess(t, Options{Width: 50, Height: 40, Encoding: Uint8, ColorMode: RGBA}, name)
			n := 50 * 40
			if len(gray) != n || len(rgba) != 4*n {
				t.Fatalf("got %d gray and %d rgba bytes, want %d and %d", len(gray), len(rgba), n, 4*n)
			}
			for i := range n {
				r, g, b := rgb[i*3], rgb[i*3+1], rgb[i*3+2]
				if want := l24(r, g, b); gray[i] != want {
					t.Fatalf("pixel %d: got L %d, want %d from RGB %d,%d,%d", i, gray[i], want, r, g, b)
				}
				if want := []byte{r, g, b, 255}; !bytes.Equal(rgba[i*4:i*4+4], want) {
					t.Fatalf("pixel %d: got RGBA %v, want %v", i, rgba[i*4:i*4+4], want)
				}
			}
		})
	}
	// A gray JPEG converts to gray exactly: L = R = G = B.
	rgb, _ := mustProcess(t, Options{Encoding: Uint8}, "ljt_testimggray.jpg")
	gray, _ := mustProcess(t, Options{Encoding: Uint8, ColorMode: Grayscale}, "ljt_testimggray.jpg")
	for i, v := range gray {
		if rgb[i*3] != v || rgb[i*3+1] != v || rgb[i*3+2] != v {
			t.Fatalf("pixel %d: got RGB %v for L %d", i, rgb[i*3:i*3+3], v)
		}
	}
}

// TestL24 pins Pillow's luma on values whose rounding is easy to get wrong.
func TestL24(t *testing.T) {
	tests := []struct{ r, g, b, want uint8 }{
		{0, 0, 0, 0}, {255, 255, 255, 255}, {255, 0, 0, 76}, {0, 255, 0, 150}, {0, 0, 255, 29}, {100, 100, 100, 100}, {1, 2, 3, 2},
	}
	for _, tt := range tests {
		if got := l24(tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("l24(%d,%d,%d) = %d, want %d", tt.r, tt.g, tt.b, got, tt.want)
		}
	}
	for _, v := range []int{0, 1, 127, 128, 254, 255} {
		if got := l24(uint8(v), uint8(v), uint8(v)); int(got) != v {
			t.Errorf("l24 of gray %d = %d, want %d", v, got, v)
		}
	}
}

// TestOrientation: the two Pillow test files hold the same photo stored rotated 180 degrees
// (orientation 3) and 90 degrees (orientation 6). Applying EXIF orientation makes them agree up to
// JPEG noise; not applying it (Keras' behaviour) leaves them far apart.
func TestOrientation(t *testing.T) {
	meanDiff := func(orient bool) float64 {
		var imgs [2]*Image
		for i, name := range []string{"pil_hopper_orientation_3.jpg", "pil_hopper_orientation_6.jpg"} {
			img, err := Decode(readCorpus(t, name), RGB, Options{ApplyOrientation: orient})
			if err != nil {
				t.Fatal(err)
			}
			imgs[i] = img
		}
		s := 0
		for i := range imgs[0].Pix {
			s += absDiff(imgs[0].Pix[i], imgs[1].Pix[i])
		}
		return float64(s) / float64(len(imgs[0].Pix))
	}
	if got := meanDiff(true); got > 8 {
		t.Errorf("oriented: got mean difference %.2f levels, want <= 8", got)
	}
	if got := meanDiff(false); got < 40 {
		t.Errorf("stored: got mean difference %.2f levels, want >= 40", got)
	}
	for name, want := range map[string]int{"pil_hopper_orientation_3.jpg": 3, "pil_hopper_orientation_6.jpg": 6, "ljt_testorig.jpg": 0, "pil_pil_sample_rgb.jpg": 1} {
		if got := scanJPEG(readCorpus(t, name)).orientation; got != want {
			t.Errorf("%s: got orientation %d, want %d", name, got, want)
		}
	}
}

// TestOrientTransforms checks each of the 8 EXIF transforms on a 3x2 image.
func TestOrientTransforms(t *testing.T) {
	src := raster{w: 3, h: 2, mode: srcL, pix: []uint8{1, 2, 3, 4, 5, 6}}
	tests := []struct {
		o    int
		w, h int
		want []uint8
	}{
		{1, 3, 2, []uint8{1, 2, 3, 4, 5, 6}},
		{2, 3, 2, []uint8{3, 2, 1, 6, 5, 4}},
		{3, 3, 2, []uint8{6, 5, 4, 3, 2, 1}},
		{4, 3, 2, []uint8{4, 5, 6, 1, 2, 3}},
		{5, 2, 3, []uint8{1, 4, 2, 5, 3, 6}},
		{6, 2, 3, []uint8{4, 1, 5, 2, 6, 3}},
		{7, 2, 3, []uint8{6, 3, 5, 2, 4, 1}},
		{8, 2, 3, []uint8{3, 6, 2, 5, 1, 4}},
	}
	for _, tt := range tests {
		got := orient(src, tt.o, nil)
		if got.w != tt.w || got.h != tt.h || !bytes.Equal(got.pix, tt.want) {
			t.Errorf("orientation %d: got %dx%d %v, want %dx%d %v", tt.o, got.w, got.h, got.pix, tt.w, tt.h, tt.want)
		}
	}
}

func TestCropBox(t *testing.T) {
	tests := []struct {
		w, h, tw, th int
		want         box
	}{
		{256, 256, 128, 128, box{0, 0, 256, 256}},
		{227, 149, 100, 100, box{39, 0, 188, 149}},
		{227, 149, 200, 100, box{0, 18, 227, 131}}, // crop height 227*100/200 = 113, top (149-113)/2
		{100, 300, 50, 100, box{0, 50, 100, 250}},
	}
	for _, tt := range tests {
		if got := cropBox(tt.w, tt.h, tt.tw, tt.th); got != tt.want {
			t.Errorf("cropBox(%d, %d, %d, %d) = %v, want %v", tt.w, tt.h, tt.tw, tt.th, got, tt.want)
		}
	}
}

// TestKeepAspectRatioCrop: when the Keras crop box already has the target size, PIL crops; the
// output must be the centred window of the full decode.
func TestKeepAspectRatioCrop(t *testing.T) {
	full, err := Decode(readCorpus(t, "ljt_testorig.jpg"), RGB, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{Nearest, Bilinear, Lanczos} {
		got, _ := mustProcess(t, Options{Width: 149, Height: 149, KeepAspectRatio: true, Filter: f, Encoding: Uint8}, "ljt_testorig.jpg")
		var want []byte
		for y := range 149 {
			want = append(want, full.Pix[(y*227+39)*3:(y*227+39+149)*3]...)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: centred crop differs: %s", f, firstDiff(got, want, 149, 3))
		}
	}
}

// TestFastDCTScale measures how far DCT-domain downscaling lands from the exact Keras pixels on the
// real Planet chips (256 -> 128 decodes at 1/2 and then resizes 128 -> 128, i.e. not at all).
func TestFastDCTScale(t *testing.T) {
	for _, name := range []string{"train_0.jpg", "train_1.jpg"} {
		exact, _ := mustProcess(t, Options{Width: 128, Height: 128, Encoding: Uint8}, name)
		fast, _ := mustProcess(t, Options{Width: 128, Height: 128, Encoding: Uint8, FastDCTScale: true}, name)
		maxd, sum := 0, 0
		for i := range exact {
			d := absDiff(exact[i], fast[i])
			maxd, sum = max(maxd, d), sum+d
		}
		mean := float64(sum) / float64(len(exact))
		t.Logf("%s: FastDCTScale differs from Keras by max %d, mean %.2f levels", name, maxd, mean)
		if PILIdentical && maxd == 0 {
			t.Errorf("FastDCTScale output is identical to the exact path; the DCT scaling did not happen")
		}
		if mean > 12 {
			t.Errorf("got mean difference %.2f, want <= 12 levels", mean)
		}
	}
}

func TestFloat32Encoding(t *testing.T) {
	u8, _ := mustProcess(t, Options{Width: 32, Height: 32, Encoding: Uint8}, "train_1.jpg")
	f32, _ := mustProcess(t, Options{Width: 32, Height: 32}, "train_1.jpg")
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	norm, _ := mustProcess(t, Options{Width: 32, Height: 32, Mean: mean, Std: std}, "train_1.jpg")
	if len(f32) != 4*len(u8) || len(norm) != len(f32) {
		t.Fatalf("got %d and %d float bytes, want %d", len(f32), len(norm), 4*len(u8))
	}
	for i, v := range u8 {
		got := math.Float32frombits(binary.LittleEndian.Uint32(f32[i*4:]))
		if want := float32(v) / 255; got != want {
			t.Fatalf("value %d: got %v, want %v", i, got, want)
		}
		got = math.Float32frombits(binary.LittleEndian.Uint32(norm[i*4:]))
		if want := (float32(v)/255 - mean[i%3]) / std[i%3]; got != want {
			t.Fatalf("normalised value %d: got %v, want %v", i, got, want)
		}
	}
}

// TestDecodeOutputRoundTrip: every encoding decodes back to the pixels it stored (JPEG approximately).
func TestDecodeOutputRoundTrip(t *testing.T) {
	base := Options{Width: 40, Height: 30, Filter: Bicubic}
	pixOpts := base
	pixOpts.Encoding = Uint8
	want, _ := mustProcess(t, pixOpts, "pil_pil_sample_rgb.jpg")
	tests := []struct {
		name     string
		mod      func(*Options)
		meanDiff float64 // in levels; lossless encodings must be exact
	}{
		{"float32", func(o *Options) {}, 0},
		{"float32 mean std", func(o *Options) { o.Mean, o.Std = []float32{.5, .4, .3}, []float32{.2, .3, .4} }, 0},
		{"uint8", func(o *Options) { o.Encoding = Uint8 }, 0},
		{"png", func(o *Options) { o.Encoding = PNG }, 0},
		{"jpeg", func(o *Options) { o.Encoding, o.JPEGQuality = JPEG, 100 }, 5}, // image/jpeg subsamples chroma 4:2:0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.mod(&o)
			enc, _ := mustProcess(t, o, "pil_pil_sample_rgb.jpg")
			img, err := DecodeOutput(enc, o)
			if err != nil {
				t.Fatal(err)
			}
			if img.Width != 40 || img.Height != 30 || img.Channels != 3 {
				t.Fatalf("got %dx%dx%d, want 40x30x3", img.Width, img.Height, img.Channels)
			}
			sum := 0
			for i := range want {
				sum += absDiff(img.Pix[i], want[i])
			}
			if mean := float64(sum) / float64(len(want)); mean > tt.meanDiff {
				t.Errorf("got mean difference %.3f levels, want <= %.3f", mean, tt.meanDiff)
			}
		})
	}
	if _, err := DecodeOutput(make([]byte, 10), base); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeOutput of 10 bytes: got %v, want ErrCorrupt", err)
	}
	if _, err := DecodeOutput(make([]byte, 12), Options{}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("DecodeOutput without a shape: got %v, want ErrCorrupt", err)
	}
}

func flip(data []byte, i int) []byte {
	out := bytes.Clone(data)
	out[i] ^= 0xFF
	return out
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPNGInput covers the PNG modes PIL distinguishes.
func TestPNGInput(t *testing.T) {
	rgba := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	gray16 := image.NewGray16(image.Rect(0, 0, 3, 2))
	for i := range 6 {
		rgba.Pix[i*4], rgba.Pix[i*4+1], rgba.Pix[i*4+2], rgba.Pix[i*4+3] = uint8(10*i), uint8(20*i), uint8(30*i), uint8(255-40*i)
		gray.Pix[i] = uint8(40 * i)
		gray16.SetGray16(i%3, i/3, color.Gray16{Y: uint16(i * 100)})
	}
	tests := []struct {
		name string
		data []byte
		mode ColorMode
		want []uint8
	}{
		{"rgba as rgb drops alpha", encodePNG(t, rgba), RGB, []uint8{0, 0, 0, 10, 20, 30, 20, 40, 60, 30, 60, 90, 40, 80, 120, 50, 100, 150}},
		{"rgba as rgba", encodePNG(t, rgba), RGBA, rgba.Pix},
		{"gray as rgb", encodePNG(t, gray), RGB, []uint8{0, 0, 0, 40, 40, 40, 80, 80, 80, 120, 120, 120, 160, 160, 160, 200, 200, 200}},
		{"gray as gray", encodePNG(t, gray), Grayscale, gray.Pix},
		{"gray16 clips like PIL mode I", encodePNG(t, gray16), Grayscale, []uint8{0, 100, 200, 255, 255, 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := Decode(tt.data, tt.mode, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, img.Pix); diff != "" {
				t.Errorf("pixels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadInput: every kind of bad input is a typed *Error naming the image; none panics.
func TestBadInput(t *testing.T) {
	good := readCorpus(t, "ljt_testorig.jpg")
	flipped := bytes.Clone(good)
	for i := len(flipped) / 2; i < len(flipped)/2+40; i++ {
		flipped[i] ^= 0x5A
	}
	pngData := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	tests := []struct {
		name string
		data []byte
		opts Options
		kind ErrorKind
	}{
		{"empty", nil, Options{}, Corrupt},
		{"not an image", []byte("GIF89a..."), Options{}, Corrupt},
		{"jpeg header only", good[:300], Options{}, Truncated},
		{"jpeg cut in scan", good[:len(good)/2], Options{}, Truncated},
		{"jpeg over pixel limit", good, Options{MaxPixels: 227*149 - 1}, TooLarge},
		{"png over pixel limit", pngData, Options{MaxPixels: 15}, TooLarge},
		{"png truncated", pngData[:len(pngData)-20], Options{}, Truncated},
		{"png corrupt crc", flip(pngData, 30), Options{}, Corrupt},
		{"twelve bit", readCorpus(t, "ljt_testorig12.jpg"), Options{}, Unsupported},
	}
	if PILIdentical {
		tests = append(tests, struct {
			name string
			data []byte
			opts Options
			kind ErrorKind
		}{"flipped entropy bytes", flipped, Options{}, Corrupt})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewProcessor(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Process("bad.jpg", tt.data, nil)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Kind != tt.kind || e.Name != "bad.jpg" {
				t.Errorf("got %s error for %q (%v), want %s for bad.jpg", e.Kind, e.Name, err, tt.kind)
			}
			// The Processor keeps working after a failure.
			if _, err := p.Process("good.jpg", good, nil); err != nil && tt.opts.MaxPixels == 0 {
				t.Errorf("after a failure: %v", err)
			}
		})
	}
}

// TestAllowWarnings: libjpeg's grey-filled image comes back only when asked for.
func TestAllowWarnings(t *testing.T) {
	if !PILIdentical {
		t.Skip("image/jpeg has no warnings: truncated data is always an error")
	}
	data := readCorpus(t, "pil_truncated_jpeg.jpg")
	p, err := NewProcessor(Options{AllowWarnings: true, Encoding: Uint8})
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Process("t.jpg", data, nil)
	if err != nil {
		t.Fatalf("with AllowWarnings: %v", err)
	}
	if len(out) != 100*100*3 {
		t.Errorf("got %d bytes, want %d", len(out), 100*100*3)
	}
}

// TestProcessAllocations: a warm Processor allocates nothing when dst has room.
func TestProcessAllocations(t *testing.T) {
	data := readCorpus(t, "train_0.jpg")
	for _, f := range []Filter{Nearest, Bilinear} {
		p, err := NewProcessor(Options{Width: 128, Height: 128, Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 0, p.opts.OutputBytes())
		if _, err := p.Process("train_0.jpg", data, dst); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := p.Process("train_0.jpg", data, dst[:0]); err != nil {
				t.Fatal(err)
			}
		})
		limit := 0.0
		if !PILIdentical {
			limit = 20 // image/jpeg allocates its planes per image
		}
		if allocs > limit {
			t.Errorf("%s: got %.0f allocations per image, want <= %.0f", f, allocs, limit)
		}
	}
}

// TestCMYKNoBlack: the fast path for K = 0 agrees with Pillow's formula for every sample value.
func TestCMYKNoBlack(t *testing.T) {
	for v := range 256 {
		if got := 255 - muldiv255(255-v, 255); got != v {
			t.Fatalf("255 - MULDIV255(%d, 255) = %d, want %d", 255-v, got, v)
		}
	}
}

func TestClose(t *testing.T) {
	p, err := NewProcessor(Options{Width: 8, Height: 8})
	if err != nil {
		t.Fatal(err)
	}
	data := readCorpus(t, "train_1.jpg")
	if _, err := p.Process("a", data, nil); err != nil {
		t.Fatal(err)
	}
	p.Close()
	p.Close()
	if _, err := p.Process("a", data, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
}

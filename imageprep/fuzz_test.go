package imageprep

import (
	"errors"
	"testing"
)

// FuzzProcess feeds arbitrary bytes and options through the whole pipeline with a small pixel limit.
// Nothing may panic, libjpeg must never call exit(), every failure must be a typed *Error naming the
// image, and a success must have exactly the promised size. The seed corpus in
// testdata/fuzz/FuzzProcess holds small real JPEGs (whole, cut and patched) and a PNG.
func FuzzProcess(f *testing.F) {
	for _, name := range []string{"pil_app13.jpg", "pil_icc-after-SOF.jpg"} {
		data := readCorpus(f, name)
		f.Add(data, uint8(3), uint8(5), uint8(Bicubic), uint8(0))
		f.Add(data[:len(data)*2/3], uint8(8), uint8(8), uint8(Nearest), uint8(0b1111))
	}
	f.Fuzz(func(t *testing.T, data []byte, width, height, filter, flags uint8) {
		opts := Options{
			Width:            int(width % 40),
			Height:           int(height % 40),
			Filter:           Filter(filter % 6),
			ColorMode:        ColorMode(flags >> 4 % 3),
			KeepAspectRatio:  flags&1 != 0,
			ApplyOrientation: flags&2 != 0,
			FastDCTScale:     flags&4 != 0,
			AllowWarnings:    flags&8 != 0,
			Encoding:         Uint8,
			MaxPixels:        1 << 16,
		}
		if opts.Width == 0 || opts.Height == 0 {
			opts.Width, opts.Height, opts.KeepAspectRatio = 0, 0, false
		}
		p, err := NewProcessor(opts)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Process("fuzz.jpg", data, nil)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Name != "fuzz.jpg" || e.Kind < Corrupt || e.Kind > Truncated {
				t.Fatalf("got error %#v, want an *Error naming fuzz.jpg", err)
			}
			return
		}
		if want := opts.OutputBytes(); want > 0 && len(out) != want {
			t.Fatalf("got %d bytes, want %d", len(out), want)
		}
		if len(out)%opts.Channels() != 0 || len(out) > opts.MaxPixels*4 {
			t.Fatalf("got %d bytes for %d channels and at most %d pixels", len(out), opts.Channels(), opts.MaxPixels)
		}
	})
}

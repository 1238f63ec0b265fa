package imageprep

import (
	"errors"
	"testing"
)

func TestParseNames(t *testing.T) {
	for i, n := range filterNames {
		got, err := ParseFilter(n)
		if err != nil || got != Filter(i) || got.String() != n {
			t.Errorf("ParseFilter(%q) = %v, %v; want %v", n, got, err, Filter(i))
		}
	}
	for i, n := range colorModeNames {
		got, err := ParseColorMode(n)
		if err != nil || got != ColorMode(i) || got.String() != n {
			t.Errorf("ParseColorMode(%q) = %v, %v; want %v", n, got, err, ColorMode(i))
		}
	}
	for i, n := range encodingNames {
		got, err := ParseEncoding(n)
		if err != nil || got != Encoding(i) || got.String() != n {
			t.Errorf("ParseEncoding(%q) = %v, %v; want %v", n, got, err, Encoding(i))
		}
	}
	tests := []struct {
		in   string
		want any
	}{
		{"", Nearest}, {"LANCZOS", Lanczos}, {"Bicubic", Bicubic},
	}
	for _, tt := range tests {
		if got, err := ParseFilter(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseFilter(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if got, err := ParseColorMode(""); err != nil || got != RGB {
		t.Errorf("ParseColorMode(\"\") = %v, %v; want rgb", got, err)
	}
	if got, err := ParseEncoding(""); err != nil || got != Float32 {
		t.Errorf("ParseEncoding(\"\") = %v, %v; want float32", got, err)
	}
	for _, bad := range []string{"cubic", "antialias ", "nearest-exact"} {
		if _, err := ParseFilter(bad); !errors.Is(err, ErrOption) {
			t.Errorf("ParseFilter(%q) error = %v, want ErrOption", bad, err)
		}
	}
	if _, err := ParseColorMode("rgbx"); !errors.Is(err, ErrOption) {
		t.Errorf("ParseColorMode(rgbx) error = %v, want ErrOption", err)
	}
	if _, err := ParseEncoding("webp"); !errors.Is(err, ErrOption) {
		t.Errorf("ParseEncoding(webp) error = %v, want ErrOption", err)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero value", Options{}, true},
		{"planet", Options{Width: 128, Height: 128}, true},
		{"mean std rgb", Options{Width: 8, Height: 8, Mean: []float32{.5, .5, .5}, Std: []float32{.2, .2, .2}}, true},
		{"only width", Options{Width: 128}, false},
		{"negative", Options{Width: -1, Height: -1}, false},
		{"keep aspect without size", Options{KeepAspectRatio: true}, false},
		{"bad filter", Options{Filter: Lanczos + 1}, false},
		{"bad mode", Options{ColorMode: -1}, false},
		{"bad encoding", Options{Encoding: JPEG + 1}, false},
		{"negative max pixels", Options{MaxPixels: -5}, false},
		{"target over max pixels", Options{Width: 100, Height: 100, MaxPixels: 9999}, false},
		{"target at max pixels", Options{Width: 100, Height: 100, MaxPixels: 10000}, true},
		{"quality", Options{Encoding: JPEG, JPEGQuality: 101}, false},
		{"jpeg rgba", Options{Encoding: JPEG, ColorMode: RGBA}, false},
		{"mean with uint8", Options{Encoding: Uint8, Mean: []float32{0, 0, 0}}, false},
		{"mean wrong length", Options{Mean: []float32{0, 0}}, false},
		{"std wrong length", Options{ColorMode: Grayscale, Std: []float32{1, 1, 1}}, false},
		{"zero std", Options{Std: []float32{1, 0, 1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.ok && err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if !tt.ok && !errors.Is(err, ErrOption) {
				t.Fatalf("got %v, want ErrOption", err)
			}
			if _, perr := NewProcessor(tt.opts); (perr == nil) != tt.ok {
				t.Errorf("NewProcessor error %v, want ok=%v", perr, tt.ok)
			}
		})
	}
}

func TestOutputBytes(t *testing.T) {
	tests := []struct {
		opts Options
		want int
	}{
		{Options{Width: 128, Height: 128}, 128 * 128 * 3 * 4},
		{Options{Width: 128, Height: 64, Encoding: Uint8}, 128 * 64 * 3},
		{Options{Width: 10, Height: 10, ColorMode: Grayscale}, 400},
		{Options{Width: 10, Height: 10, ColorMode: RGBA, Encoding: Uint8}, 400},
		{Options{Width: 10, Height: 10, Encoding: PNG}, -1},
		{Options{Width: 10, Height: 10, Encoding: JPEG}, -1},
		{Options{}, -1},
	}
	for _, tt := range tests {
		if got := tt.opts.OutputBytes(); got != tt.want {
			t.Errorf("%+v: got OutputBytes %d, want %d", tt.opts, got, tt.want)
		}
	}
}

func TestErrorFormatting(t *testing.T) {
	e := &Error{Name: "train_7.jpg", Kind: Truncated, Offset: 1234, Err: errors.New("libjpeg: Premature end of JPEG file")}
	if got, want := e.Error(), "imageprep: train_7.jpg: truncated at byte 1234: libjpeg: Premature end of JPEG file"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	e = &Error{Kind: Unsupported, Offset: -1, Err: errors.New("x")}
	if got, want := e.Error(), "imageprep: image: unsupported: x"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, k := range []ErrorKind{Corrupt, Unsupported, TooLarge, Truncated} {
		err := error(&Error{Kind: k, Offset: -1, Err: errors.New("x")})
		for _, other := range []ErrorKind{Corrupt, Unsupported, TooLarge, Truncated} {
			if got := errors.Is(err, other.sentinel()); got != (k == other) {
				t.Errorf("errors.Is(%s error, %v) = %v", k, other.sentinel(), got)
			}
		}
	}
}

// Package imageprep turns encoded images (JPEG, PNG) into model-ready pixels that are bit-identical to what
// Keras produces with
//
//	img = keras.utils.load_img(path, color_mode="rgb", target_size=(h, w), interpolation="nearest")
//	x = keras.utils.img_to_array(img) / 255.
//
// under Pillow 9.4, and does it faster.
//
// The Keras path is: PIL Image.open (libjpeg with its default settings: ISLOW integer IDCT, fancy
// upsampling, no DCT scaling), convert("RGB") when the mode is not RGB already, Image.resize((w, h),
// filter) unless the size already matches, then a float32 array divided by 255. imageprep reproduces
// each step:
//
//   - Decoding goes through libjpeg-turbo (cgo, statically linked) with the same settings, so the
//     decoded samples are the ones PIL sees. Built with CGO_ENABLED=0, the standard library's
//     image/jpeg is used instead, with libjpeg's fancy chroma upsampling and YCbCr conversion redone
//     on its output and an Adobe marker supplied for 4-component files without one (the Planet
//     chips); its IDCT still differs from libjpeg's, so pixels are within a few levels of PIL's but
//     not identical, and arithmetic-coded JPEGs are Unsupported. PILIdentical and DecoderName tell
//     which build is running; TestPureGoTolerance documents the distance.
//   - Colour conversion follows Pillow's libImaging/Convert.c: grayscale is replicated, 4-component
//     JPEGs are read as CMYK with Adobe's inverted convention ("CMYK;I") and converted with Pillow's
//     cmyk2rgb, RGB to grayscale uses Pillow's 16-bit fixed-point ITU-R 601-2 luma.
//   - Resizing follows libImaging/Resample.c (two-pass separable convolution with 22-bit fixed-point
//     coefficients) for bilinear, bicubic, box, hamming and lanczos, and Geometry.c's affine
//     nearest-neighbour scaling (with its accumulated floating-point source grid) for nearest.
//   - Float32 output is float32(v)/255, which is what numpy computes for a float32 array divided by
//     the Python float 255.0.
//
// Output is always HWC, row-major: for RGB, pixel (x, y) channel c is at (y*W+x)*3+c.
//
// Corrupt data is an error by default. libjpeg reports damaged entropy-coded data as a warning and
// fills the damaged blocks with grey; a training set must not silently contain such images, so any
// warning raised while decoding pixels is returned as an *Error of kind Corrupt (or Truncated when the
// data ends early) unless Options.AllowWarnings is set. Warnings about stray bytes between header
// segments (before the first scan) do not affect pixels and are accepted, as PIL accepts them. PIL
// itself rejects truncated files ("image file is truncated"); with AllowWarnings imageprep returns
// libjpeg's grey-filled image instead.
package imageprep

import (
	"errors"
	"fmt"
	"strings"
)

// Filter is a resampling filter of PIL's Image.resize.
type Filter int

const (
	Nearest  Filter = iota // Keras' default; PIL's affine nearest-neighbour grid
	Bilinear               // triangle filter, support 1
	Bicubic                // Keys cubic a=-0.5, support 2
	Box                    // box filter, support 0.5
	Hamming                // Hamming-windowed sinc, support 1
	Lanczos                // Lanczos-3 windowed sinc, support 3
)

var filterNames = [...]string{"nearest", "bilinear", "bicubic", "box", "hamming", "lanczos"}

// ParseFilter parses a filter name as Keras spells it ("nearest", "bilinear", "bicubic", "box",
// "hamming", "lanczos"), case-insensitively. The empty string means Nearest, Keras' default.
func ParseFilter(s string) (Filter, error) {
	if s == "" {
		return Nearest, nil
	}
	for i, n := range filterNames {
		if strings.EqualFold(s, n) {
			return Filter(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown filter %q (want one of %s)", ErrOption, s, strings.Join(filterNames[:], ", "))
}

func (f Filter) String() string {
	if f >= 0 && int(f) < len(filterNames) {
		return filterNames[f]
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// ColorMode is Keras' color_mode: the channels of the output.
type ColorMode int

const (
	RGB       ColorMode = iota // 3 channels (Keras' default)
	Grayscale                  // 1 channel, PIL's convert("L")
	RGBA                       // 4 channels, PIL's convert("RGBA")
)

var colorModeNames = [...]string{"rgb", "grayscale", "rgba"}

// ParseColorMode parses "rgb", "grayscale" or "rgba" case-insensitively; "" means RGB.
func ParseColorMode(s string) (ColorMode, error) {
	if s == "" {
		return RGB, nil
	}
	for i, n := range colorModeNames {
		if strings.EqualFold(s, n) {
			return ColorMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown color mode %q (want one of %s)", ErrOption, s, strings.Join(colorModeNames[:], ", "))
}

func (m ColorMode) String() string {
	if m >= 0 && int(m) < len(colorModeNames) {
		return colorModeNames[m]
	}
	return fmt.Sprintf("ColorMode(%d)", int(m))
}

// Channels is the number of channels per pixel in this mode.
func (m ColorMode) Channels() int {
	switch m {
	case Grayscale:
		return 1
	case RGBA:
		return 4
	}
	return 3
}

// Encoding is how Process stores the pixels.
type Encoding int

const (
	Float32 Encoding = iota // little-endian float32 v/255 (then (x-Mean)/Std when set), HWC
	Uint8                   // raw 0..255 bytes, HWC
	PNG                     // a PNG file (lossless)
	JPEG                    // a JPEG file at JPEGQuality
)

var encodingNames = [...]string{"float32", "uint8", "png", "jpeg"}

// ParseEncoding parses "float32", "uint8", "png" or "jpeg" case-insensitively; "" means Float32.
func ParseEncoding(s string) (Encoding, error) {
	if s == "" {
		return Float32, nil
	}
	for i, n := range encodingNames {
		if strings.EqualFold(s, n) {
			return Encoding(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown encoding %q (want one of %s)", ErrOption, s, strings.Join(encodingNames[:], ", "))
}

func (e Encoding) String() string {
	if e >= 0 && int(e) < len(encodingNames) {
		return encodingNames[e]
	}
	return fmt.Sprintf("Encoding(%d)", int(e))
}

// DefaultMaxPixels is the pixel limit when Options.MaxPixels is 0.
const DefaultMaxPixels = 100_000_000

// DefaultJPEGQuality is the quality when Options.JPEGQuality is 0.
const DefaultJPEGQuality = 95

// Options describe the whole transformation from encoded image to stored bytes. The zero value is
// Keras' load_img defaults at the source size, stored as float32.
type Options struct {
	Width, Height    int       // target size; both 0 = keep the source size
	Filter           Filter    // resampling filter (Keras' interpolation)
	ColorMode        ColorMode // output channels
	KeepAspectRatio  bool      // center crop to the target aspect before resizing (Keras keep_aspect_ratio)
	ApplyOrientation bool      // rotate/flip by the JPEG's EXIF orientation first (Keras does not)
	FastDCTScale     bool      // decode at 1/2, 1/4 or 1/8 when still >= target; NOT Keras-identical
	MaxPixels        int       // refuse images with more pixels than this; 0 = DefaultMaxPixels
	MaxDecodeBytes   int64     // refuse images whose whole-image decode needs more bytes; 0 = DefaultMaxDecodeBytes
	AllowWarnings    bool      // accept libjpeg warnings (corrupt or truncated data); default is an error
	Encoding         Encoding  // how Process stores the pixels
	JPEGQuality      int       // for Encoding JPEG, 1..100; 0 = DefaultJPEGQuality
	Mean, Std        []float32 // optional per-channel normalisation after /255 (Float32 only)
}

// Channels is the number of channels per output pixel.
func (o Options) Channels() int { return o.ColorMode.Channels() }

// OutputBytes is the exact size of Process' output for Float32 and Uint8 encodings (H*W*C*element
// size). It is -1 when the size is not fixed: PNG and JPEG encodings, or no target size.
func (o Options) OutputBytes() int {
	if o.Width <= 0 || o.Height <= 0 {
		return -1
	}
	switch o.Encoding {
	case Float32:
		return o.Width * o.Height * o.Channels() * 4
	case Uint8:
		return o.Width * o.Height * o.Channels()
	}
	return -1
}

func (o Options) maxPixels() int {
	if o.MaxPixels > 0 {
		return o.MaxPixels
	}
	return DefaultMaxPixels
}

func (o Options) jpegQuality() int {
	if o.JPEGQuality > 0 {
		return o.JPEGQuality
	}
	return DefaultJPEGQuality
}

// Validate reports the first inconsistent setting, wrapped around ErrOption.
func (o Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrOption, fmt.Sprintf(format, args...))
	}
	switch {
	case o.Width < 0 || o.Height < 0:
		return bad("negative target size %dx%d", o.Width, o.Height)
	case (o.Width == 0) != (o.Height == 0):
		return bad("target size %dx%d: set both width and height, or neither", o.Width, o.Height)
	case o.KeepAspectRatio && o.Width == 0:
		return bad("KeepAspectRatio needs a target size")
	case o.Filter < Nearest || o.Filter > Lanczos:
		return bad("unknown filter %d", int(o.Filter))
	case o.ColorMode < RGB || o.ColorMode > RGBA:
		return bad("unknown color mode %d", int(o.ColorMode))
	case o.Encoding < Float32 || o.Encoding > JPEG:
		return bad("unknown encoding %d", int(o.Encoding))
	case o.MaxPixels < 0:
		return bad("negative MaxPixels %d", o.MaxPixels)
	case o.MaxDecodeBytes < 0:
		return bad("negative MaxDecodeBytes %d", o.MaxDecodeBytes)
	case o.Width > 0 && o.Width > o.maxPixels()/o.Height:
		return bad("target size %dx%d is more than MaxPixels (%d)", o.Width, o.Height, o.maxPixels())
	case o.JPEGQuality < 0 || o.JPEGQuality > 100:
		return bad("JPEGQuality %d out of range 1..100", o.JPEGQuality)
	case o.Encoding == JPEG && o.ColorMode == RGBA:
		return bad("JPEG encoding cannot store an alpha channel; use PNG for rgba")
	case (len(o.Mean) > 0 || len(o.Std) > 0) && o.Encoding != Float32:
		return bad("Mean/Std apply to float32 encoding only, not %s", o.Encoding)
	case len(o.Mean) != 0 && len(o.Mean) != o.Channels():
		return bad("Mean has %d values, want %d (one per channel)", len(o.Mean), o.Channels())
	case len(o.Std) != 0 && len(o.Std) != o.Channels():
		return bad("Std has %d values, want %d (one per channel)", len(o.Std), o.Channels())
	}
	for i, s := range o.Std {
		if s == 0 {
			return bad("Std[%d] is 0", i)
		}
	}
	return nil
}

// ErrOption is wrapped by every error about invalid Options.
var ErrOption = errors.New("imageprep: invalid option")

// ErrClosed is returned by a Processor after Close.
var ErrClosed = errors.New("imageprep: processor is closed")

// Sentinel errors for each ErrorKind; errors.Is(err, ErrCorrupt) is true for an *Error of kind Corrupt.
var (
	ErrCorrupt     = errors.New("imageprep: corrupt image")
	ErrUnsupported = errors.New("imageprep: unsupported image")
	ErrTooLarge    = errors.New("imageprep: image too large")
	ErrTruncated   = errors.New("imageprep: truncated image")
)

// ErrorKind classifies why an image could not be used.
type ErrorKind int

const (
	Corrupt     ErrorKind = iota + 1 // damaged or not an image at all
	Unsupported                      // a valid image this decoder cannot handle (12-bit JPEG, ...)
	TooLarge                         // more pixels than Options.MaxPixels, or bytes than MaxDecodeBytes
	Truncated                        // the data ends early
)

func (k ErrorKind) String() string {
	switch k {
	case Corrupt:
		return "corrupt"
	case Unsupported:
		return "unsupported"
	case TooLarge:
		return "too large"
	case Truncated:
		return "truncated"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

func (k ErrorKind) sentinel() error {
	switch k {
	case Corrupt:
		return ErrCorrupt
	case Unsupported:
		return ErrUnsupported
	case TooLarge:
		return ErrTooLarge
	case Truncated:
		return ErrTruncated
	}
	return nil
}

// Error is the error for one image. Offset is the byte offset in the encoded data where the decoder
// stopped, or -1 when it is not known.
type Error struct {
	Name   string
	Kind   ErrorKind
	Offset int64
	Err    error
}

func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "image"
	}
	if e.Offset >= 0 {
		return fmt.Sprintf("imageprep: %s: %s at byte %d: %v", name, e.Kind, e.Offset, e.Err)
	}
	return fmt.Sprintf("imageprep: %s: %s: %v", name, e.Kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrCorrupt) (and the other kind sentinels) work.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind.sentinel() }

func newError(name string, kind ErrorKind, offset int64, format string, args ...any) *Error {
	return &Error{Name: name, Kind: kind, Offset: offset, Err: fmt.Errorf(format, args...)}
}

// Image is decoded or resized pixels: HWC, row-major, 8 bits per channel.
type Image struct {
	Width, Height, Channels int
	Pix                     []uint8
}

//go:build !cgo

package imageprep

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"runtime"
)

// DecoderName names the JPEG decoder compiled in; the dataset manifest records it.
func DecoderName() string { return "image/jpeg " + runtime.Version() + " (pure Go)" }

// PILIdentical reports whether this build's pixels are bit-identical to Keras/PIL's. The standard
// library's IDCT and chroma upsampling differ from libjpeg's, so pure-Go pixels differ by a few
// levels (see the package tests for the measured bounds).
const PILIdentical = false

// jpegDecoder wraps image/jpeg. It has no state; the type mirrors the cgo build's.
type jpegDecoder struct{}

func newJPEGDecoder() (*jpegDecoder, error) { return &jpegDecoder{}, nil }

// adobeAPP14 is an Adobe segment with transform 0 ("no transform"). image/jpeg refuses 4-component
// JPEGs without one; inserted after SOI it makes image/jpeg read the components as stored, as
// libjpeg does.
var adobeAPP14 = []byte{0xFF, 0xEE, 0x00, 0x0E, 'A', 'd', 'o', 'b', 'e', 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00}

// decode decodes a JPEG with image/jpeg into buf (grown as needed). FastDCTScale has no effect here:
// image/jpeg cannot scale in the DCT domain.
func (d *jpegDecoder) decode(name string, data []byte, o *Options, tw, th int, buf []uint8) (raster, []uint8, error) {
	if len(data) == 0 {
		return raster{}, buf, newError(name, Corrupt, 0, "empty data")
	}
	meta := scanJPEG(data)
	src := data
	if meta.components == 4 && !meta.adobe {
		src = make([]byte, 0, len(data)+len(adobeAPP14))
		src = append(append(append(src, data[:2]...), adobeAPP14...), data[2:]...)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(src))
	if err != nil {
		return raster{}, buf, goJPEGError(name, err)
	}
	if cfg.Width*cfg.Height > o.maxPixels() {
		return raster{}, buf, newError(name, TooLarge, -1, "%dx%d is %d pixels, more than the limit of %d",
			cfg.Width, cfg.Height, cfg.Width*cfg.Height, o.maxPixels())
	}
	img, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		return raster{}, buf, goJPEGError(name, err)
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.Gray:
		buf = grow(buf, w*h)
		for y := range h {
			copy(buf[y*w:(y+1)*w], m.Pix[y*m.Stride:])
		}
		return raster{w: w, h: h, mode: srcL, pix: buf}, buf, nil
	case *image.CMYK:
		// image/jpeg inverts Adobe-convention samples; libjpeg hands them over raw. Undo it.
		buf = grow(buf, w*h*4)
		for y := range h {
			row := m.Pix[y*m.Stride : y*m.Stride+w*4]
			out := buf[y*w*4 : (y+1)*w*4]
			for i, v := range row {
				out[i] = 255 - v
			}
		}
		return raster{w: w, h: h, mode: srcCMYK, pix: buf}, buf, nil
	case *image.RGBA:
		buf = grow(buf, w*h*3)
		for y := range h {
			row := m.Pix[y*m.Stride:]
			for x := range w {
				buf[(y*w+x)*3], buf[(y*w+x)*3+1], buf[(y*w+x)*3+2] = row[x*4], row[x*4+1], row[x*4+2]
			}
		}
		return raster{w: w, h: h, mode: srcRGB, pix: buf}, buf, nil
	case *image.YCbCr:
		buf = grow(buf, w*h*3)
		for y := range h {
			for x := range w {
				c := m.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				r, g, bl := ycbcrToRGB(c.Y, c.Cb, c.Cr)
				i := (y*w + x) * 3
				buf[i], buf[i+1], buf[i+2] = r, g, bl
			}
		}
		return raster{w: w, h: h, mode: srcRGB, pix: buf}, buf, nil
	}
	return raster{}, buf, newError(name, Unsupported, -1, "image/jpeg returned %T", img)
}

// ycbcrToRGB is libjpeg's YCbCr to RGB conversion (jdcolor.c, 16-bit fixed point), which is closer
// to PIL than image/color's own rounding.
func ycbcrToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	const (
		scale = 16
		half  = 1 << (scale - 1)
	)
	yy := int32(y)
	cbv, crv := int32(cb)-128, int32(cr)-128
	r := yy + ((91881*crv + half) >> scale)
	g := yy + ((-22554*cbv - 46802*crv + half) >> scale)
	b := yy + ((116130*cbv + half) >> scale)
	return clamp255(r), clamp255(g), clamp255(b)
}

func clamp255(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

func goJPEGError(name string, err error) error {
	var unsupported jpeg.UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return &Error{Name: name, Kind: Unsupported, Offset: -1, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &Error{Name: name, Kind: Truncated, Offset: -1, Err: err}
	}
	return &Error{Name: name, Kind: Corrupt, Offset: -1, Err: err}
}

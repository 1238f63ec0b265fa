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

// jpegDecoder wraps image/jpeg; the type mirrors the cgo build's.
type jpegDecoder struct {
	closed bool
	// reserve admits a whole-image decode of w x h needing bytes (Processor.reserve)
	reserve func(name string, w, h int, bytes int64) error
}

func newJPEGDecoder() (*jpegDecoder, error) { return &jpegDecoder{}, nil }

func (d *jpegDecoder) close() { d.closed = true }

// adobeAPP14 is an Adobe segment with transform 0 ("no transform"). image/jpeg refuses 4-component
// JPEGs without one; inserted after SOI it makes image/jpeg read the components as stored, as
// libjpeg does.
var adobeAPP14 = []byte{0xFF, 0xEE, 0x00, 0x0E, 'A', 'd', 'o', 'b', 'e', 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00}

// decode decodes a JPEG with image/jpeg into buf (grown as needed). FastDCTScale has no effect here:
// image/jpeg cannot scale in the DCT domain. image/jpeg decodes whole images only, so sink is
// never used.
func (d *jpegDecoder) decode(name string, data []byte, o *Options, tw, th int, buf []uint8, sink bandSink) (raster, []uint8, error) {
	if d.closed {
		return raster{}, buf, ErrClosed
	}
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
		return raster{}, buf, goJPEGError(name, data, meta, err)
	}
	if cfg.Width*cfg.Height > o.maxPixels() {
		return raster{}, buf, newError(name, TooLarge, -1, "%dx%d is %d pixels, more than the limit of %d",
			cfg.Width, cfg.Height, cfg.Width*cfg.Height, o.maxPixels())
	}
	// image/jpeg's planes (up to 4 bytes per pixel), our samples (up to 4) and upsampled chroma (2).
	if err := d.reserve(name, cfg.Width, cfg.Height, int64(cfg.Width)*int64(cfg.Height)*10); err != nil {
		return raster{}, buf, err
	}
	img, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		return raster{}, buf, goJPEGError(name, data, meta, err)
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
		cb, cr := upsampleChroma(m, w, h)
		for y := range h {
			for x := range w {
				i := y*w + x
				r, g, bl := ycbcrToRGB(m.Y[y*m.YStride+x], cb[i], cr[i])
				buf[i*3], buf[i*3+1], buf[i*3+2] = r, g, bl
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

// goJPEGError classifies an image/jpeg error. image/jpeg reports data that ends inside a scan as a
// format error ("short Huffman data"); a stream with no EOI marker after its frame header is
// reported as truncated instead, as libjpeg would.
func goJPEGError(name string, data []byte, meta jpegMeta, err error) error {
	var unsupported jpeg.UnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return &Error{Name: name, Kind: Unsupported, Offset: -1, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		meta.sofOffset >= 0 && bytes.LastIndex(data, []byte{0xFF, 0xD9}) < meta.sofOffset:
		return &Error{Name: name, Kind: Truncated, Offset: -1, Err: err}
	}
	return &Error{Name: name, Kind: Corrupt, Offset: -1, Err: err}
}

// upsampleChroma returns full-resolution Cb and Cr planes. For 4:2:0 and 4:2:2 it uses libjpeg's
// "fancy" triangle-filter upsampling (jdsample.c h2v2/h2v1), which PIL gets from libjpeg; other
// ratios, and planes at most 2 samples wide (where libjpeg does the same), repeat samples.
func upsampleChroma(m *image.YCbCr, w, h int) (cb, cr []uint8) {
	cb, cr = make([]uint8, w*h), make([]uint8, w*h)
	cw := (w + 1) / 2
	switch {
	case m.SubsampleRatio == image.YCbCrSubsampleRatio420 && cw > 2:
		ch := (h + 1) / 2
		fancyH2V2(cb, m.Cb, m.CStride, w, h, cw, ch)
		fancyH2V2(cr, m.Cr, m.CStride, w, h, cw, ch)
	case m.SubsampleRatio == image.YCbCrSubsampleRatio422 && cw > 2:
		fancyH2V1(cb, m.Cb, m.CStride, w, h, cw)
		fancyH2V1(cr, m.Cr, m.CStride, w, h, cw)
	default:
		for y := range h {
			for x := range w {
				ci := m.COffset(x, y)
				cb[y*w+x], cr[y*w+x] = m.Cb[ci], m.Cr[ci]
			}
		}
	}
	return cb, cr
}

// fancyH2V2 doubles a plane in both directions: each output sample weighs its nearest input sample
// 9/16, the two next-nearest 3/16 each and the diagonal one 1/16, with libjpeg's alternating rounding
// bias. Rows and columns beyond the edges repeat the edge.
func fancyH2V2(dst, src []uint8, stride, w, h, cw, ch int) {
	row := make([]uint8, 2*cw)
	for oy := range h {
		near := oy / 2
		far := near - 1
		if oy%2 == 1 {
			far = near + 1
		}
		far = max(0, min(far, ch-1))
		r0, r1 := src[near*stride:], src[far*stride:]
		sum := func(x int) int { return int(r0[x])*3 + int(r1[x]) }
		this, next := sum(0), sum(1)
		row[0] = uint8((this*4 + 8) >> 4)
		row[1] = uint8((this*3 + next + 7) >> 4)
		last := this
		this = next
		for x := 1; x < cw-1; x++ {
			next = sum(x + 1)
			row[2*x] = uint8((this*3 + last + 8) >> 4)
			row[2*x+1] = uint8((this*3 + next + 7) >> 4)
			last, this = this, next
		}
		row[2*cw-2] = uint8((this*3 + last + 8) >> 4)
		row[2*cw-1] = uint8((this*4 + 7) >> 4)
		copy(dst[oy*w:(oy+1)*w], row)
	}
}

// fancyH2V1 doubles a plane horizontally: 3/4 nearest plus 1/4 next-nearest, libjpeg's rounding.
func fancyH2V1(dst, src []uint8, stride, w, h, cw int) {
	row := make([]uint8, 2*cw)
	for y := range h {
		in := src[y*stride:]
		row[0] = in[0]
		row[1] = uint8((int(in[0])*3 + int(in[1]) + 2) >> 2)
		for x := 1; x < cw-1; x++ {
			v := int(in[x]) * 3
			row[2*x] = uint8((v + int(in[x-1]) + 1) >> 2)
			row[2*x+1] = uint8((v + int(in[x+1]) + 2) >> 2)
		}
		v := int(in[cw-1])
		row[2*cw-2] = uint8((v*3 + int(in[cw-2]) + 1) >> 2)
		row[2*cw-1] = uint8(v)
		copy(dst[y*w:(y+1)*w], row)
	}
}

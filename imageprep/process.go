package imageprep

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
)

// Processor runs the whole transformation of Options on one image after another, reusing its
// decoder and buffers, so that in steady state Process allocates nothing but the growth of dst
// (Float32 and Uint8 encodings). It is not safe for concurrent use: use one per goroutine.
type Processor struct {
	opts  Options
	dec   *jpegDecoder
	rs    resizer
	scale [256]float32 // v/255 exactly as numpy computes it in float32
	bits  [256]uint32  // math.Float32bits of scale
	norm  []float32    // (v/255-Mean)/Std, 256 values per channel, when Mean or Std is set
	// reused pixel buffers
	decoded, oriented, row, outRow, converted, resized []uint8
	// floatOut, while Process makes a fixed-size Float32 output, is where its bytes go: nearest
	// rows are encoded there as they are made, and pixels returns no Image.
	floatOut []byte
	band     nearestBands
	held     int64 // decode budget taken for the current image
}

// NewProcessor validates opts and prepares a Processor.
func NewProcessor(opts Options) (*Processor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dec, err := newJPEGDecoder()
	if err != nil {
		return nil, err
	}
	p := &Processor{opts: opts, dec: dec}
	dec.reserve = p.reserve
	for v := range 256 {
		p.scale[v] = float32(v) / 255
		p.bits[v] = math.Float32bits(p.scale[v])
	}
	if len(opts.Mean) > 0 || len(opts.Std) > 0 {
		c := opts.Channels()
		p.norm = make([]float32, 256*c)
		for ch := range c {
			mean, std := float32(0), float32(1)
			if len(opts.Mean) > 0 {
				mean = opts.Mean[ch]
			}
			if len(opts.Std) > 0 {
				std = opts.Std[ch]
			}
			for v := range 256 {
				p.norm[ch*256+v] = (p.scale[v] - mean) / std
			}
		}
	}
	return p, nil
}

// Close releases the decoder's C memory now rather than when the garbage collector finds the
// Processor unreachable (Beam's Teardown is a good place). A closed Processor returns ErrClosed.
func (p *Processor) Close() { p.dec.close() }

// Options returns the options the Processor was made with.
func (p *Processor) Options() Options { return p.opts }

// Process decodes data (JPEG or PNG), transforms it as the Options say and appends the encoded
// result to dst. name only labels errors. Errors are *Error values (errors.Is with ErrCorrupt,
// ErrUnsupported, ErrTooLarge, ErrTruncated).
func (p *Processor) Process(name string, data []byte, dst []byte) ([]byte, error) {
	defer p.unreserve()
	if n := p.opts.OutputBytes(); n > 0 && p.opts.Encoding == Float32 {
		start := len(dst)
		dst = growLen(dst, n)
		p.floatOut = dst[start:]
		img, err := p.pixels(name, data)
		p.floatOut = nil
		if err != nil {
			return dst[:start], err
		}
		if img.Pix != nil {
			p.encodeFloat(dst[start:], img.Pix, img.Channels)
		}
		return dst, nil
	}
	img, err := p.pixels(name, data)
	if err != nil {
		return dst, err
	}
	return p.encode(name, img, dst)
}

// pixels is everything before encoding: the 0..255 output image, aliasing the Processor's buffers.
// When p.floatOut is set and the rows could be encoded as they were made, the returned Image has no
// pixels: p.floatOut holds them.
func (p *Processor) pixels(name string, data []byte) (Image, error) {
	o := &p.opts
	var sink bandSink
	if o.Filter == Nearest && o.Width > 0 && !(o.ApplyOrientation && isJPEG(data) && scanJPEG(data).orientation > 1) {
		p.band.p = p
		sink = &p.band
	}
	r, err := p.decode(name, data, sink)
	if err != nil {
		return Image{}, err
	}
	if r.pix == nil {
		// sink took the rows; rows whose source is outside the image are left.
		for y := p.band.next; y < o.Height; y++ {
			out := p.rowBuffer(y)
			clear(out)
			p.rowDone(y, out)
		}
		return p.result(), nil
	}
	if o.ApplyOrientation && isJPEG(data) {
		p.oriented = grow(p.oriented, len(r.pix))
		r = orient(r, scanJPEG(data).orientation, p.oriented)
	}
	c := o.Channels()
	w, h := o.Width, o.Height
	if w == 0 || (w == r.w && h == r.h) {
		// Keras resizes only when the size differs.
		p.converted = grow(p.converted, r.w*r.h*c)
		convert(p.converted, r.pix, r.w*r.h, r.mode, o.ColorMode)
		return Image{Width: r.w, Height: r.h, Channels: c, Pix: p.converted}, nil
	}
	b := fullBox(r.w, r.h)
	if o.KeepAspectRatio {
		b = cropBox(r.w, r.h, w, h)
	}
	if o.Filter == Nearest {
		// Nearest picks whole source pixels, so converting after picking gives PIL's
		// convert-then-resize pixels while converting only the pixels kept. Row by row, the
		// picked pixels stay in cache between the steps.
		sc := r.mode.channels()
		p.rs.nearestGrid(r.w, r.h, b, w, h)
		p.row = grow(p.row, w*sc)
		p.startRows()
		for y := range h {
			out := p.rowBuffer(y)
			p.rs.nearestRow(r.pix, r.w, sc, y, p.row)
			convert(out, p.row, w, r.mode, o.ColorMode)
			p.clearOutside(y, out)
			p.rowDone(y, out)
		}
		return p.result(), nil
	}
	p.converted = grow(p.converted, r.w*r.h*c)
	convert(p.converted, r.pix, r.w*r.h, r.mode, o.ColorMode)
	p.resized = p.rs.resizeMode(p.converted, r.w, r.h, c, b, w, h, o.Filter, p.resized)
	return Image{Width: w, Height: h, Channels: c, Pix: p.resized}, nil
}

// cropBox is Keras' keep_aspect_ratio box: the largest centred box of the target's aspect ratio.
func cropBox(w, h, tw, th int) box {
	cropH := min(h, w*th/tw)
	cropW := min(w, h*tw/th)
	x0 := (w - cropW) / 2
	y0 := (h - cropH) / 2
	return box{float32(x0), float32(y0), float32(x0 + cropW), float32(y0 + cropH)}
}

func isJPEG(data []byte) bool {
	return len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// decode decodes data whole, or, when sink is not nil and the decoder can, band by band into sink
// (the raster then has no pixels).
func (p *Processor) decode(name string, data []byte, sink bandSink) (raster, error) {
	switch {
	case isJPEG(data):
		r, buf, err := p.dec.decode(name, data, &p.opts, p.opts.Width, p.opts.Height, p.decoded, sink)
		p.decoded = buf
		return r, err
	case bytes.HasPrefix(data, pngMagic):
		return p.decodePNG(name, data)
	}
	return raster{}, newError(name, Corrupt, 0, "not a JPEG or PNG file (starts with % x)", data[:min(len(data), 4)])
}

// decodePNG reads a PNG into PIL's mode for it: L for 8-bit gray, RGB, RGBA (with alpha), palette
// images expanded. 16-bit samples keep their high byte, as PIL's "RGB;16B" unpacker does; 16-bit
// grayscale, which PIL opens as mode I, is clipped to 255 as PIL's I to L/RGB conversion does.
// image/png decodes whole images only: the bytes it and the conversion need are reserved first.
func (p *Processor) decodePNG(name string, data []byte) (raster, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return raster{}, pngError(name, err)
	}
	w, h := cfg.Width, cfg.Height
	if maxPixels := p.opts.maxPixels(); w*h > maxPixels {
		return raster{}, newError(name, TooLarge, -1, "%dx%d is %d pixels, more than the limit of %d",
			w, h, w*h, maxPixels)
	}
	// Bytes per pixel: image/png's image, then ours (RGB, or the generic path's RGBA and RGB).
	var goBytes, ours int64
	switch cfg.ColorModel {
	case color.GrayModel:
		goBytes = 1
	case color.Gray16Model:
		goBytes, ours = 2, 1
	case color.RGBAModel, color.NRGBAModel:
		goBytes, ours = 4, 3
	default: // 16-bit colour, palettes
		goBytes, ours = 8, 7
		if _, ok := cfg.ColorModel.(color.Palette); ok {
			goBytes = 1
		}
	}
	if err := p.reserve(name, w, h, int64(w)*int64(h)*(goBytes+ours)); err != nil {
		return raster{}, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return raster{}, pngError(name, err)
	}
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return raster{w: w, h: h, mode: srcL, pix: m.Pix}, nil
	case *image.Gray16:
		pix := make([]uint8, w*h)
		for i := range pix {
			v := binary.BigEndian.Uint16(m.Pix[i*2:])
			pix[i] = uint8(min(v, 255))
		}
		return raster{w: w, h: h, mode: srcL, pix: pix}, nil
	case *image.NRGBA:
		if opaque(m.Pix) {
			rgb := make([]uint8, w*h*3)
			convert(rgb, m.Pix, w*h, srcRGBA, RGB)
			return raster{w: w, h: h, mode: srcRGB, pix: rgb}, nil
		}
		return raster{w: w, h: h, mode: srcRGBA, pix: m.Pix}, nil
	case *image.RGBA:
		if opaque(m.Pix) { // image/png's 8-bit truecolour without transparency
			rgb := make([]uint8, w*h*3)
			convert(rgb, m.Pix, w*h, srcRGBA, RGB)
			return raster{w: w, h: h, mode: srcRGB, pix: rgb}, nil
		}
	}
	isOpaque := true
	pix := make([]uint8, w*h*4)
	for y := range h {
		for x := range w {
			c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
			i := (y*w + x) * 4
			pix[i], pix[i+1], pix[i+2], pix[i+3] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8), uint8(c.A>>8)
			isOpaque = isOpaque && c.A == 0xFFFF
		}
	}
	if isOpaque {
		rgb := make([]uint8, w*h*3)
		convert(rgb, pix, w*h, srcRGBA, RGB)
		return raster{w: w, h: h, mode: srcRGB, pix: rgb}, nil
	}
	return raster{w: w, h: h, mode: srcRGBA, pix: pix}, nil
}

func pngError(name string, err error) error {
	var fe png.FormatError
	var ue png.UnsupportedError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &fe) && fe == "unexpected EOF":
		return &Error{Name: name, Kind: Truncated, Offset: -1, Err: err}
	case errors.As(err, &ue):
		return &Error{Name: name, Kind: Unsupported, Offset: -1, Err: err}
	}
	return &Error{Name: name, Kind: Corrupt, Offset: -1, Err: err}
}

// Decode decodes a JPEG or PNG into the pixels of color mode mode at the source size, as Keras'
// load_img without target_size does. Of opts it uses MaxPixels, AllowWarnings and ApplyOrientation.
func Decode(data []byte, mode ColorMode, opts Options) (*Image, error) {
	opts.ColorMode = mode
	opts.Width, opts.Height = 0, 0
	opts.KeepAspectRatio, opts.FastDCTScale = false, false
	opts.Encoding, opts.Mean, opts.Std = Uint8, nil, nil
	p, err := NewProcessor(opts)
	if err != nil {
		return nil, err
	}
	defer p.dec.close()
	defer p.unreserve()
	img, err := p.pixels("", data)
	if err != nil {
		return nil, err
	}
	img.Pix = append([]uint8(nil), img.Pix...)
	return &img, nil
}

// encodeFloat writes pixels with c channels as little-endian float32 v/255, or (v/255-Mean)/Std,
// to out, which holds 4 bytes per value.
func (p *Processor) encodeFloat(out []byte, pix []uint8, c int) {
	out = out[:len(pix)*4]
	if p.norm == nil {
		for i, v := range pix {
			binary.LittleEndian.PutUint32(out[i*4:i*4+4], p.bits[v])
		}
		return
	}
	for i, v := range pix {
		binary.LittleEndian.PutUint32(out[i*4:i*4+4], math.Float32bits(p.norm[(i%c)*256+int(v)]))
	}
}

func (p *Processor) encode(name string, img Image, dst []byte) ([]byte, error) {
	o := &p.opts
	switch o.Encoding {
	case Float32:
		start := len(dst)
		dst = growLen(dst, len(img.Pix)*4)
		p.encodeFloat(dst[start:], img.Pix, img.Channels)
		return dst, nil
	case Uint8:
		return append(dst, img.Pix...), nil
	}
	var buf bytes.Buffer
	var err error
	std := stdImage(img)
	if o.Encoding == PNG {
		err = png.Encode(&buf, std)
	} else {
		err = jpeg.Encode(&buf, std, &jpeg.Options{Quality: o.jpegQuality()})
	}
	if err != nil {
		return dst, &Error{Name: name, Kind: Unsupported, Offset: -1, Err: err}
	}
	return append(dst, buf.Bytes()...), nil
}

// Encode appends img, 0..255 pixels with the Options' channels, encoded as the Options say, to dst:
// Process's last step alone, for pixels already prepared (re-encoding a converted dataset). The
// bytes are those Process writes for the same pixels.
func (p *Processor) Encode(name string, img *Image, dst []byte) ([]byte, error) {
	if c := p.opts.Channels(); img.Channels != c || len(img.Pix) != img.Width*img.Height*c {
		return dst, newError(name, Unsupported, -1, "%dx%d image of %d channels (%d bytes), want %d channels", img.Width, img.Height, img.Channels, len(img.Pix), c)
	}
	return p.encode(name, *img, dst)
}

// growLen extends s by n bytes, reallocating at most once.
func growLen(s []byte, n int) []byte {
	if cap(s)-len(s) >= n {
		return s[:len(s)+n]
	}
	out := make([]byte, len(s)+n, 2*len(s)+n)
	copy(out, s)
	return out
}

// stdImage wraps HWC pixels as an image.Image for the standard encoders.
func stdImage(img Image) image.Image {
	r := image.Rect(0, 0, img.Width, img.Height)
	switch img.Channels {
	case 1:
		return &image.Gray{Pix: img.Pix, Stride: img.Width, Rect: r}
	case 4:
		return &image.NRGBA{Pix: img.Pix, Stride: img.Width * 4, Rect: r}
	}
	m := image.NewNRGBA(r)
	for i := range img.Width * img.Height {
		m.Pix[i*4], m.Pix[i*4+1], m.Pix[i*4+2], m.Pix[i*4+3] = img.Pix[i*3], img.Pix[i*3+1], img.Pix[i*3+2], 255
	}
	return m
}

// DecodeOutput turns bytes that Process produced with opts back into 0..255 pixels, for previews
// and checks. Float32 and Uint8 need opts.Width and opts.Height (the stored shape); Float32 values
// are un-normalised with Mean/Std, scaled by 255 and rounded. PNG and JPEG are decoded as images.
func DecodeOutput(data []byte, opts Options) (*Image, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := opts.Channels()
	switch opts.Encoding {
	case PNG, JPEG:
		return Decode(data, opts.ColorMode, Options{MaxPixels: opts.MaxPixels})
	case Uint8:
		if want := opts.OutputBytes(); want < 0 || len(data) != want {
			return nil, newError("", Corrupt, -1, "uint8 output is %d bytes, want %d for %dx%dx%d", len(data), opts.OutputBytes(), opts.Width, opts.Height, c)
		}
		return &Image{Width: opts.Width, Height: opts.Height, Channels: c, Pix: append([]uint8(nil), data...)}, nil
	}
	if want := opts.OutputBytes(); want < 0 || len(data) != want {
		return nil, newError("", Corrupt, -1, "float32 output is %d bytes, want %d for %dx%dx%d", len(data), opts.OutputBytes(), opts.Width, opts.Height, c)
	}
	pix := make([]uint8, len(data)/4)
	for i := range pix {
		v := math.Float32frombits(binary.LittleEndian.Uint32(data[i*4:]))
		if len(opts.Std) > 0 {
			v *= opts.Std[i%c]
		}
		if len(opts.Mean) > 0 {
			v += opts.Mean[i%c]
		}
		pix[i] = uint8(math.Round(math.Max(0, math.Min(255, float64(v)*255))))
	}
	return &Image{Width: opts.Width, Height: opts.Height, Channels: c, Pix: pix}, nil
}

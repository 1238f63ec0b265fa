package imageprep

import "math"

// This file reproduces Pillow's Image.resize for 8-bit images bit for bit.
//
// Nearest uses _imaging.c's affine path (Geometry.c ImagingScaleAffine): the source coordinate of
// output column x is box0 + scale/2 + x*scale, accumulated by repeated float64 addition exactly as
// the C loop does, then truncated. The other filters use Resample.c: per output pixel a window of
// coefficients computed in float64, normalised to sum 1, rounded to 22-bit fixed point, applied
// horizontally (to the rows the vertical pass needs) and then vertically, each pass rounding and
// clipping to 0..255.
//
// Products are wrapped in explicit float64 conversions wherever C evaluates a*b+c as two roundings:
// the conversions stop the Go compiler from fusing them into an FMA on platforms that have one.

const precisionBits = 32 - 8 - 2

type filterFunc struct {
	kernel  func(x float64) float64
	support float64
}

var filters = [...]filterFunc{
	Box:      {boxKernel, 0.5},
	Bilinear: {bilinearKernel, 1},
	Hamming:  {hammingKernel, 1},
	Bicubic:  {bicubicKernel, 2},
	Lanczos:  {lanczosKernel, 3},
}

func boxKernel(x float64) float64 {
	if x > -0.5 && x <= 0.5 {
		return 1
	}
	return 0
}

func bilinearKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}

// Pillow writes the Hamming constants as C float literals (0.54f, 0.46f).
var hammingA, hammingB = float64(float32(0.54)), float64(float32(0.46))

func hammingKernel(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return 1
	}
	if x >= 1 {
		return 0
	}
	x = float64(x * math.Pi)
	return float64(math.Sin(x)/x) * (hammingA + float64(hammingB*math.Cos(x)))
}

func bicubicKernel(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		return float64(float64(float64(float64(x-5)*x)+8)*x-4) * a
	}
	return 0
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x = float64(x * math.Pi)
	return math.Sin(x) / x
}

func lanczosKernel(x float64) float64 {
	if -3 <= x && x < 3 {
		return sinc(x) * sinc(x/3)
	}
	return 0
}

// coeffs is one pass' fixed-point weights: output i reads input [start[i], start[i]+count[i]) with
// weights k[i*ksize:].
type coeffs struct {
	inSize, outSize int
	in0, in1        float32
	filter          Filter
	ksize           int
	start, count    []int
	k               []int32
}

func (c *coeffs) matches(inSize int, in0, in1 float32, outSize int, f Filter) bool {
	return c.ksize > 0 && c.inSize == inSize && c.in0 == in0 && c.in1 == in1 && c.outSize == outSize && c.filter == f
}

// compute fills c like Resample.c's precompute_coeffs followed by normalize_coeffs_8bpc.
func (c *coeffs) compute(inSize int, in0, in1 float32, outSize int, f Filter) {
	fl := filters[f]
	scale := float64(in1-in0) / float64(outSize)
	filterscale := scale
	if filterscale < 1 {
		filterscale = 1
	}
	support := fl.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	*c = coeffs{inSize: inSize, in0: in0, in1: in1, outSize: outSize, filter: f, ksize: ksize,
		start: grow(c.start, outSize), count: grow(c.count, outSize), k: grow(c.k, outSize*ksize)}
	w := make([]float64, ksize)
	ss := 1 / filterscale
	for xx := range outSize {
		center := float64(in0) + float64((float64(xx)+0.5)*scale)
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := range xmax {
			w[x] = fl.kernel(float64((float64(x+xmin) - center + 0.5) * ss))
			ww += w[x]
		}
		k := c.k[xx*ksize : (xx+1)*ksize]
		for x := range k {
			k[x] = 0
		}
		for x := range xmax {
			v := w[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + float64(v*(1<<precisionBits)))
			} else {
				k[x] = int32(0.5 + float64(v*(1<<precisionBits)))
			}
		}
		c.start[xx] = xmin
		c.count[xx] = max(xmax, 0)
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// box is a source rectangle in PIL's float32 box coordinates.
type box struct{ x0, y0, x1, y1 float32 }

func fullBox(w, h int) box { return box{0, 0, float32(w), float32(h)} }

// resizer holds the buffers and coefficient tables one Processor reuses between images.
type resizer struct {
	horiz, vert coeffs
	xin, yin    []int // nearest: source column per output column, source row per output row
	outside     bool  // nearest: some output column has no source pixel
	tmp         []uint8
	acc         []int32
}

// resize is PIL's Image.resize((w, h), f, box) on an image with c interleaved 8-bit channels. The
// result is written to dst (grown as needed) and returned.
func (r *resizer) resize(src []uint8, sw, sh, c int, b box, w, h int, f Filter, dst []uint8) []uint8 {
	dst = grow(dst, w*h*c)
	// _imaging.c: an integer box of exactly the requested size is a crop, for every filter.
	if b.x0 == float32(int(b.x0)) && b.y0 == float32(int(b.y0)) && b.x1-b.x0 == float32(w) && b.y1-b.y0 == float32(h) {
		x0, y0 := int(b.x0), int(b.y0)
		for y := range h {
			copy(dst[y*w*c:(y+1)*w*c], src[((y0+y)*sw+x0)*c:])
		}
		return dst
	}
	if f == Nearest {
		r.nearest(src, sw, sh, c, b, w, h, dst)
		return dst
	}
	r.resample(src, sw, sh, c, b, w, h, f, dst)
	return dst
}

// nearest is Geometry.c's ImagingScaleAffine with fill: output pixels whose source falls outside the
// image are zero.
func (r *resizer) nearest(src []uint8, sw, sh, c int, b box, w, h int, dst []uint8) {
	r.nearestGrid(sw, sh, b, w, h)
	for y := range h {
		r.nearestRow(src, sw, c, y, dst[y*w*c:(y+1)*w*c])
	}
}

// nearestGrid tabulates PIL's source column for each output column (r.xin) and source row for each
// output row (r.yin), accumulating the float64 coordinate as the C loops do; -1 marks a source
// outside the image.
func (r *resizer) nearestGrid(sw, sh int, b box, w, h int) {
	ax := float64(b.x1-b.x0) / float64(w)
	ay := float64(b.y1-b.y0) / float64(h)
	r.xin, r.yin = grow(r.xin, w), grow(r.yin, h)
	r.outside = false
	xo := float64(b.x0) + float64(ax*0.5)
	for x := range w {
		r.xin[x] = coord(xo)
		if r.xin[x] >= sw {
			r.xin[x] = -1
		}
		r.outside = r.outside || r.xin[x] < 0
		xo += ax
	}
	yo := float64(b.y0) + float64(ay*0.5)
	for y := range h {
		r.yin[y] = coord(yo)
		if r.yin[y] >= sh {
			r.yin[y] = -1
		}
		yo += ay
	}
}

// nearestRow writes output row y of a nearestGrid into out: c-channel source pixels, or zero where
// the source is outside the image.
func (r *resizer) nearestRow(src []uint8, sw, c, y int, out []uint8) {
	yi := r.yin[y]
	if yi < 0 {
		clear(out)
		return
	}
	row := src[yi*sw*c : (yi+1)*sw*c]
	switch c {
	case 3:
		for x, xi := range r.xin {
			if xi < 0 {
				out[x*3], out[x*3+1], out[x*3+2] = 0, 0, 0
				continue
			}
			p := row[xi*3 : xi*3+3 : xi*3+3]
			o := out[x*3 : x*3+3 : x*3+3]
			o[0], o[1], o[2] = p[0], p[1], p[2]
		}
	case 4:
		for x, xi := range r.xin {
			if xi < 0 {
				out[x*4], out[x*4+1], out[x*4+2], out[x*4+3] = 0, 0, 0, 0
				continue
			}
			p := row[xi*4 : xi*4+4 : xi*4+4]
			o := out[x*4 : x*4+4 : x*4+4]
			o[0], o[1], o[2], o[3] = p[0], p[1], p[2], p[3]
		}
	default:
		for x, xi := range r.xin {
			if xi < 0 {
				clear(out[x*c : (x+1)*c])
				continue
			}
			copy(out[x*c:(x+1)*c], row[xi*c:(xi+1)*c])
		}
	}
}

// coord is Geometry.c's COORD: negative coordinates are outside, others truncate.
func coord(v float64) int {
	if v < 0 {
		return -1
	}
	return int(v)
}

// resample is Resample.c's ImagingResampleInner for 8-bit channels.
func (r *resizer) resample(src []uint8, sw, sh, c int, b box, w, h int, f Filter, dst []uint8) {
	needH := w != sw || b.x0 != 0 || b.x1 != float32(w)
	needV := h != sh || b.y0 != 0 || b.y1 != float32(h)
	if !r.vert.matches(sh, b.y0, b.y1, h, f) {
		r.vert.compute(sh, b.y0, b.y1, h, f)
	}
	vc := &r.vert
	yFirst := vc.start[0]
	yLast := vc.start[h-1] + vc.count[h-1]
	in, inW := src, sw
	rowOffset := 0
	if needH {
		if !r.horiz.matches(sw, b.x0, b.x1, w, f) {
			r.horiz.compute(sw, b.x0, b.x1, w, f)
		}
		rows := yLast - yFirst
		target := dst
		if needV {
			r.tmp = grow(r.tmp, w*rows*c)
			target = r.tmp
		}
		horizontalPass(src, sw, c, yFirst, rows, &r.horiz, target)
		in, inW = target, w
		rowOffset = yFirst
	}
	if needV {
		r.acc = grow(r.acc, inW*c)
		verticalPass(in, inW, c, rowOffset, vc, r.acc, dst)
		return
	}
	if !needH {
		copy(dst, src)
	}
}

func horizontalPass(src []uint8, sw, c, yFirst, rows int, hc *coeffs, dst []uint8) {
	w := hc.outSize
	const half = 1 << (precisionBits - 1)
	for y := range rows {
		row := src[(yFirst+y)*sw*c : (yFirst+y+1)*sw*c]
		out := dst[y*w*c : (y+1)*w*c]
		for xx := range w {
			k := hc.k[xx*hc.ksize : xx*hc.ksize+hc.count[xx]]
			in := row[hc.start[xx]*c:]
			switch c {
			case 3:
				s0, s1, s2 := int32(half), int32(half), int32(half)
				for _, kv := range k {
					s0 += int32(in[0]) * kv
					s1 += int32(in[1]) * kv
					s2 += int32(in[2]) * kv
					in = in[3:]
				}
				out[xx*3], out[xx*3+1], out[xx*3+2] = clip8(s0), clip8(s1), clip8(s2)
			case 4:
				s0, s1, s2, s3 := int32(half), int32(half), int32(half), int32(half)
				for _, kv := range k {
					s0 += int32(in[0]) * kv
					s1 += int32(in[1]) * kv
					s2 += int32(in[2]) * kv
					s3 += int32(in[3]) * kv
					in = in[4:]
				}
				out[xx*4], out[xx*4+1], out[xx*4+2], out[xx*4+3] = clip8(s0), clip8(s1), clip8(s2), clip8(s3)
			default:
				for ch := range c {
					s := int32(half)
					for x, kv := range k {
						s += int32(in[x*c+ch]) * kv
					}
					out[xx*c+ch] = clip8(s)
				}
			}
		}
	}
}

// verticalPass accumulates whole source rows into acc, one weight at a time, so that it reads
// memory sequentially; integer sums do not depend on the order, so the result is Pillow's.
func verticalPass(src []uint8, w, c, rowOffset int, vc *coeffs, acc []int32, dst []uint8) {
	const half = 1 << (precisionBits - 1)
	stride := w * c
	acc = acc[:stride]
	for yy := range vc.outSize {
		k := vc.k[yy*vc.ksize : yy*vc.ksize+vc.count[yy]]
		first := vc.start[yy] - rowOffset
		for i := range acc {
			acc[i] = half
		}
		for y, kv := range k {
			row := src[(first+y)*stride : (first+y+1)*stride]
			for i, v := range row {
				acc[i] += int32(v) * kv
			}
		}
		out := dst[yy*stride : (yy+1)*stride]
		for i, s := range acc {
			out[i] = clip8(s)
		}
	}
}

// Resize returns img resized to width x height with filter f, bit-identical to PIL's
// Image.resize((width, height), f) on an image of the same mode (L, RGB or RGBA). For RGBA with any
// alpha below 255 and a filter other than Nearest, PIL resizes premultiplied alpha; so does Resize.
func Resize(img *Image, width, height int, f Filter) *Image {
	if width == img.Width && height == img.Height {
		return &Image{Width: width, Height: height, Channels: img.Channels, Pix: append([]uint8(nil), img.Pix...)}
	}
	var r resizer
	pix := r.resizeMode(img.Pix, img.Width, img.Height, img.Channels, fullBox(img.Width, img.Height), width, height, f, nil)
	return &Image{Width: width, Height: height, Channels: img.Channels, Pix: pix}
}

// resizeMode is resize plus PIL's RGBA handling: Image.resize converts RGBA to premultiplied RGBa
// for every filter but nearest, resizes, and converts back.
func (r *resizer) resizeMode(src []uint8, sw, sh, c int, b box, w, h int, f Filter, dst []uint8) []uint8 {
	if c != 4 || f == Nearest || opaque(src) {
		return r.resize(src, sw, sh, c, b, w, h, f, dst)
	}
	pre := make([]uint8, len(src))
	premultiply(pre, src)
	dst = r.resize(pre, sw, sh, c, b, w, h, f, dst)
	unpremultiply(dst)
	return dst
}

func opaque(rgba []uint8) bool {
	for i := 3; i < len(rgba); i += 4 {
		if rgba[i] != 255 {
			return false
		}
	}
	return true
}

// muldiv255 is Pillow's MULDIV255: a*b/255 rounded, in integers.
func muldiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

// premultiply is Convert.c's rgbA2rgba.
func premultiply(dst, src []uint8) {
	for i := 0; i+3 < len(src); i += 4 {
		a := int(src[i+3])
		dst[i] = uint8(muldiv255(int(src[i]), a))
		dst[i+1] = uint8(muldiv255(int(src[i+1]), a))
		dst[i+2] = uint8(muldiv255(int(src[i+2]), a))
		dst[i+3] = src[i+3]
	}
}

// unpremultiply is Convert.c's rgba2rgbA, in place.
func unpremultiply(p []uint8) {
	for i := 0; i+3 < len(p); i += 4 {
		a := int(p[i+3])
		if a == 255 || a == 0 {
			continue
		}
		for j := range 3 {
			p[i+j] = uint8(min(255*int(p[i+j])/a, 255))
		}
	}
}

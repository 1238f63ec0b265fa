package imageprep

import "encoding/binary"

// Nearest-neighbour output is made row by row: each output row picks whole source pixels from one
// source row, converts only those to the output mode, and, for a fixed-size Float32 output, is
// encoded straight into the caller's bytes. With libjpeg's raw data (decode_cgo.go) the source rows
// arrive band by band, 8 or 16 rows of each component, and the whole decoded image never exists.

// bandSink consumes an image band by band.
type bandSink interface {
	// start is called once the image's size and source mode are known; false declines, and the
	// decoder then decodes the whole image as usual.
	start(w, h int, m srcMode) bool
	// band receives source rows [y0, y0+n): component c of row y0+r is planes[c][r*stride:],
	// one byte per pixel.
	band(y0, n int, planes [][]uint8, stride int)
}

// nearestBands is the Processor's bandSink for nearest-neighbour resizing.
type nearestBands struct {
	p    *Processor
	mode srcMode
	next int // the next output row to make
}

func (s *nearestBands) start(w, h int, m srcMode) bool {
	p, o := s.p, &s.p.opts
	b := fullBox(w, h)
	if o.KeepAspectRatio && (w != o.Width || h != o.Height) {
		b = cropBox(w, h, o.Width, o.Height)
	}
	// A source of the target size keeps its pixels: the nearest grid is then the identity,
	// which is what Keras' skipped resize gives.
	p.rs.nearestGrid(w, h, b, o.Width, o.Height)
	p.row = grow(p.row, o.Width*m.channels())
	p.startRows()
	s.mode, s.next = m, 0
	return true
}

func (s *nearestBands) band(y0, n int, planes [][]uint8, stride int) {
	p, o := s.p, &s.p.opts
	w := o.Width
	fast := s.mode == srcCMYK && o.ColorMode == RGB && p.floatOut != nil && p.norm == nil
	for ; s.next < o.Height; s.next++ {
		yi := p.rs.yin[s.next]
		if yi < 0 || yi >= y0+n {
			return // outside the image (made after the decode), or in a later band
		}
		off := (yi - y0) * stride
		if fast {
			// The Planet chips: one pass from libjpeg's component rows to the record's bytes.
			cmykPlanesToFloat(p.floatOut[s.next*w*12:(s.next+1)*w*12], planes[0][off:off+stride],
				planes[1][off:off+stride], planes[2][off:off+stride], planes[3][off:off+stride], p.rs.xin, &p.bits)
			continue
		}
		gatherPlanes(p.row, planes, off, p.rs.xin)
		out := p.rowBuffer(s.next)
		convert(out, p.row, w, s.mode, o.ColorMode)
		p.clearOutside(s.next, out)
		p.rowDone(s.next, out)
	}
}

// gatherPlanes interleaves the pixels at columns xin of one row of each plane (starting at off) into
// row; a column of -1 gives zeros.
func gatherPlanes(row []uint8, planes [][]uint8, off int, xin []int) {
	n := len(planes)
	for c, plane := range planes {
		plane = plane[off:]
		for x, xi := range xin {
			v := uint8(0)
			if xi >= 0 {
				v = plane[xi]
			}
			row[x*n+c] = v
		}
	}
}

// cmykPlanesToFloat is gatherPlanes, convert(srcCMYK to RGB) and encodeFloat in one pass for the
// four component rows c0..c3: each picked pixel becomes 12 bytes of out, through the table bits.
func cmykPlanesToFloat(out []byte, c0, c1, c2, c3 []uint8, xin []int, bits *[256]uint32) {
	out = out[:len(xin)*12]
	// Equal lengths let the compiler check c0[xi] only.
	c1, c2, c3 = c1[:len(c0)], c2[:len(c0)], c3[:len(c0)]
	for _, xi := range xin {
		o := out[:12:12]
		out = out[12:]
		if xi < 0 {
			clear(o) // zero pixels: bits[0] is +0.0
			continue
		}
		r, g, b, k := c0[xi], c1[xi], c2[xi], c3[xi]
		if k != 255 {
			r, g, b = cmykToRGB(r, g, b, k)
		}
		binary.LittleEndian.PutUint32(o[0:4], bits[r])
		binary.LittleEndian.PutUint32(o[4:8], bits[g])
		binary.LittleEndian.PutUint32(o[8:12], bits[b])
	}
}

// startRows prepares the output of a nearest resize to Options' size.
func (p *Processor) startRows() {
	n := p.opts.Width * p.opts.Channels()
	if p.floatOut != nil {
		p.outRow = grow(p.outRow, n)
		return
	}
	p.converted = grow(p.converted, n*p.opts.Height)
}

// rowBuffer is where output row y's 0..255 pixels go.
func (p *Processor) rowBuffer(y int) []uint8 {
	if p.floatOut != nil {
		return p.outRow
	}
	n := p.opts.Width * p.opts.Channels()
	return p.converted[y*n : (y+1)*n]
}

// rowDone encodes output row y into p.floatOut when the output is streamed.
func (p *Processor) rowDone(y int, out []uint8) {
	if p.floatOut != nil {
		p.encodeFloat(p.floatOut[y*len(out)*4:], out, p.opts.Channels())
	}
}

// clearOutside zeroes the pixels of output row y that have no source pixel: PIL fills them after
// conversion, so they are zero in the output mode.
func (p *Processor) clearOutside(y int, out []uint8) {
	if !p.rs.outside && p.rs.yin[y] >= 0 {
		return
	}
	c := p.opts.Channels()
	for x, xi := range p.rs.xin {
		if xi < 0 || p.rs.yin[y] < 0 {
			clear(out[x*c : (x+1)*c])
		}
	}
}

// result is the output image of a nearest resize; without pixels when they went to p.floatOut.
func (p *Processor) result() Image {
	img := Image{Width: p.opts.Width, Height: p.opts.Height, Channels: p.opts.Channels()}
	if p.floatOut == nil {
		img.Pix = p.converted
	}
	return img
}

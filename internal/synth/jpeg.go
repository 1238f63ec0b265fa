package synth

import (
	"bufio"
	"image"
	"io"
	"math"
	"sort"
)

// This file writes chips laid out as the real Planet train-jpg chips are: a baseline JPEG with four
// components (ids 0..3 holding R, G, B and a constant 255), no chroma subsampling, no JFIF and no
// Adobe marker (so libjpeg and PIL read it as inverted CMYK, which comes out as the RGB samples),
// one quantisation table shared by every component (IJG's luminance table at the chip's quality)
// and one optimised DC and one optimised AC Huffman table, also shared. Go's image/jpeg writes only
// 3-component YCbCr, so the encoder is our own; it uses integers only, so every platform writes the
// same bytes.

// ijgLuminance is the example luminance quantisation table of the JPEG standard (Annex K.1), in
// natural (row-major) order, which libjpeg scales by quality.
var ijgLuminance = [64]int32{
	16, 11, 10, 16, 24, 40, 51, 61,
	12, 12, 14, 19, 26, 58, 60, 55,
	14, 13, 16, 24, 40, 57, 69, 56,
	14, 17, 22, 29, 51, 87, 80, 62,
	18, 22, 37, 56, 68, 109, 103, 77,
	24, 35, 55, 64, 81, 104, 113, 92,
	49, 64, 78, 87, 103, 121, 120, 101,
	72, 92, 95, 98, 112, 100, 103, 99,
}

// zigzag[k] is the natural index of the k-th coefficient in zig-zag order.
var zigzag = func() (z [64]int) {
	k := 0
	for s := range 15 { // anti-diagonals x+y = s
		for i := range s + 1 {
			x, y := s-i, i // odd diagonals run down-left from the top row, even ones up-right
			if s%2 == 0 {
				x, y = i, s-i
			}
			if x < 8 && y < 8 {
				z[k] = y*8 + x
				k++
			}
		}
	}
	return z
}()

// dctBasis[u][x] is C(u)/2 * cos((2x+1)uπ/16) in fixed point with dctBits fractional bits.
const dctBits = 13

var dctBasis = func() (m [8][8]int32) {
	for u := range 8 {
		c := 0.5
		if u == 0 {
			c = 0.5 / math.Sqrt2
		}
		for x := range 8 {
			m[u][x] = int32(math.Round(c * math.Cos(float64((2*x+1)*u)*math.Pi/16) * (1 << dctBits)))
		}
	}
	return m
}()

// quantTable scales ijgLuminance to quality as libjpeg's jpeg_set_quality does (baseline: 1..255).
func quantTable(quality int) [64]int32 {
	scale := int32(200 - 2*quality)
	if quality < 50 {
		scale = int32(5000 / quality)
	}
	var q [64]int32
	for i, v := range ijgLuminance {
		q[i] = min(max((v*scale+50)/100, 1), 255)
	}
	return q
}

// fdctQuantize transforms one level-shifted 8x8 block and quantises it, writing the coefficients in
// zig-zag order.
func fdctQuantize(block *[64]int32, q *[64]int32, out *[64]int32) {
	var rows [64]int64 // rows[y*8+u]: 1-D DCT of row y
	for y := range 8 {
		for u := range 8 {
			var s int64
			for x := range 8 {
				s += int64(dctBasis[u][x]) * int64(block[y*8+x])
			}
			rows[y*8+u] = s
		}
	}
	for k, n := range zigzag {
		v, u := n/8, n%8
		var s int64
		for y := range 8 {
			s += int64(dctBasis[v][y]) * rows[y*8+u]
		}
		// s is the coefficient times 2^(2*dctBits); divide by the quantiser, rounding half away from 0.
		d := int64(q[n]) << (2 * dctBits)
		if s >= 0 {
			out[k] = int32((s + d/2) / d)
		} else {
			out[k] = -int32((-s + d/2) / d)
		}
	}
}

// bitSize is the JPEG magnitude category of v: the number of bits of |v|.
func bitSize(v int32) int {
	if v < 0 {
		v = -v
	}
	n := 0
	for v != 0 {
		n++
		v >>= 1
	}
	return n
}

// huffTable is one optimised Huffman table: the BITS and HUFFVAL lists of a DHT segment, and the
// code and length of each symbol.
type huffTable struct {
	bits   [17]int // bits[l]: number of codes of length l
	values []byte
	code   [256]uint16
	size   [256]uint8
}

// newHuffTable builds a length-limited (16-bit) Huffman table for the symbol frequencies freq, as
// the JPEG standard's Annex K.2 describes, with one code point reserved so that no code is all
// ones.
func newHuffTable(freq [256]int) *huffTable {
	const reserved = 256
	var f [257]int
	copy(f[:], freq[:])
	f[reserved] = 1
	var codeSize [257]int
	var next [257]int // next symbol in the same merged tree
	for i := range next {
		next[i] = -1
	}
	for {
		// The two least frequent live symbols; on ties the higher symbol value, as in Annex K.
		v1, v2 := -1, -1
		for i := range f {
			if f[i] == 0 {
				continue
			}
			switch {
			case v1 < 0 || f[i] <= f[v1]:
				v1, v2 = i, v1
			case v2 < 0 || f[i] <= f[v2]:
				v2 = i
			}
		}
		if v2 < 0 {
			break
		}
		f[v1] += f[v2]
		f[v2] = 0
		i := v1
		for codeSize[i]++; next[i] >= 0; codeSize[i]++ {
			i = next[i]
		}
		next[i] = v2
		for i = v2; ; i = next[i] {
			codeSize[i]++
			if next[i] < 0 {
				break
			}
		}
	}
	var count [258]int
	for _, s := range codeSize {
		if s > 0 {
			count[s]++
		}
	}
	// Annex K.3: move codes longer than 16 bits up the tree.
	for l := len(count) - 1; l > 16; l-- {
		for count[l] > 0 {
			j := l - 2
			for count[j] == 0 {
				j--
			}
			count[l] -= 2
			count[l-1]++
			count[j+1] += 2
			count[j]--
		}
	}
	l := 16
	for count[l] == 0 {
		l--
	}
	count[l]-- // the reserved code point
	t := &huffTable{}
	copy(t.bits[:], count[:17])
	// Symbols by code length, then value; lengths past 16 were moved up, so assign by rank.
	syms := make([]int, 0, 256)
	for s := range 256 {
		if codeSize[s] > 0 {
			syms = append(syms, s)
		}
	}
	sort.SliceStable(syms, func(a, b int) bool { return codeSize[syms[a]] < codeSize[syms[b]] })
	code, k := uint16(0), 0
	for length := 1; length <= 16; length++ {
		for range t.bits[length] {
			s := syms[k]
			t.values = append(t.values, byte(s))
			t.code[s], t.size[s] = code, uint8(length)
			code++
			k++
		}
		code <<= 1
	}
	return t
}

// bitWriter writes entropy-coded data with JPEG byte stuffing.
type bitWriter struct {
	w     *bufio.Writer
	acc   uint32
	nbits uint
}

func (b *bitWriter) put(code uint32, n uint) {
	b.acc = b.acc<<n | code&(1<<n-1)
	b.nbits += n
	for b.nbits >= 8 {
		c := byte(b.acc >> (b.nbits - 8))
		b.w.WriteByte(c)
		if c == 0xFF {
			b.w.WriteByte(0)
		}
		b.nbits -= 8
	}
}

// flush pads the last byte with 1 bits.
func (b *bitWriter) flush() {
	if b.nbits > 0 {
		b.put(0x7F, 8-b.nbits)
	}
}

func segment(w *bufio.Writer, marker byte, body []byte) {
	w.Write([]byte{0xFF, marker, byte((len(body) + 2) >> 8), byte(len(body) + 2)})
	w.Write(body)
}

// EncodePlanetJPEG writes img (opaque RGBA) in the Planet chips' layout (PlanetLayout) at quality
// 1..100; benchmarks use it to re-encode transformed real chips.
func EncodePlanetJPEG(out io.Writer, img *image.RGBA, quality int) error {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	bw, bh := (w+7)/8, (h+7)/8
	q := quantTable(quality)
	// Transform every block first: the Huffman tables depend on all the symbols.
	coefs := make([][64]int32, bw*bh*4)
	var block [64]int32
	for by := range bh {
		for bx := range bw {
			for c := range 4 {
				for y := range 8 {
					sy := min(by*8+y, h-1) // edge blocks repeat the last row and column
					row := img.Pix[(b.Min.Y+sy)*img.Stride+b.Min.X*4:]
					for x := range 8 {
						sx := min(bx*8+x, w-1)
						v := int32(255)
						if c < 3 {
							v = int32(row[sx*4+c])
						}
						block[y*8+x] = v - 128
					}
				}
				fdctQuantize(&block, &q, &coefs[(by*bw+bx)*4+c])
			}
		}
	}
	var dcFreq, acFreq [256]int
	symbols(coefs, func(dc bool, sym byte, _ int32, _ int) {
		if dc {
			dcFreq[sym]++
		} else {
			acFreq[sym]++
		}
	})
	dcTable, acTable := newHuffTable(dcFreq), newHuffTable(acFreq)

	wr := bufio.NewWriterSize(out, 32<<10)
	wr.Write([]byte{0xFF, 0xD8})
	dqt := []byte{0}
	for _, n := range zigzag {
		dqt = append(dqt, byte(q[n]))
	}
	segment(wr, 0xDB, dqt)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 4}
	for c := range 4 {
		sof = append(sof, byte(c), 0x11, 0)
	}
	segment(wr, 0xC0, sof)
	for class, t := range []*huffTable{dcTable, acTable} {
		dht := []byte{byte(class << 4)}
		for l := 1; l <= 16; l++ {
			dht = append(dht, byte(t.bits[l]))
		}
		segment(wr, 0xC4, append(dht, t.values...))
	}
	segment(wr, 0xDA, []byte{4, 0, 0, 1, 0, 2, 0, 3, 0, 0, 63, 0})
	bits := bitWriter{w: wr}
	symbols(coefs, func(dc bool, sym byte, v int32, n int) {
		t := acTable
		if dc {
			t = dcTable
		}
		bits.put(uint32(t.code[sym]), uint(t.size[sym]))
		if n > 0 {
			if v < 0 {
				v-- // negative values are sent as v-1 in n bits (ones' complement)
			}
			bits.put(uint32(v), uint(n))
		}
	})
	bits.flush()
	wr.Write([]byte{0xFF, 0xD9})
	return wr.Flush()
}

// symbols walks the interleaved scan (block by block, the four components of each block in turn)
// and calls emit for each Huffman symbol with the extra bits that follow it: the value v in n bits.
func symbols(coefs [][64]int32, emit func(dc bool, sym byte, v int32, n int)) {
	var pred [4]int32
	for i := range coefs {
		c := i % 4
		blk := &coefs[i]
		diff := blk[0] - pred[c]
		pred[c] = blk[0]
		n := bitSize(diff)
		emit(true, byte(n), diff, n)
		run := 0
		for k := 1; k < 64; k++ {
			v := blk[k]
			if v == 0 {
				run++
				continue
			}
			for run > 15 {
				emit(false, 0xF0, 0, 0) // ZRL: sixteen zeros
				run -= 16
			}
			n := bitSize(v)
			emit(false, byte(run<<4|n), v, n)
			run = 0
		}
		if run > 0 {
			emit(false, 0x00, 0, 0) // EOB
		}
	}
}

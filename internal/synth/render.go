package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// rgb is a colour with 0..255 channels.
type rgb [3]float32

var (
	forestDark   = rgb{28, 62, 34}
	forestLight  = rgb{58, 98, 50}
	soil         = rgb{128, 112, 84}
	fieldGreen   = rgb{150, 182, 86}
	fieldBrown   = rgb{172, 132, 92}
	plotColours  = []rgb{{206, 184, 120}, {184, 170, 98}, {214, 164, 128}}
	tan          = rgb{214, 184, 140}
	waterBlue    = rgb{30, 66, 138}
	roadGrey     = rgb{168, 168, 162}
	roofColours  = []rgb{{240, 240, 232}, {214, 96, 72}, {226, 226, 250}}
	bloomColours = []rgb{{240, 226, 70}, {236, 150, 206}}
	blowDown     = rgb{164, 214, 112}
	mineGrey     = rgb{190, 176, 160}
	mineOrange   = rgb{212, 124, 58}
	pitOrange    = rgb{222, 126, 36}
	pitPool      = rgb{86, 176, 164}
	trailBrown   = rgb{122, 80, 48}
	burnt        = rgb{36, 28, 24}
	burntRim     = rgb{160, 60, 38}
	hazeVeil     = rgb{188, 188, 194}
	cloudWhite   = rgb{246, 246, 248}
	cloudShadow  = rgb{200, 202, 210}
)

// canvas is an RGB float image being painted.
type canvas struct {
	size int
	pix  []float32 // 3 per pixel, row-major
	rng  *rand.Rand
}

// Render draws the chip of row at size x size pixels. The same row, size and
// seed always give the same pixels. What each label looks like:
//
//   - primary: dark green forest with a mottled texture; otherwise bare soil
//   - agriculture: a rectangle of alternating green/brown field stripes
//   - cultivation: small pale yellow/pink plots
//   - bare_ground: tan patches
//   - water: a blue river or lake
//   - road: straight grey lines across the chip
//   - habitation: a cluster of small bright squares (roofs)
//   - blooming: yellow and pink dots
//   - blow_down: parallel light-green streaks
//   - conventional_mine: a large crater of grey/orange rings
//   - artisinal_mine: a line of small orange pits and turquoise pools
//   - selective_logging: thin brown zigzag trails
//   - slash_burn: black burnt patches with red rims
//
// Weather is painted last: clear boosts saturation, haze veils the chip in
// low-contrast grey, partly_cloudy adds some white cloud patches and cloudy
// covers most of it in white.
func Render(row Row, size int, seed uint64) *image.RGBA {
	c := &canvas{size: size, pix: make([]float32, 3*size*size), rng: rowRand(seed, row.Name)}
	s := float64(size)
	g := row.Ground

	if g[Primary] == 1 {
		c.texture(forestDark, forestLight, s/10)
	} else {
		c.texture(soil, soil.scale(1.12), s/6)
	}
	if g[BareGround] == 1 {
		for range 2 + c.rng.IntN(3) {
			c.disc(c.pos(), c.pos(), s*c.between(0.1, 0.2), tan, 1, s/40)
		}
	}
	if g[Agriculture] == 1 {
		w, h := s*c.between(0.35, 0.6), s*c.between(0.35, 0.6)
		x0, y0 := c.rng.Float64()*(s-w), c.rng.Float64()*(s-h)
		angle := float64(c.rng.IntN(4)) * math.Pi / 4
		stripe := s / 28
		c.each(x0, y0, x0+w, y0+h, func(x, y float64) (rgb, float32) {
			u := x*math.Cos(angle) + y*math.Sin(angle)
			if int(math.Floor(u/stripe))%2 == 0 {
				return fieldGreen, 1
			}
			return fieldBrown, 1
		})
	}
	if g[Cultivation] == 1 {
		cx, cy := c.pos(), c.pos()
		for range 6 + c.rng.IntN(5) {
			w, h := s*c.between(0.05, 0.11), s*c.between(0.05, 0.11)
			x0, y0 := cx+s*c.between(-0.2, 0.2), cy+s*c.between(-0.2, 0.2)
			c.rect(x0, y0, x0+w, y0+h, plotColours[c.rng.IntN(len(plotColours))], 1)
		}
	}
	if g[Water] == 1 {
		if c.rng.IntN(2) == 0 {
			c.river(s*c.between(0.05, 0.1), waterBlue)
		} else {
			c.disc(c.pos(), c.pos(), s*c.between(0.12, 0.25), waterBlue, 1, s/60)
		}
	}
	if g[SlashBurn] == 1 {
		for range 2 + c.rng.IntN(3) {
			x, y, r := c.pos(), c.pos(), s*c.between(0.05, 0.1)
			c.disc(x, y, r*1.3, burntRim, 1, 1)
			c.disc(x, y, r, burnt, 1, 1)
		}
	}
	if g[ConventionalMine] == 1 {
		x, y, r := c.pos(), c.pos(), s*c.between(0.18, 0.26)
		for i := 0; i < 5; i++ {
			col := mineGrey
			if i%2 == 1 {
				col = mineOrange
			}
			c.disc(x, y, r*(1-float64(i)/5), col, 1, 1)
		}
	}
	if g[ArtisinalMine] == 1 {
		x0, y0, x1, y1 := c.pos(), c.pos(), c.pos(), c.pos()
		for i := range 8 + c.rng.IntN(5) {
			t := c.rng.Float64()
			col := pitOrange
			if i%3 == 2 {
				col = pitPool
			}
			c.disc(x0+t*(x1-x0), y0+t*(y1-y0), s*c.between(0.02, 0.04), col, 1, 1)
		}
	}
	if g[SelectiveLogging] == 1 {
		for range 3 + c.rng.IntN(3) {
			x, y := c.pos(), c.pos()
			for range 4 {
				nx, ny := x+s*c.between(-0.2, 0.2), y+s*c.between(-0.2, 0.2)
				c.line(x, y, nx, ny, math.Max(2, s/56), trailBrown)
				x, y = nx, ny
			}
		}
	}
	if g[BlowDown] == 1 {
		angle := c.rng.Float64() * math.Pi
		dx, dy := math.Cos(angle)*s/6, math.Sin(angle)*s/6
		x, y := c.pos(), c.pos()
		for i := range 3 + c.rng.IntN(4) {
			ox, oy := -dy/3*float64(i), dx/3*float64(i)
			c.line(x+ox-dx, y+oy-dy, x+ox+dx, y+oy+dy, s/40, blowDown)
		}
	}
	if g[Road] == 1 {
		for range 1 + c.rng.IntN(3) {
			if c.rng.IntN(2) == 0 {
				c.line(0, c.pos(), s, c.pos(), math.Max(2, s/64), roadGrey)
			} else {
				c.line(c.pos(), 0, c.pos(), s, math.Max(2, s/64), roadGrey)
			}
		}
	}
	if g[Habitation] == 1 {
		cx, cy := c.pos(), c.pos()
		for range 10 + c.rng.IntN(16) {
			side := s * c.between(0.025, 0.05)
			x0, y0 := cx+s*c.between(-0.15, 0.15), cy+s*c.between(-0.15, 0.15)
			c.rect(x0, y0, x0+side, y0+side, roofColours[c.rng.IntN(len(roofColours))], 1)
		}
	}
	if g[Blooming] == 1 {
		for range 30 + c.rng.IntN(30) {
			c.disc(c.pos(), c.pos(), s*c.between(0.012, 0.025), bloomColours[c.rng.IntN(len(bloomColours))], 1, 1)
		}
	}

	w := row.Weather
	switch {
	case w[Cloudy] == 1:
		c.clouds(0.2, s/4)
		c.veil(cloudShadow, 0.35)
	case w[PartlyCloudy] == 1:
		c.clouds(0.68, s/5)
	case w[Haze] == 1:
		c.veil(hazeVeil, 0.55)
	case w[Clear] == 1:
		c.saturate(1.35)
	}
	return c.image()
}

func (col rgb) scale(f float32) rgb { return rgb{col[0] * f, col[1] * f, col[2] * f} }

// pos is a random coordinate on the chip.
func (c *canvas) pos() float64 { return c.rng.Float64() * float64(c.size) }

func (c *canvas) between(lo, hi float64) float64 { return lo + c.rng.Float64()*(hi-lo) }

func (c *canvas) blend(i int, col rgb, alpha float32) {
	p := c.pix[3*i : 3*i+3 : 3*i+3]
	for k := range 3 {
		p[k] += (col[k] - p[k]) * alpha
	}
}

// each paints the pixels whose centres lie in [x0,x1)x[y0,y1) with the
// colour and opacity paint returns for them.
func (c *canvas) each(x0, y0, x1, y1 float64, paint func(x, y float64) (rgb, float32)) {
	xa, xb := max(0, int(math.Floor(x0))), min(c.size, int(math.Ceil(x1)))
	ya, yb := max(0, int(math.Floor(y0))), min(c.size, int(math.Ceil(y1)))
	for y := ya; y < yb; y++ {
		for x := xa; x < xb; x++ {
			if col, alpha := paint(float64(x)+0.5, float64(y)+0.5); alpha > 0 {
				c.blend(y*c.size+x, col, alpha)
			}
		}
	}
}

func (c *canvas) rect(x0, y0, x1, y1 float64, col rgb, alpha float32) {
	c.each(x0, y0, x1, y1, func(float64, float64) (rgb, float32) { return col, alpha })
}

// disc paints a disc whose edge fades out over soft pixels.
func (c *canvas) disc(cx, cy, r float64, col rgb, alpha float32, soft float64) {
	c.each(cx-r, cy-r, cx+r, cy+r, func(x, y float64) (rgb, float32) {
		d := math.Hypot(x-cx, y-cy)
		return col, alpha * float32(clamp01((r-d)/soft))
	})
}

// line paints a segment of the given width.
func (c *canvas) line(x0, y0, x1, y1, width float64, col rgb) {
	half := width / 2
	dx, dy := x1-x0, y1-y0
	length2 := dx*dx + dy*dy
	c.each(min(x0, x1)-half, min(y0, y1)-half, max(x0, x1)+half, max(y0, y1)+half, func(x, y float64) (rgb, float32) {
		t := 0.0
		if length2 > 0 {
			t = clamp01(((x-x0)*dx + (y-y0)*dy) / length2)
		}
		d := math.Hypot(x-(x0+t*dx), y-(y0+t*dy))
		return col, float32(clamp01(half + 0.5 - d))
	})
}

// river paints a sinuous band across the chip, vertical or horizontal.
func (c *canvas) river(width float64, col rgb) {
	s := float64(c.size)
	base, amp := c.between(0.3, 0.7)*s, c.between(0.05, 0.15)*s
	freq, phase := c.between(1, 3)*2*math.Pi/s, c.rng.Float64()*2*math.Pi
	vertical := c.rng.IntN(2) == 0
	c.each(0, 0, s, s, func(x, y float64) (rgb, float32) {
		along, across := y, x
		if !vertical {
			along, across = x, y
		}
		d := math.Abs(across - (base + amp*math.Sin(along*freq+phase)))
		return col, float32(clamp01(width/2 + 1 - d))
	})
}

// noise returns smooth value noise in [0,1] sampled on a lattice with the
// given cell size: random values at lattice points, interpolated.
func (c *canvas) noise(cell float64) []float32 {
	n := int(float64(c.size)/cell) + 2
	lattice := make([]float32, n*n)
	for i := range lattice {
		lattice[i] = c.rng.Float32()
	}
	out := make([]float32, c.size*c.size)
	for y := range c.size {
		fy := float64(y) / cell
		iy, ty := int(fy), float32(smooth(fy-math.Floor(fy)))
		for x := range c.size {
			fx := float64(x) / cell
			ix, tx := int(fx), float32(smooth(fx-math.Floor(fx)))
			a := lattice[iy*n+ix] + (lattice[iy*n+ix+1]-lattice[iy*n+ix])*tx
			b := lattice[(iy+1)*n+ix] + (lattice[(iy+1)*n+ix+1]-lattice[(iy+1)*n+ix])*tx
			out[y*c.size+x] = a + (b-a)*ty
		}
	}
	return out
}

// texture fills the chip with a mottled mix of two colours: coarse value
// noise plus a finer octave.
func (c *canvas) texture(dark, light rgb, cell float64) {
	coarse, fine := c.noise(cell), c.noise(math.Max(2, cell/4))
	for i := range coarse {
		t := 0.7*coarse[i] + 0.3*fine[i]
		for k := range 3 {
			c.pix[3*i+k] = dark[k] + (light[k]-dark[k])*t
		}
	}
}

// clouds paints white where smooth noise exceeds threshold: a low threshold
// covers most of the chip, a high one leaves a few patches.
func (c *canvas) clouds(threshold float32, cell float64) {
	field := c.noise(cell)
	for i, v := range field {
		if alpha := (v - threshold) / 0.12; alpha > 0 {
			c.blend(i, cloudWhite, min(alpha, 1))
		}
	}
}

// veil blends the whole chip towards col, flattening its contrast.
func (c *canvas) veil(col rgb, alpha float32) {
	for i := range c.size * c.size {
		c.blend(i, col, alpha)
	}
}

// saturate pushes each pixel's channels away from its grey level.
func (c *canvas) saturate(factor float32) {
	for i := 0; i < len(c.pix); i += 3 {
		p := c.pix[i : i+3 : i+3]
		grey := 0.299*p[0] + 0.587*p[1] + 0.114*p[2]
		for k := range 3 {
			p[k] = grey + (p[k]-grey)*factor
		}
	}
}

func (c *canvas) image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, c.size, c.size))
	for i := range c.size * c.size {
		for k := range 3 {
			img.Pix[4*i+k] = uint8(math.Round(float64(min(max(c.pix[3*i+k], 0), 255))))
		}
		img.Pix[4*i+3] = 255
	}
	return img
}

func clamp01(v float64) float64 { return min(max(v, 0), 1) }

// smooth is the smoothstep easing of t in [0,1].
func smooth(t float64) float64 { return t * t * (3 - 2*t) }

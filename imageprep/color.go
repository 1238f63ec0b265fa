package imageprep

// srcMode is the PIL mode a decoded image has before Keras' convert() call.
type srcMode int

const (
	srcL    srcMode = iota // 8-bit grayscale
	srcRGB                 // 8-bit RGB
	srcCMYK                // libjpeg's raw 4-component samples, which PIL reads as inverted CMYK ("CMYK;I")
	srcRGBA                // 8-bit RGB + straight alpha
)

func (m srcMode) channels() int {
	switch m {
	case srcL:
		return 1
	case srcRGB:
		return 3
	}
	return 4
}

// raster is a decoded image in its source mode.
type raster struct {
	w, h int
	mode srcMode
	pix  []uint8
}

// l24 is Convert.c's rgb2l: ITU-R 601-2 luma in 16-bit fixed point, rounded.
func l24(r, g, b uint8) uint8 {
	return uint8((int(r)*19595 + int(g)*38470 + int(b)*7471 + 0x8000) >> 16)
}

// cmykToRGB is what PIL computes for one pixel of a JPEG whose 4 raw samples are s0..s3: unpacking
// "CMYK;I" inverts them, then Convert.c's cmyk2rgb removes black multiplicatively.
func cmykToRGB(s0, s1, s2, s3 uint8) (r, g, b uint8) {
	if s3 == 255 {
		// No black: MULDIV255(255-s, 255) is exactly 255-s, so the samples come through unchanged.
		// Every pixel of the Planet chips (R, G, B, A=255) takes this path.
		return s0, s1, s2
	}
	nk := int(s3) // 255 - K, where K = 255 - s3
	return uint8(nk - muldiv255(255-int(s0), nk)), uint8(nk - muldiv255(255-int(s1), nk)), uint8(nk - muldiv255(255-int(s2), nk))
}

// convert is PIL's Image.convert to the Keras color mode: convert("RGB"), convert("L") or
// convert("RGBA"), applied to n pixels of src in mode m. CMYK reaches L through RGB, as Image.convert
// does when Convert.c has no direct converter. dst must hold n*mode.Channels() bytes.
func convert(dst, src []uint8, n int, m srcMode, mode ColorMode) {
	switch mode {
	case RGB:
		switch m {
		case srcL:
			for i := range n {
				v := src[i]
				dst[i*3], dst[i*3+1], dst[i*3+2] = v, v, v
			}
		case srcRGB:
			copy(dst[:n*3], src)
		case srcCMYK:
			for i := range n {
				p := src[i*4 : i*4+4 : i*4+4]
				o := dst[i*3 : i*3+3 : i*3+3]
				if p[3] == 255 { // the Planet chips' case, kept inline (see cmykToRGB)
					o[0], o[1], o[2] = p[0], p[1], p[2]
					continue
				}
				o[0], o[1], o[2] = cmykToRGB(p[0], p[1], p[2], p[3])
			}
		case srcRGBA:
			for i := range n {
				p := src[i*4 : i*4+4 : i*4+4]
				o := dst[i*3 : i*3+3 : i*3+3]
				o[0], o[1], o[2] = p[0], p[1], p[2]
			}
		}
	case Grayscale:
		switch m {
		case srcL:
			copy(dst[:n], src)
		case srcRGB:
			for i := range n {
				dst[i] = l24(src[i*3], src[i*3+1], src[i*3+2])
			}
		case srcCMYK:
			for i := range n {
				p := src[i*4 : i*4+4 : i*4+4]
				dst[i] = l24(cmykToRGB(p[0], p[1], p[2], p[3]))
			}
		case srcRGBA:
			for i := range n {
				dst[i] = l24(src[i*4], src[i*4+1], src[i*4+2])
			}
		}
	case RGBA:
		switch m {
		case srcL:
			for i := range n {
				v := src[i]
				dst[i*4], dst[i*4+1], dst[i*4+2], dst[i*4+3] = v, v, v, 255
			}
		case srcRGB:
			for i := range n {
				dst[i*4], dst[i*4+1], dst[i*4+2], dst[i*4+3] = src[i*3], src[i*3+1], src[i*3+2], 255
			}
		case srcCMYK:
			for i := range n {
				p := src[i*4 : i*4+4 : i*4+4]
				r, g, b := cmykToRGB(p[0], p[1], p[2], p[3])
				dst[i*4], dst[i*4+1], dst[i*4+2], dst[i*4+3] = r, g, b, 255
			}
		case srcRGBA:
			copy(dst[:n*4], src)
		}
	}
}

package imageprep

import "encoding/binary"

// jpegMeta is what imageprep reads from JPEG marker segments itself, before any decoder runs.
type jpegMeta struct {
	orientation int  // EXIF orientation 1..8; 0 when absent or malformed
	adobe       bool // an Adobe APP14 segment precedes the frame header
	components  int  // from the first SOF segment; 0 when none was found
	sofOffset   int  // offset of the first SOF marker, -1 when none
}

// scanJPEG walks the marker segments from SOI up to the first SOS. It never fails: what it cannot
// parse it leaves at the zero value, and the decoder reports the real problem.
func scanJPEG(data []byte) jpegMeta {
	m := jpegMeta{sofOffset: -1}
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return m
	}
	i := 2
	for i+4 <= len(data) {
		if data[i] != 0xFF {
			// Junk between segments: libjpeg skips it with a warning; so do we.
			i++
			continue
		}
		marker := data[i+1]
		if marker == 0xFF {
			i++
			continue
		}
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2
			continue
		}
		if marker == 0xD9 || marker == 0xDA {
			return m
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return m
		}
		seg := data[i+4 : i+2+n]
		switch {
		case marker == 0xE1 && m.orientation == 0 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00":
			m.orientation = exifOrientation(seg[6:])
		case marker == 0xEE && len(seg) >= 5 && string(seg[:5]) == "Adobe":
			m.adobe = true
		case marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC:
			if m.sofOffset < 0 {
				m.sofOffset = i
				if len(seg) >= 6 {
					m.components = int(seg[5])
				}
			}
		}
		i += 2 + n
	}
	return m
}

// exifOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF block; 0 when absent or
// out of range.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(tiff[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(tiff[2:]) != 42 {
		return 0
	}
	ifd := int64(bo.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 0
	}
	count := int(bo.Uint16(tiff[ifd:]))
	for e := range count {
		off := ifd + 2 + int64(e)*12
		if off+12 > int64(len(tiff)) {
			return 0
		}
		entry := tiff[off : off+12]
		if bo.Uint16(entry) != 0x0112 {
			continue
		}
		// Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
		if bo.Uint16(entry[2:]) != 3 || bo.Uint32(entry[4:]) != 1 {
			return 0
		}
		v := int(bo.Uint16(entry[8:]))
		if v < 1 || v > 8 {
			return 0
		}
		return v
	}
	return 0
}

// orient applies EXIF orientation o to r as PIL's ImageOps.exif_transpose does, writing into dst
// (grown as needed). It returns the new raster; for orientation 0 or 1 it returns r unchanged.
func orient(r raster, o int, dst []uint8) raster {
	if o <= 1 || o > 8 {
		return r
	}
	c := r.mode.channels()
	w, h := r.w, r.h
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	dst = grow(dst, len(r.pix))
	for y := range oh {
		for x := range ow {
			var sx, sy int
			switch o {
			case 2: // mirror horizontally
				sx, sy = w-1-x, y
			case 3: // rotate 180
				sx, sy = w-1-x, h-1-y
			case 4: // mirror vertically
				sx, sy = x, h-1-y
			case 5: // transpose
				sx, sy = y, x
			case 6: // rotate 90 clockwise
				sx, sy = y, h-1-x
			case 7: // transverse
				sx, sy = w-1-y, h-1-x
			case 8: // rotate 90 counter-clockwise
				sx, sy = w-1-y, x
			}
			copy(dst[(y*ow+x)*c:(y*ow+x+1)*c], r.pix[(sy*w+sx)*c:])
		}
	}
	return raster{w: ow, h: oh, mode: r.mode, pix: dst}
}

package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/imageprep"
)

// markers lists a JPEG's marker segments up to SOS, with SOF's component ids and sampling factors
// and DQT/DHT table ids, then EOI if the file ends with it.
func markers(t *testing.T, data []byte) string {
	t.Helper()
	var out []string
	i := 2
	for {
		if i+4 > len(data) || data[i] != 0xFF {
			t.Fatalf("no marker at offset %d", i)
		}
		m := data[i+1]
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		seg := data[i+4 : i+2+n]
		switch {
		case m == 0xDB:
			out = append(out, fmt.Sprintf("DQT(%d tables)", len(seg)/65))
		case m == 0xC4:
			// One segment may hold several tables: list each table's class and id.
			var ids []string
			for j := 0; j+17 <= len(seg); {
				count := 0
				for _, c := range seg[j+1 : j+17] {
					count += int(c)
				}
				ids = append(ids, fmt.Sprintf("%02x", seg[j]))
				j += 17 + count
			}
			out = append(out, "DHT("+strings.Join(ids, ",")+")")
		case m == 0xC0:
			s := fmt.Sprintf("SOF0(%dx%d", int(seg[3])<<8|int(seg[4]), int(seg[1])<<8|int(seg[2]))
			for c := range int(seg[5]) {
				s += fmt.Sprintf(" %d:%#x:q%d", seg[6+3*c], seg[7+3*c], seg[8+3*c])
			}
			out = append(out, s+")")
		case m == 0xDA:
			out = append(out, "SOS")
			if bytes.HasSuffix(data, []byte{0xFF, 0xD9}) {
				out = append(out, "EOI")
			}
			return strings.Join(out, " ")
		default:
			out = append(out, fmt.Sprintf("%#x", m))
		}
		i += 2 + n
	}
}

func TestPlanetLayout(t *testing.T) {
	row := SampleRows(3, 8)[2]
	for _, size := range []int{256, 61, 8} {
		var buf bytes.Buffer
		if err := EncodeJPEG(&buf, row, Options{Size: size, Seed: 8}); err != nil {
			t.Fatal(err)
		}
		// The real chips' structure (imageprep/testdata/planet): no APPn segment, one table each.
		want := fmt.Sprintf("DQT(1 tables) SOF0(%dx%d 0:0x11:q0 1:0x11:q0 2:0x11:q0 3:0x11:q0) DHT(00) DHT(10) SOS EOI", size, size)
		if got := markers(t, buf.Bytes()); got != want {
			t.Errorf("size %d: got markers %s, want %s", size, got, want)
		}
		if size == 256 && !bytes.Contains(buf.Bytes(), []byte{0xFF, 0xDB, 0, 67, 0, 8, 6, 6, 7, 6, 5, 8, 7}) {
			t.Errorf("quality 75 table differs from the real chips' (8 6 6 7 6 5 8 7 ...)")
		}
		decoded, err := imageprep.Decode(buf.Bytes(), imageprep.RGB, imageprep.Options{})
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		// Lossy, but close to the drawing: the decoder must read the samples as RGB.
		want8 := Render(row, size, 8)
		var sum, worst int
		for i := range size * size {
			for c := range 3 {
				d := int(decoded.Pix[i*3+c]) - int(want8.Pix[i*4+c])
				sum += max(d, -d)
				worst = max(worst, d, -d)
			}
		}
		if mean := float64(sum) / float64(size*size*3); mean > 3 || worst > 64 {
			t.Errorf("size %d: decoded differs from the drawing by %.2f on average, %d at worst; want ≤ 3 and ≤ 64", size, mean, worst)
		}
	}
}

func TestYCbCr420Layout(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeJPEG(&buf, SampleRows(1, 8)[0], Options{Size: 32, Seed: 8, Layout: YCbCr420}); err != nil {
		t.Fatal(err)
	}
	want := "DQT(2 tables) SOF0(32x32 1:0x22:q0 2:0x11:q1 3:0x11:q1) DHT(00,10,01,11) SOS EOI"
	if got := markers(t, buf.Bytes()); got != want {
		t.Errorf("got markers %s, want %s", got, want)
	}
	if _, err := ParseLayout("cmyk"); err == nil {
		t.Errorf("ParseLayout(cmyk): got no error")
	}
	for _, l := range []Layout{PlanetLayout, YCbCr420} {
		if got, err := ParseLayout(l.String()); err != nil || got != l {
			t.Errorf("ParseLayout(%q) = %v, %v; want %v", l.String(), got, err, l)
		}
	}
}

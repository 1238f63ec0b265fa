package imageprep

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// synthetic is a deterministic w x h image with c channels and sharp edges, so every filter's
// ringing and rounding shows up in the golden dump.
func synthetic(w, h, c int) *Image {
	img := &Image{Width: w, Height: h, Channels: c, Pix: make([]uint8, w*h*c)}
	for y := range h {
		for x := range w {
			for ch := range c {
				v := (x*37 + y*91 + ch*53) % 256
				if (x/3+y/2)%2 == 0 {
					v = 255 - v
				}
				if ch == 3 {
					v = 255 - (x*20)%200 // alpha: opaque on the left, translucent to the right
				}
				img.Pix[(y*w+x)*c+ch] = uint8(v)
			}
		}
	}
	return img
}

// TestResizeGolden pins every filter's output for shrinking, enlarging and one-axis resizes, for L,
// RGB and RGBA (premultiplied alpha), against testdata/resize.golden. The corpus test proves the
// arithmetic against PIL; this test guards the edge cases the corpus sizes do not reach.
func TestResizeGolden(t *testing.T) {
	var out bytes.Buffer
	sizes := [][2]int{{5, 3}, {20, 11}, {13, 4}, {6, 7}, {1, 1}}
	for _, c := range []int{1, 3, 4} {
		src := synthetic(13, 7, c)
		for f := Nearest; f <= Lanczos; f++ {
			for _, s := range sizes {
				got := Resize(src, s[0], s[1], f)
				fmt.Fprintf(&out, "%d channels 13x7 -> %dx%d %s:\n", c, s[0], s[1], f)
				for y := range got.Height {
					fmt.Fprintf(&out, "  %v\n", got.Pix[y*got.Width*c:(y+1)*got.Width*c])
				}
			}
		}
	}
	// A Keras keep_aspect_ratio box with a fractional scale.
	var r resizer
	src := synthetic(13, 7, 3)
	b := cropBox(13, 7, 4, 3)
	for f := Nearest; f <= Lanczos; f++ {
		pix := r.resize(src.Pix, 13, 7, 3, b, 4, 3, f, nil)
		fmt.Fprintf(&out, "3 channels 13x7 box %v -> 4x3 %s: %v\n", b, f, pix)
	}
	golden := filepath.Join("testdata", "resize.golden")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("resize output differs from %s (-want +got):\n%s", golden, diff)
	}
}

// TestResizeSameSize: PIL returns a copy when the size does not change.
func TestResizeSameSize(t *testing.T) {
	src := synthetic(5, 4, 3)
	for f := Nearest; f <= Lanczos; f++ {
		got := Resize(src, 5, 4, f)
		if !bytes.Equal(got.Pix, src.Pix) || &got.Pix[0] == &src.Pix[0] {
			t.Errorf("%s: same-size resize is not an equal copy", f)
		}
	}
}

// TestResizeConstant: every filter keeps a flat image flat (coefficients sum to one in fixed point
// closely enough), at any scale.
func TestResizeConstant(t *testing.T) {
	src := &Image{Width: 17, Height: 9, Channels: 3, Pix: bytes.Repeat([]byte{200}, 17*9*3)}
	for f := Nearest; f <= Lanczos; f++ {
		for _, s := range [][2]int{{3, 2}, {40, 31}, {17, 2}} {
			got := Resize(src, s[0], s[1], f)
			for i, v := range got.Pix {
				if v != 200 {
					t.Fatalf("%s to %dx%d: byte %d is %d, want 200", f, s[0], s[1], i, v)
				}
			}
		}
	}
}

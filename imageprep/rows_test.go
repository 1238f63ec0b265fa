package imageprep

import (
	"bytes"
	"fmt"
	"testing"
)

// TestNearestBandsMatchWholeImage: the band-by-band nearest path (libjpeg raw data, rows encoded as
// they are made) gives the bytes of decoding the whole image, converting it and resizing it with
// the same box, for every colour mode, encoding, size and crop, on the corpus JPEGs it applies to
// (grayscale, 4:4:4 CMYK with real black, the Planet chips) and one it does not (YCCK).
func TestNearestBandsMatchWholeImage(t *testing.T) {
	images := []string{"train_0.jpg", "train_1.jpg", "ljt_testimggray.jpg", "gen_cmyk_black_444.jpg", "pil_pil_sample_cmyk.jpg"}
	sizes := [][2]int{{128, 128}, {100, 60}, {7, 300}, {301, 257}}
	for _, image := range images {
		data := readCorpus(t, image)
		for _, mode := range []ColorMode{RGB, Grayscale, RGBA} {
			whole, err := Decode(data, mode, Options{})
			if err != nil {
				t.Fatal(err)
			}
			sizes := append(sizes, [2]int{whole.Width, whole.Height})
			for _, size := range sizes {
				for _, keep := range []bool{false, true} {
					for _, enc := range []Encoding{Float32, Uint8} {
						opts := Options{Width: size[0], Height: size[1], ColorMode: mode, KeepAspectRatio: keep, Encoding: enc}
						if enc == Float32 && keep {
							opts.Mean = make([]float32, mode.Channels())
							opts.Std = make([]float32, mode.Channels())
							for c := range opts.Std {
								opts.Mean[c], opts.Std[c] = 0.25*float32(c), 0.5+float32(c)
							}
						}
						name := fmt.Sprintf("%s/%s/%dx%d/keep=%v/%s", image, mode, size[0], size[1], keep, enc)
						t.Run(name, func(t *testing.T) {
							p, err := NewProcessor(opts)
							if err != nil {
								t.Fatal(err)
							}
							got, err := p.Process(image, data, []byte("prefix"))
							if err != nil {
								t.Fatal(err)
							}
							b := fullBox(whole.Width, whole.Height)
							if keep && (whole.Width != size[0] || whole.Height != size[1]) {
								b = cropBox(whole.Width, whole.Height, size[0], size[1])
							}
							var rs resizer
							pix := rs.resize(whole.Pix, whole.Width, whole.Height, whole.Channels, b, size[0], size[1], Nearest, nil)
							want, err := p.encode(image, Image{Width: size[0], Height: size[1], Channels: whole.Channels, Pix: pix}, []byte("prefix"))
							if err != nil {
								t.Fatal(err)
							}
							if !bytes.Equal(got, want) {
								t.Fatalf("band path differs from the whole image (%d vs %d bytes)", len(got), len(want))
							}
						})
					}
				}
			}
		}
	}
}

// TestNearestBandsUsed checks that the Planet chips take the band path in the cgo build: no
// whole-image buffer is ever grown.
func TestNearestBandsUsed(t *testing.T) {
	p, err := NewProcessor(Options{Width: 128, Height: 128})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process("train_1.jpg", readCorpus(t, "train_1.jpg"), nil); err != nil {
		t.Fatal(err)
	}
	if got, want := cap(p.decoded) > 0, !PILIdentical; got != want {
		t.Errorf("%s: whole-image buffer used = %v, want %v", DecoderName(), got, want)
	}
}

// TestCMYKBlackPIL pins the band path on a 4:4:4 CMYK JPEG with black below 255 (which the Planet
// chips never have) to Pillow 9.4's pixels: sha256 of Image.open(f).convert("RGB").resize(size,
// Image.NEAREST) as uint8 and as float32 / 255. (see testdata/PROVENANCE.md).
func TestCMYKBlackPIL(t *testing.T) {
	if !PILIdentical {
		t.Skipf("%s is not PIL-identical", DecoderName())
	}
	data := readCorpus(t, "gen_cmyk_black_444.jpg")
	tests := []struct {
		w, h           int
		uint8, float32 string
	}{
		{128, 128, "20def8f4f29e052f18572da17d81c9c0f5cbac1c4be5cc1700d8300a0c7f557d", "45ff361fe45f7bc306ffd164441d298756041e4debcc434486dbed998396d0e9"},
		{30, 20, "765d68f87b69b06b0c3cb8e6a9ed28acdee240b3fc7d859de6c98b9276671579", "ab3d828ab690311d9a1eabf405770cde6c4c4b41d176be7fc7180965558ab6a1"},
	}
	for _, tt := range tests {
		for enc, want := range map[Encoding]string{Uint8: tt.uint8, Float32: tt.float32} {
			p, err := NewProcessor(Options{Width: tt.w, Height: tt.h, Encoding: enc})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Process("gen_cmyk_black_444.jpg", data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sha(got) != want {
				t.Errorf("%dx%d %s: sha256 %s, want %s", tt.w, tt.h, enc, sha(got), want)
			}
		}
	}
}

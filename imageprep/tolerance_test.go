package imageprep

import (
	"errors"
	"testing"
)

// Documented distance of the pure-Go decoder from PIL, in 0..255 levels over all channels of the
// nearest 128x128 output. image/jpeg's IDCT differs from libjpeg's ISLOW by a few levels; chroma is
// upsampled with libjpeg's fancy filter for 4:2:0 and 4:2:2 YCbCr, so those stay close too. The one
// outlier is a subsampled RGB (not YCbCr) JPEG, which image/jpeg upsamples by repetition itself.
var pureGoBounds = map[string]struct {
	max  int
	mean float64
}{
	"go_video-001.rgb.jpeg": {96, 4.5},
}

const (
	pureGoMaxDiff  = 3
	pureGoMeanDiff = 0.05
)

// TestPureGoTolerance holds either decoder to the documented distance from PIL's pixels. For the cgo
// build the distance is 0 everywhere (TestPILReference proves more); for the pure-Go build this is
// its contract. Arithmetic-coded JPEG is the one file image/jpeg cannot read.
func TestPureGoTolerance(t *testing.T) {
	m := loadManifest(t)
	checked := 0
	for _, image := range sortedKeys(m.Images) {
		want := readReferencePixels(t, "nearest_128x128", image)
		if want == nil {
			continue
		}
		t.Run(image, func(t *testing.T) {
			p, err := NewProcessor(Options{Width: 128, Height: 128, Encoding: Uint8})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Process(image, readCorpus(t, image), nil)
			if !PILIdentical && image == "ljt_testimgari.jpg" {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("got %v, want ErrUnsupported (image/jpeg has no arithmetic decoding)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
			maxd, sum := 0, 0
			for i := range got {
				d := absDiff(got[i], want[i])
				maxd = max(maxd, d)
				sum += d
			}
			mean := float64(sum) / float64(len(got))
			bound, ok := pureGoBounds[image]
			if !ok {
				bound.max, bound.mean = pureGoMaxDiff, pureGoMeanDiff
			}
			t.Logf("%s: max %d, mean %.3f levels from PIL", DecoderName(), maxd, mean)
			if maxd > bound.max || mean > bound.mean {
				t.Errorf("got max %d, mean %.3f levels from PIL; want at most %d, %.3f", maxd, mean, bound.max, bound.mean)
			}
			checked++
		})
	}
	if checked < 15 {
		t.Errorf("checked %d images against PIL pixels, want at least 15", checked)
	}
}

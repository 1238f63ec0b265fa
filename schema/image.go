package schema

import (
	"github.com/tfprep/tfprep/imageprep"
)

// ImageOptions returns the image preparation options the converter uses.
// The spec must be valid.
func (s *Spec) ImageOptions() imageprep.Options {
	im := s.Image
	// Validate has checked the names; a zero value is the default anyway.
	filter, _ := imageprep.ParseFilter(im.Filter)
	mode, _ := imageprep.ParseColorMode(im.ColorMode)
	enc, _ := imageprep.ParseEncoding(im.Encoding)
	opts := imageprep.Options{
		Width:            im.Width,
		Height:           im.Height,
		Filter:           filter,
		ColorMode:        mode,
		KeepAspectRatio:  im.KeepAspectRatio,
		ApplyOrientation: im.ApplyOrientation,
		Encoding:         enc,
		JPEGQuality:      im.JPEGQuality,
	}
	if len(im.Mean) > 0 || len(im.Std) > 0 {
		opts.Mean, opts.Std = im.Mean, im.Std
	}
	return opts
}

func (s *Spec) validateImage(report func(string, string, ...any)) {
	im := s.Image
	problems := 0
	bad := func(field, format string, args ...any) {
		problems++
		report(field, format, args...)
	}
	defer func() {
		// imageprep has the last word on combinations schema does not know of.
		if problems == 0 {
			if err := s.ImageOptions().Validate(); err != nil {
				report("image", "%v", err)
			}
		}
	}()
	if im.Width <= 0 {
		bad("image.width", "want a positive number of pixels, got %d", im.Width)
	}
	if im.Height <= 0 {
		bad("image.height", "want a positive number of pixels, got %d", im.Height)
	}
	if _, err := imageprep.ParseFilter(im.Filter); err != nil {
		bad("image.filter", "%v", err)
	}
	mode, err := imageprep.ParseColorMode(im.ColorMode)
	if err != nil {
		bad("image.color_mode", "%v", err)
	}
	enc, err := imageprep.ParseEncoding(im.Encoding)
	if err != nil {
		bad("image.encoding", "%v", err)
	}
	if enc == imageprep.JPEG {
		if im.JPEGQuality < 1 || im.JPEGQuality > 100 {
			bad("image.jpeg_quality", "%d, want 1..100", im.JPEGQuality)
		}
		if mode == imageprep.RGBA {
			bad("image.encoding", "jpeg cannot store an alpha channel")
		}
	} else if im.JPEGQuality != 0 {
		bad("image.jpeg_quality", "only for the jpeg encoding")
	}
	if len(im.Mean) > 0 || len(im.Std) > 0 {
		channels := mode.Channels()
		if enc != imageprep.Float32 {
			bad("image.mean", "normalisation needs the float32 encoding")
		}
		if len(im.Mean) != channels || len(im.Std) != channels {
			bad("image.mean", "want one mean and one std per channel (%d), got %d and %d", channels, len(im.Mean), len(im.Std))
		}
		for c, sd := range im.Std {
			if !(sd > 0) {
				bad("image.std", "std[%d] = %v, want > 0", c, sd)
			}
		}
	}
}

// imageShape is the decoded image tensor's shape, HWC.
func (s *Spec) imageShape() []int {
	mode, _ := imageprep.ParseColorMode(s.Image.ColorMode)
	return []int{s.Image.Height, s.Image.Width, mode.Channels()}
}

// rawImageBytes is the exact byte length of a stored image for the raw
// encodings, or -1 for png and jpeg.
func (s *Spec) rawImageBytes() int {
	return s.ImageOptions().OutputBytes()
}

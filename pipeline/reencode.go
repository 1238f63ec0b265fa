package pipeline

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// Re-encoding the images of a converted dataset without its source images
// is offered where it loses nothing: float32 written from 8-bit pixels
// (every value k/255), uint8 and PNG hold the same 0..255 pixels, so each
// can become another. JPEG cannot (decoding depends on the decoder and
// encoding is lossy), nor can resizing or normalised float32: they need the
// source images, hence tfprep convert.

// ErrReencode: the images cannot be re-encoded as asked without loss.
var ErrReencode = errors.New("pipeline: cannot re-encode the images losslessly")

// reencodedSpec returns the spec of records of from whose images are
// re-encoded as encoding, or from itself when encoding is "" or from's.
func reencodedSpec(from *schema.Spec, encoding string) (*schema.Spec, error) {
	if encoding == "" {
		return from, nil
	}
	target, err := imageprep.ParseEncoding(encoding)
	if err != nil {
		return nil, fmt.Errorf("%w: --encoding: %w", ErrConfig, err)
	}
	source := from.ImageOptions()
	switch {
	case target == source.Encoding:
		return from, nil
	case source.Encoding == imageprep.JPEG:
		return nil, fmt.Errorf("%w: the images are stored as JPEG, whose pixels depend on the decoder; convert the source images again with --encoding %s", ErrReencode, target)
	case target == imageprep.JPEG:
		return nil, fmt.Errorf("%w: JPEG is lossy and would change the pixels; convert the source images again with --encoding jpeg", ErrReencode)
	case len(source.Mean) > 0 || len(source.Std) > 0:
		return nil, fmt.Errorf("%w: the float32 images are normalised (image.mean, image.std), not 8-bit pixels/255; convert the source images again with --encoding %s", ErrReencode, target)
	}
	spec := *from
	spec.Image.Encoding, spec.Image.JPEGQuality = target.String(), 0
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &spec, nil
}

// reencoder rewrites the image feature of records of one spec in the
// encoding of another (see reencodedSpec). Not safe for concurrent use.
type reencoder struct {
	feature string
	from    imageprep.Options
	proc    *imageprep.Processor
	parsed  example.Parsed
	pixels  imageprep.Image
}

func newReencoder(from, to *schema.Spec) (*reencoder, error) {
	proc, err := imageprep.NewProcessor(to.ImageOptions())
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &reencoder{feature: from.Image.Feature, from: from.ImageOptions(), proc: proc}, nil
}

// record returns the serialized Example data with its image re-encoded;
// the other features are unchanged, and features are written in name order
// as convert writes them. A float32 value that is not an 8-bit level k/255
// is an error (ErrReencode) naming the value and its index.
func (r *reencoder) record(data []byte) ([]byte, error) {
	if err := example.ParseInto(&r.parsed, data, true); err != nil {
		return nil, err
	}
	i := -1
	for j, f := range r.parsed.Features {
		if f.Name == r.feature {
			i = j
		}
	}
	if i < 0 || len(r.parsed.Features[i].Bytes) != 1 {
		return nil, fmt.Errorf("pipeline: no single image value in feature %q", r.feature)
	}
	if err := r.decode(r.parsed.Features[i].Bytes[0]); err != nil {
		return nil, err
	}
	encoded, err := r.proc.Encode(r.feature, &r.pixels, nil)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	features := append([]example.Feature(nil), r.parsed.Features...)
	features[i].Bytes = [][]byte{encoded}
	return example.AppendExample(nil, features), nil
}

// decode reads the stored image into r.pixels, exactly.
func (r *reencoder) decode(image []byte) error {
	o := r.from
	c := o.Channels()
	switch o.Encoding {
	case imageprep.PNG:
		img, err := imageprep.DecodeOutput(image, o)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		if img.Width != o.Width || img.Height != o.Height || img.Channels != c {
			return fmt.Errorf("pipeline: PNG of %dx%dx%d, the spec says %dx%dx%d", img.Width, img.Height, img.Channels, o.Width, o.Height, c)
		}
		r.pixels = *img
		return nil
	case imageprep.Uint8:
		if len(image) != o.OutputBytes() {
			return fmt.Errorf("pipeline: uint8 image of %d bytes, the spec says %dx%dx%d", len(image), o.Width, o.Height, c)
		}
		r.pixels = imageprep.Image{Width: o.Width, Height: o.Height, Channels: c, Pix: image}
		return nil
	}
	if len(image) != o.OutputBytes() {
		return fmt.Errorf("pipeline: float32 image of %d bytes, the spec says %dx%dx%d", len(image), o.Width, o.Height, c)
	}
	pix := r.pixels.Pix[:0]
	for j := 0; j < len(image); j += 4 {
		bits := binary.LittleEndian.Uint32(image[j:])
		v := math.Float32frombits(bits)
		k := math.Round(float64(v) * 255)
		if !(k >= 0 && k <= 255) || math.Float32bits(float32(k)/255) != bits {
			return fmt.Errorf("%w: float32 value %v at index %d is not an 8-bit level k/255", ErrReencode, v, j/4)
		}
		pix = append(pix, uint8(k))
	}
	r.pixels = imageprep.Image{Width: o.Width, Height: o.Height, Channels: c, Pix: pix}
	return nil
}

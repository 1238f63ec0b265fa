package trainer

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"unsafe"

	"github.com/tfprep/tfprep/imageprep"
	"github.com/tfprep/tfprep/schema"
	"github.com/tfprep/tfprep/tfrecord/example"
)

// layout is what the spec says about the tensors of one example.
type layout struct {
	spec       *schema.Spec
	imageOpts  imageprep.Options
	h, w, c    int
	pixels     int // h*w*c
	storedSize int // bytes of a raw stored image; -1 for png/jpeg
	normalized bool
	labels     []schema.LabelInfo
}

func newLayout(spec *schema.Spec) (layout, error) {
	if spec == nil {
		return layout{}, fmt.Errorf("%w: no spec", ErrDataset)
	}
	if err := spec.Validate(); err != nil {
		return layout{}, err
	}
	opts := spec.ImageOptions()
	l := layout{
		spec:       spec,
		imageOpts:  opts,
		h:          opts.Height,
		w:          opts.Width,
		c:          opts.Channels(),
		storedSize: opts.OutputBytes(),
		normalized: len(opts.Mean) > 0,
		labels:     spec.LabelFeatures(),
	}
	l.pixels = l.h * l.w * l.c
	if l.pixels <= 0 {
		return layout{}, fmt.Errorf("%w: spec %q stores images of unknown size %dx%dx%d", ErrDataset, spec.Name, l.h, l.w, l.c)
	}
	return l, nil
}

// exampleBytes estimates the memory one buffered example takes.
func (l *layout) exampleBytes() int {
	image := l.storedSize
	if image < 0 {
		image = l.pixels // png/jpeg: about the raw size at worst for photos
	}
	n := image + 96 // element header, key
	for _, lab := range l.labels {
		n += 4*lab.Size + 24
	}
	return n
}

// batchBytes is the memory of one assembled batch of n examples.
func (l *layout) batchBytes(n int, t ImageType) int {
	per := l.pixels
	if t == Float32 {
		per *= 4
	}
	per += 16 // key string header
	for _, lab := range l.labels {
		per += 4 * lab.Size
	}
	return n * per
}

// element is one decoded example travelling from a shard reader through the
// shuffle buffer to a batch. Its buffers are reused via the iterator's pool.
type element struct {
	id     recordID
	key    string
	image  []byte
	labels [][]float32
	err    error // a reading error, in place of an example
}

// recordID locates a record in the worker's shard list.
type recordID struct {
	shard  int   // index into the iterator's shards
	index  int64 // record number within the shard (counting valid records)
	offset int64 // where its frame starts in the uncompressed stream
	length int64 // frame length: data + tfrecord.FrameOverhead
}

// decoder turns serialized Examples into elements; one per goroutine.
type decoder struct {
	parsed example.Parsed
	rec    schema.Record
}

// decode parses data (which it does not retain) into e.
func (d *decoder) decode(l *layout, data []byte, e *element) error {
	if err := example.ParseInto(&d.parsed, data, true); err != nil {
		return err
	}
	if err := l.spec.ReadExample(d.parsed, &d.rec); err != nil {
		return err
	}
	e.key = d.rec.Key
	e.image = append(e.image[:0], d.rec.Image...)
	if cap(e.labels) < len(d.rec.Labels) {
		e.labels = make([][]float32, len(d.rec.Labels))
	}
	e.labels = e.labels[:len(d.rec.Labels)]
	for i, v := range d.rec.Labels {
		e.labels[i] = append(e.labels[i][:0], v...)
	}
	return nil
}

// newBatch allocates a batch of capacity n.
func (l *layout) newBatch(n int, t ImageType) *Batch {
	b := &Batch{Keys: make([]string, n)}
	b.Images.Shape = [4]int{n, l.h, l.w, l.c}
	if t == Float32 {
		b.Images.Float32 = make([]float32, n*l.pixels)
	} else {
		b.Images.Uint8 = make([]uint8, n*l.pixels)
	}
	b.Labels = make([]Labels, len(l.labels))
	for i, lab := range l.labels {
		b.Labels[i] = Labels{Feature: lab.Feature, Shape: [2]int{n, lab.Size}, Values: make([]float32, n*lab.Size)}
	}
	return b
}

// resize sets b's length to n, which must not exceed its capacity.
func (l *layout) resize(b *Batch, n int) {
	b.Keys = b.Keys[:n]
	b.Images.Shape[0] = n
	if b.Images.Float32 != nil {
		b.Images.Float32 = b.Images.Float32[:n*l.pixels]
	} else {
		b.Images.Uint8 = b.Images.Uint8[:n*l.pixels]
	}
	for i := range b.Labels {
		b.Labels[i].Shape[0] = n
		b.Labels[i].Values = b.Labels[i].Values[:n*b.Labels[i].Shape[1]]
	}
}

// scratch holds a goroutine's buffers for filling batches.
type scratch struct {
	pixels []uint8
}

// fill writes one example at position i of b, converting the stored image
// encoding to the batch's element type.
func (l *layout) fill(b *Batch, i int, key string, image []byte, labels [][]float32, s *scratch) error {
	b.Keys[i] = key
	for k, v := range labels {
		size := b.Labels[k].Shape[1]
		copy(b.Labels[k].Values[i*size:(i+1)*size], v)
	}
	switch l.imageOpts.Encoding {
	case imageprep.Float32:
		if b.Images.Float32 != nil {
			copyFloat32(b.Images.Float32[i*l.pixels:(i+1)*l.pixels], image)
			return nil
		}
		dst := b.Images.Uint8[i*l.pixels : (i+1)*l.pixels]
		for j := range dst {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(image[4*j:])))*255 + 0.5
			dst[j] = uint8(min(max(v, 0), 255)) // rounds half up, as math.Round does for v >= 0
		}
		return nil
	case imageprep.Uint8:
		return l.fillPixels(b, i, image)
	}
	img, err := imageprep.DecodeOutput(image, l.imageOpts)
	if err != nil {
		return err
	}
	if img.Width != l.w || img.Height != l.h || img.Channels != l.c {
		return fmt.Errorf("%w: feature %q: decoded %dx%dx%d, want %dx%dx%d", schema.ErrFeatureSize,
			l.spec.Image.Feature, img.Height, img.Width, img.Channels, l.h, l.w, l.c)
	}
	s.pixels = img.Pix
	return l.fillPixels(b, i, s.pixels)
}

// fillPixels writes 0..255 pixels at position i of b.
func (l *layout) fillPixels(b *Batch, i int, pix []uint8) error {
	if b.Images.Uint8 != nil {
		copy(b.Images.Uint8[i*l.pixels:(i+1)*l.pixels], pix)
		return nil
	}
	dst := b.Images.Float32[i*l.pixels : (i+1)*l.pixels]
	for j, v := range pix[:len(dst)] {
		dst[j] = float32(v) / 255 // Keras img_to_array(img) / 255
	}
	return nil
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// copyFloat32 copies little-endian float32 bytes into dst: a plain memory
// copy on little-endian machines.
func copyFloat32(dst []float32, src []byte) {
	if littleEndian && len(dst) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst)), src)
		return
	}
	for j := range dst {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*j:]))
	}
}

func defaultParallelism() int { return runtime.GOMAXPROCS(0) }

package imageprep

import (
	"fmt"
	"sync"
)

// Memory per image is bounded by design, not by the luck of small inputs: a 291 KB PNG can claim
// to be 9999x9999. Before a decoder allocates a whole-image buffer, the bytes it and the conversion
// after it will hold are reserved: refused above Options.MaxDecodeBytes (an *Error of kind
// TooLarge naming the image, its size and the bytes), and, across every Processor of the process,
// admitted only while the decode budget (SetDecodeBudget) has room, so N workers decoding large
// images wait for each other instead of adding up. Band-by-band JPEG decodes (the Planet chips
// with nearest resizing) hold no whole-image buffer and reserve nothing.

// DefaultMaxDecodeBytes is the per-image limit when Options.MaxDecodeBytes is 0: a 64-megapixel
// RGB image (a 9999x9999 RGB PNG needs ~700 MB and is refused).
const DefaultMaxDecodeBytes = 256 << 20

// DefaultDecodeBudget is the process-wide budget for whole-image decode buffers.
const DefaultDecodeBudget = 512 << 20

// retainBytes is the largest buffer a Processor keeps between images; larger ones are dropped
// after use, so one huge image does not pin its memory for the rest of a run.
const retainBytes = 16 << 20

type decodeBudget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64
	used  int64
}

var budget = func() *decodeBudget {
	b := &decodeBudget{limit: DefaultDecodeBudget}
	b.cond = newCond(b)
	return b
}()

func newCond(b *decodeBudget) *sync.Cond { return sync.NewCond(&b.mu) }

// SetDecodeBudget sets how many bytes of whole-image decode buffers all Processors of the process
// may hold at once (DefaultDecodeBudget by default); n <= 0 restores the default. A decode that
// does not fit waits until others finish; one that needs more than the whole budget runs alone.
func SetDecodeBudget(n int64) {
	if n <= 0 {
		n = DefaultDecodeBudget
	}
	budget.mu.Lock()
	budget.limit = n
	budget.mu.Unlock()
	budget.cond.Broadcast()
}

// acquire blocks until n bytes (at most the whole budget) are free and takes them; it returns what
// it took, for release.
func (b *decodeBudget) acquire(n int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = min(n, b.limit)
	for b.used > 0 && b.used+n > b.limit {
		b.cond.Wait()
	}
	b.used += n
	return n
}

func (b *decodeBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
	b.cond.Broadcast()
}

func (o Options) maxDecodeBytes() int64 {
	if o.MaxDecodeBytes > 0 {
		return o.MaxDecodeBytes
	}
	return DefaultMaxDecodeBytes
}

// reserve admits a whole-image decode of a w x h image that holds decoderBytes in the decoder's
// own image plus the conversion after it: refused above MaxDecodeBytes, else held against the
// process budget until Process ends (p.unreserve).
func (p *Processor) reserve(name string, w, h int, decoderBytes int64) error {
	need := decoderBytes
	if p.opts.Width == 0 || p.opts.Filter != Nearest {
		need += int64(w) * int64(h) * int64(p.opts.Channels()) // the converted whole image
	}
	if limit := p.opts.maxDecodeBytes(); need > limit {
		return newError(name, TooLarge, -1, "%dx%d needs %s to decode, more than the limit of %s (MaxDecodeBytes)",
			w, h, mib(need), mib(limit))
	}
	p.held += budget.acquire(need)
	return nil
}

// unreserve returns the budget taken for the last image and drops buffers too large to keep.
func (p *Processor) unreserve() {
	budget.release(p.held)
	p.held = 0
	for _, buf := range []*[]uint8{&p.decoded, &p.oriented, &p.converted, &p.resized} {
		if cap(*buf) > retainBytes {
			*buf = nil
		}
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

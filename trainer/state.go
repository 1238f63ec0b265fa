package trainer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
)

// A checkpoint is encoded as
//
//	"TFPREP-STATE" version(1)
//	fingerprint uint64 (little-endian)
//	mode byte: 0 streaming, 1 random access
//	epoch, batch                      uvarint
//	streaming mode only:
//	  rng length, rng bytes            (math/rand/v2 PCG state)
//	  nextPos, cur, len(slots)         uvarint
//	  per slot: open byte; if open: pos, shard, index, offset, taken uvarint
//	  len(buffer); per example: shard, index, offset, length uvarint
//
// The fingerprint hashes everything that decides the order of examples, so
// that a state is not applied to other options or files.
const stateMagic = "TFPREP-STATE\x01"

const (
	modeStream = 0
	modeRandom = 1
)

type checkpoint struct {
	fingerprint uint64
	mode        byte
	epoch       int
	batch       int64 // batches delivered in the epoch
	// streaming mode
	rng     []byte
	nextPos int
	cur     int
	slots   []slotPos
	buffer  []recordID
}

type slotPos struct {
	open   bool
	pos    int // position of its shard in the epoch's shard order
	shard  int
	index  int64 // next record number
	offset int64 // next record's offset
	taken  int   // records taken in the current block
}

func (c *checkpoint) marshal() []byte {
	b := make([]byte, 0, 64+len(c.rng)+8*len(c.slots)+12*len(c.buffer))
	b = append(b, stateMagic...)
	b = binary.LittleEndian.AppendUint64(b, c.fingerprint)
	b = append(b, c.mode)
	b = binary.AppendUvarint(b, uint64(c.epoch))
	b = binary.AppendUvarint(b, uint64(c.batch))
	if c.mode == modeRandom {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(c.rng)))
	b = append(b, c.rng...)
	b = binary.AppendUvarint(b, uint64(c.nextPos))
	b = binary.AppendUvarint(b, uint64(c.cur))
	b = binary.AppendUvarint(b, uint64(len(c.slots)))
	for _, s := range c.slots {
		if !s.open {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		for _, v := range []uint64{uint64(s.pos), uint64(s.shard), uint64(s.index), uint64(s.offset), uint64(s.taken)} {
			b = binary.AppendUvarint(b, v)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(c.buffer)))
	for _, id := range c.buffer {
		for _, v := range []uint64{uint64(id.shard), uint64(id.index), uint64(id.offset), uint64(id.length)} {
			b = binary.AppendUvarint(b, v)
		}
	}
	return b
}

// stateDecoder reads the fields of an encoded checkpoint, remembering the
// first problem.
type stateDecoder struct {
	data []byte
	pos  int
	err  error
}

func (d *stateDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: byte %d: "+format, append([]any{ErrState, d.pos}, args...)...)
	}
}

func (d *stateDecoder) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.data[d.pos:])
	if n <= 0 {
		d.fail("bad or truncated number")
		return 0
	}
	if v > limit {
		d.fail("value %d exceeds %d", v, limit)
		return 0
	}
	d.pos += n
	return v
}

func (d *stateDecoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.data)-d.pos < n {
		d.fail("truncated: want %d more bytes, have %d", n, len(d.data)-d.pos)
		return nil
	}
	d.pos += n
	return d.data[d.pos-n : d.pos]
}

const (
	maxCount  = 1 << 31 // slots, buffered examples, shard positions
	maxOffset = 1 << 62
)

func unmarshalCheckpoint(data []byte) (*checkpoint, error) {
	d := &stateDecoder{data: data}
	if magic := d.bytes(len(stateMagic)); d.err != nil || string(magic) != stateMagic {
		return nil, fmt.Errorf("%w: not a trainer state (bad magic or version)", ErrState)
	}
	c := &checkpoint{}
	if fp := d.bytes(8); d.err == nil {
		c.fingerprint = binary.LittleEndian.Uint64(fp)
	}
	if mode := d.bytes(1); d.err == nil {
		c.mode = mode[0]
		if c.mode != modeStream && c.mode != modeRandom {
			d.fail("unknown mode %d", c.mode)
		}
	}
	c.epoch = int(d.uvarint(maxCount))
	c.batch = int64(d.uvarint(maxOffset))
	if c.mode == modeStream && d.err == nil {
		c.rng = d.bytes(int(d.uvarint(64)))
		c.nextPos = int(d.uvarint(maxCount))
		c.cur = int(d.uvarint(maxCount))
		n := int(d.uvarint(uint64(len(data))))
		c.slots = make([]slotPos, 0, n)
		for range n {
			open := d.bytes(1)
			if d.err != nil {
				break
			}
			s := slotPos{}
			switch open[0] {
			case 0:
			case 1:
				s.open = true
				s.pos = int(d.uvarint(maxCount))
				s.shard = int(d.uvarint(maxCount))
				s.index = int64(d.uvarint(maxOffset))
				s.offset = int64(d.uvarint(maxOffset))
				s.taken = int(d.uvarint(maxCount))
			default:
				d.fail("slot flag %d", open[0])
			}
			c.slots = append(c.slots, s)
		}
		n = int(d.uvarint(uint64(len(data))))
		if d.err == nil {
			c.buffer = make([]recordID, 0, n)
		}
		for i := 0; i < n && d.err == nil; i++ {
			c.buffer = append(c.buffer, recordID{
				shard:  int(d.uvarint(maxCount)),
				index:  int64(d.uvarint(maxOffset)),
				offset: int64(d.uvarint(maxOffset)),
				length: int64(d.uvarint(maxOffset)),
			})
		}
	}
	if d.err == nil && d.pos != len(data) {
		d.fail("%d bytes after the state", len(data)-d.pos)
	}
	if d.err != nil {
		return nil, d.err
	}
	return c, nil
}

// fingerprint hashes what decides the order and content of the batches.
func (it *Iterator) fingerprint(mode byte) uint64 {
	h := fnv.New64a()
	o := it.opts
	fmt.Fprintf(h, "mode=%d seed=%d batch=%d drop=%v shuffle=%d global=%v cycle=%d block=%d workers=%d/%d skip=%v\n",
		mode, o.Seed, o.BatchSize, o.DropRemainder, o.Shuffle, o.GlobalShuffle, o.CycleLength, o.BlockLength,
		o.WorkerIndex, o.NumWorkers, o.SkipCorrupt)
	for _, p := range it.ds.parts {
		fmt.Fprintf(h, "holdout=%v seed=%d held=%v\n", p.holdout.Fraction, p.holdout.Seed, p.held)
	}
	if it.ds.csv != nil {
		fmt.Fprintf(h, "csv=%s rows=%d\n", filepath.Base(it.ds.csv.path), len(it.ds.csv.rows))
	}
	for _, sh := range it.shards {
		fmt.Fprintf(h, "%s %d %v\n", filepath.Base(sh.Path), sh.Records, sh.Compression)
	}
	return h.Sum64()
}

// checkResume validates a decoded state against the iterator.
func (it *Iterator) checkResume(c *checkpoint, mode byte) error {
	if c.mode != mode {
		return fmt.Errorf("%w: state of a %s iterator, these options give a %s one", ErrState, modeName(c.mode), modeName(mode))
	}
	if c.fingerprint != it.fingerprint(mode) {
		return fmt.Errorf("%w: it was saved with other options (seed, batch size, shuffle, cycle, block, workers) or other shard files", ErrState)
	}
	if mode == modeRandom {
		return nil
	}
	n := len(it.shards)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrState}, args...)...)
	}
	if len(c.slots) != it.opts.CycleLength || c.cur >= len(c.slots) || c.nextPos > n {
		return bad("%d slots, cursor %d, next shard %d for cycle length %d and %d shards", len(c.slots), c.cur, c.nextPos, it.opts.CycleLength, n)
	}
	if len(c.buffer) > max(it.opts.Shuffle, 0) {
		return bad("%d buffered examples for a shuffle buffer of %d", len(c.buffer), it.opts.Shuffle)
	}
	for _, s := range c.slots {
		if s.open && (s.pos >= c.nextPos || s.shard >= n || s.taken >= it.opts.BlockLength) {
			return bad("slot at shard position %d (shard %d), %d taken", s.pos, s.shard, s.taken)
		}
	}
	for _, id := range c.buffer {
		if id.shard >= n || id.length < 16 {
			return bad("buffered example of shard %d, length %d", id.shard, id.length)
		}
	}
	return nil
}

func modeName(mode byte) string {
	if mode == modeRandom {
		return "random-access"
	}
	return "streaming"
}

var errClosed = errors.New("trainer: iterator closed")

package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

// readersAhead is how many shards are opened and read ahead beyond those in
// the interleave cycle, so that a shard's successor has records ready.
const readersAhead = 2

// task is one pass over (the rest of) a shard.
type task struct {
	epoch, pos, shard int
	index, offset     int64 // first record to deliver
}

// shardStream is a shard being read by its own goroutine.
type shardStream struct {
	task task
	out  chan *element // closed after the last record or an error element
}

// slot is one place of the interleave cycle.
type slot struct {
	stream *shardStream
	pos    slotPos
}

// streamer is the streaming-mode producer: interleave, shuffle buffer,
// batching. Only its run goroutine touches it.
type streamer struct {
	it    *Iterator
	n     int // shards
	epoch int
	batch int64

	order   []int // this epoch's shard order
	slots   []slot
	cur     int
	nextPos int

	shuffle []*element
	pcg     *rand.PCG
	rng     *rand.Rand

	plan []*element

	// Shards opened ahead, in the order the interleave will take them.
	ahead             []*shardStream
	aheadEpoch, ahPos int
}

func newStreamer(it *Iterator) *streamer {
	return &streamer{it: it, n: len(it.shards)}
}

// shardOrder is the order in which epoch's shards are opened.
func (s *streamer) shardOrder(epoch int) []int {
	order := make([]int, s.n)
	for i := range order {
		order[i] = i
	}
	if s.it.opts.Shuffle > 0 {
		rand.New(epochRand(s.it.opts.Seed, epoch, purposeShardOrder)).Shuffle(len(order), func(i, j int) {
			order[i], order[j] = order[j], order[i]
		})
	}
	return order
}

func (s *streamer) beginEpoch(epoch int) {
	s.epoch, s.batch = epoch, 0
	s.order = s.shardOrder(epoch)
	s.slots = make([]slot, s.it.opts.CycleLength)
	s.cur, s.nextPos = 0, 0
	s.shuffle = s.shuffle[:0]
	s.pcg = epochRand(s.it.opts.Seed, epoch, purposeShuffle)
	s.rng = rand.New(s.pcg)
}

func (s *streamer) epochsLeft(epoch int) bool {
	return s.it.opts.Epochs < 0 || epoch < s.it.opts.Epochs
}

func (s *streamer) run(resume *checkpoint) error {
	defer s.stop()
	epoch := 0
	if resume != nil {
		epoch = resume.epoch
	}
	for ; s.epochsLeft(epoch); epoch++ {
		s.beginEpoch(epoch)
		if resume != nil {
			if err := s.restore(resume); err != nil {
				return err
			}
			resume = nil
		}
		if len(s.ahead) == 0 {
			s.aheadEpoch, s.ahPos = s.epoch, s.nextPos
		}
		s.fillAhead()
		for {
			e, err := s.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if out := s.shuffleIn(e); out != nil && !s.add(out) {
				return s.it.ctx.Err()
			}
		}
		for len(s.shuffle) > 0 {
			if !s.add(s.shuffleOut()) {
				return s.it.ctx.Err()
			}
		}
		if len(s.plan) > 0 {
			if s.it.opts.DropRemainder {
				s.it.release(s.plan)
				s.plan = nil
			} else if !s.flush() {
				return s.it.ctx.Err()
			}
		}
		if s.batch == 0 && s.it.opts.Epochs < 0 {
			return nil // repeating an epoch that yields no batch would never end
		}
	}
	return nil
}

// next returns the next record of the interleave, io.EOF at the end of the
// epoch.
func (s *streamer) next() (*element, error) {
	for {
		sl := &s.slots[s.cur]
		if sl.stream == nil {
			if s.nextPos == s.n {
				if !s.anyOpen() {
					return nil, io.EOF
				}
				s.cur = (s.cur + 1) % len(s.slots)
				continue
			}
			sl.stream = s.open()
			sl.pos = slotPos{open: true, pos: s.nextPos, shard: sl.stream.task.shard}
			s.nextPos++
		}
		var e *element
		var ok bool
		select {
		case e, ok = <-sl.stream.out:
		case <-s.it.ctx.Done():
			return nil, s.it.ctx.Err()
		}
		if !ok {
			// The shard is done; its place goes to the next shard.
			sl.stream, sl.pos = nil, slotPos{}
			continue
		}
		if e.err != nil {
			return nil, e.err
		}
		sl.pos.index = e.id.index + 1
		sl.pos.offset = e.id.offset + e.id.length
		sl.pos.taken++
		if sl.pos.taken == s.it.opts.BlockLength {
			sl.pos.taken = 0
			s.cur = (s.cur + 1) % len(s.slots)
		}
		return e, nil
	}
}

func (s *streamer) anyOpen() bool {
	for _, sl := range s.slots {
		if sl.stream != nil {
			return true
		}
	}
	return false
}

// open returns the stream of the epoch's next shard, which fillAhead started.
func (s *streamer) open() *shardStream {
	st := s.ahead[0]
	s.ahead = s.ahead[1:]
	if st.task.epoch != s.epoch || st.task.pos != s.nextPos {
		panic(fmt.Sprintf("trainer: read-ahead out of step: have epoch %d shard %d, want epoch %d shard %d",
			st.task.epoch, st.task.pos, s.epoch, s.nextPos))
	}
	s.fillAhead()
	return st
}

// fillAhead starts readers for the next shards, crossing into the next
// epoch, until readersAhead are waiting.
func (s *streamer) fillAhead() {
	for len(s.ahead) < readersAhead {
		if s.ahPos == s.n {
			if !s.epochsLeft(s.aheadEpoch + 1) {
				return
			}
			s.aheadEpoch, s.ahPos = s.aheadEpoch+1, 0
		}
		order := s.order
		if s.aheadEpoch != s.epoch {
			order = s.shardOrder(s.aheadEpoch)
		}
		s.ahead = append(s.ahead, s.start(task{epoch: s.aheadEpoch, pos: s.ahPos, shard: order[s.ahPos]}))
		s.ahPos++
	}
}

func (s *streamer) start(t task) *shardStream {
	st := &shardStream{task: t, out: make(chan *element, s.it.opts.ReadAhead)}
	s.it.wg.Add(1)
	go func() {
		defer s.it.wg.Done()
		defer close(st.out)
		s.it.readShard(st)
	}()
	return st
}

func (s *streamer) close() {}

// stop abandons the streams still open (their goroutines see the context)
// and returns buffered elements to the pool.
func (s *streamer) stop() {
	s.it.release(s.shuffle)
	s.it.release(s.plan)
	s.shuffle, s.plan = nil, nil
}

// shuffleIn adds e to the shuffle buffer and returns the example to emit, if
// any: tf.data's algorithm, where e takes the place of a uniformly chosen
// buffered example.
func (s *streamer) shuffleIn(e *element) *element {
	size := s.it.opts.Shuffle
	if size <= 1 {
		return e
	}
	if len(s.shuffle) < size {
		s.shuffle = append(s.shuffle, e)
		return nil
	}
	j := s.rng.IntN(len(s.shuffle))
	out := s.shuffle[j]
	s.shuffle[j] = e
	return out
}

// shuffleOut removes a uniformly chosen example at the end of the epoch.
func (s *streamer) shuffleOut() *element {
	j := s.rng.IntN(len(s.shuffle))
	out := s.shuffle[j]
	last := len(s.shuffle) - 1
	s.shuffle[j] = s.shuffle[last]
	s.shuffle[last] = nil
	s.shuffle = s.shuffle[:last]
	return out
}

func (s *streamer) add(e *element) bool {
	s.plan = append(s.plan, e)
	if len(s.plan) < s.it.opts.BatchSize {
		return true
	}
	return s.flush()
}

func (s *streamer) flush() bool {
	s.batch++
	j := job{epoch: s.epoch, elements: s.plan, state: s.checkpoint().marshal()}
	s.plan = make([]*element, 0, s.it.opts.BatchSize)
	return s.it.emit(j)
}

func (s *streamer) checkpoint() *checkpoint {
	rng, _ := s.pcg.MarshalBinary()
	c := &checkpoint{
		fingerprint: s.it.fingerprint(modeStream),
		mode:        modeStream,
		epoch:       s.epoch,
		batch:       s.batch,
		rng:         rng,
		nextPos:     s.nextPos,
		cur:         s.cur,
		slots:       make([]slotPos, len(s.slots)),
		buffer:      make([]recordID, len(s.shuffle)),
	}
	for i, sl := range s.slots {
		c.slots[i] = sl.pos
	}
	for i, e := range s.shuffle {
		c.buffer[i] = e.id
	}
	return c
}

// restore puts the streamer where checkpoint c was taken, at the start of
// c's epoch having been set up by beginEpoch.
func (s *streamer) restore(c *checkpoint) error {
	if err := s.pcg.UnmarshalBinary(c.rng); err != nil {
		return fmt.Errorf("%w: random state: %v", ErrState, err)
	}
	s.batch, s.cur, s.nextPos = c.batch, c.cur, c.nextPos
	for i, p := range c.slots {
		if !p.open {
			continue
		}
		if s.order[p.pos] != p.shard {
			return fmt.Errorf("%w: slot %d holds shard %d at position %d, the epoch's order has shard %d", ErrState, i, p.shard, p.pos, s.order[p.pos])
		}
		s.slots[i] = slot{pos: p, stream: s.start(task{epoch: s.epoch, pos: p.pos, shard: p.shard, index: p.index, offset: p.offset})}
	}
	buffered, err := s.it.fetch(c.buffer)
	if err != nil {
		return err
	}
	s.shuffle = buffered
	return nil
}

// readShard reads st's shard from its task's starting record and sends the
// elements, or one error element, to st.out.
func (it *Iterator) readShard(st *shardStream) {
	t := st.task
	sh := it.shards[t.shard]
	send := func(e *element) bool {
		select {
		case st.out <- e:
			return true
		case <-it.ctx.Done():
			it.release([]*element{e})
			return false
		}
	}
	fail := func(err error) {
		if it.opts.SkipCorrupt {
			it.skip(err)
			return
		}
		e := it.element()
		e.err = err
		send(e)
	}
	f, err := dataset.OpenFile(context.Background(), sh.Path)
	if err != nil {
		fail(fmt.Errorf("trainer: %w", err))
		return
	}
	defer f.Close()
	// An uncompressed shard is resumed by seeking; a compressed one is
	// decompressed from the start and the first records are dropped.
	var baseOffset, baseIndex, skipBelow int64
	if t.offset > 0 {
		if sh.Compression == tfrecord.None {
			if _, err := f.Seek(t.offset, io.SeekStart); err != nil {
				fail(fmt.Errorf("trainer: %s: %w", sh.Path, err))
				return
			}
			baseOffset, baseIndex = t.offset, t.index
		} else {
			skipBelow = t.index
		}
	}
	rd, err := tfrecord.NewReader(f, &tfrecord.ReaderOptions{
		Compression:   sh.Compression,
		ReuseBuffer:   true,
		SkipChecksums: it.opts.SkipChecksums,
		Recover:       it.opts.SkipCorrupt,
	})
	if err != nil {
		fail(fmt.Errorf("trainer: %s: %w", sh.Path, err))
		return
	}
	defer func() {
		for _, d := range rd.Skipped() {
			it.skip(fmt.Errorf("trainer: %s: skipped %d damaged bytes at offset %d: %w", sh.Path, d.Length, baseOffset+d.Offset, d.Err))
		}
	}()
	var dec decoder
	for {
		data, err := rd.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			var re *tfrecord.RecordError
			if errors.As(err, &re) {
				re.Path, re.Offset, re.Record = sh.Path, baseOffset+re.Offset, baseIndex+re.Record
			}
			fail(err)
			return
		}
		index := baseIndex + rd.Index() - 1
		if index < skipBelow {
			continue
		}
		length := int64(len(data) + tfrecord.FrameOverhead)
		e := it.element()
		e.id = recordID{shard: t.shard, index: index, offset: baseOffset + rd.Offset() - length, length: length}
		if err := dec.decode(it.layout, data, e); err != nil {
			it.release([]*element{e})
			rerr := &tfrecord.RecordError{Path: sh.Path, Offset: e.id.offset, Record: index, Err: err}
			if it.opts.SkipCorrupt {
				it.skip(rerr)
				continue
			}
			fail(rerr)
			return
		}
		it.bytes.Add(length)
		if !it.ds.keeps(e.key) {
			it.release([]*element{e})
			continue
		}
		if !send(e) {
			return
		}
	}
}

// fetch reads the examples ids name, in order: by offset from uncompressed
// shards, by rescanning compressed ones.
func (it *Iterator) fetch(ids []recordID) ([]*element, error) {
	out := make([]*element, len(ids))
	byShard := map[int][]int{}
	for i, id := range ids {
		byShard[id.shard] = append(byShard[id.shard], i)
	}
	shards := make([]int, 0, len(byShard))
	for sh := range byShard {
		shards = append(shards, sh)
	}
	slices.Sort(shards)
	var dec decoder
	for _, shard := range shards {
		sh := it.shards[shard]
		wanted := byShard[shard]
		f, err := dataset.OpenFile(context.Background(), sh.Path)
		if err != nil {
			return nil, fmt.Errorf("trainer: %w", err)
		}
		err = it.fetchShard(f, sh, ids, wanted, out, &dec)
		f.Close()
		if err != nil {
			it.release(slices.DeleteFunc(out, func(e *element) bool { return e == nil }))
			return nil, err
		}
	}
	return out, nil
}

func (it *Iterator) fetchShard(f dataset.File, sh Shard, ids []recordID, wanted []int, out []*element, dec *decoder) error {
	decode := func(i int, data []byte) error {
		e := it.element()
		e.id = ids[i]
		if err := dec.decode(it.layout, data, e); err != nil {
			it.release([]*element{e})
			return &tfrecord.RecordError{Path: sh.Path, Offset: ids[i].offset, Record: ids[i].index, Err: err}
		}
		out[i] = e
		return nil
	}
	if sh.Compression == tfrecord.None {
		entries := make([]tfrecord.IndexEntry, len(wanted))
		for k, i := range wanted {
			entries[k] = tfrecord.IndexEntry{Offset: ids[i].offset, Length: ids[i].length}
		}
		sr := tfrecord.NewSeekReader(f, entries, &tfrecord.ReaderOptions{ReuseBuffer: true, SkipChecksums: it.opts.SkipChecksums})
		for k, i := range wanted {
			data, err := sr.ReadRecord(k)
			if err != nil {
				var re *tfrecord.RecordError
				if errors.As(err, &re) {
					re.Path, re.Record = sh.Path, ids[i].index
				}
				return err
			}
			if err := decode(i, data); err != nil {
				return err
			}
		}
		return nil
	}
	byIndex := make(map[int64][]int, len(wanted))
	last := int64(0)
	for _, i := range wanted {
		byIndex[ids[i].index] = append(byIndex[ids[i].index], i)
		last = max(last, ids[i].index)
	}
	rd, err := tfrecord.NewReader(f, &tfrecord.ReaderOptions{
		Compression: sh.Compression, ReuseBuffer: true, SkipChecksums: it.opts.SkipChecksums, Recover: it.opts.SkipCorrupt,
	})
	if err != nil {
		return err
	}
	for rd.Index() <= last {
		data, err := rd.Next()
		if err == io.EOF {
			return fmt.Errorf("%w: %s has %d records, the state names record %d", ErrState, sh.Path, rd.Index(), last)
		}
		if err != nil {
			var re *tfrecord.RecordError
			if errors.As(err, &re) {
				re.Path = sh.Path
			}
			return err
		}
		for _, i := range byIndex[rd.Index()-1] {
			if err := decode(i, data); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *streamer) assembler() func(w int) func(job) result {
	it := s.it
	return func(int) func(job) result {
		var sc scratch
		return func(j job) result {
			b := it.batch(len(j.elements))
			b.Epoch = j.epoch
			for i, e := range j.elements {
				if err := it.layout.fill(b, i, e.key, e.image, e.labels, &sc); err != nil {
					err = &tfrecord.RecordError{Path: it.shards[e.id.shard].Path, Offset: e.id.offset, Record: e.id.index, Err: err}
					it.release(j.elements)
					it.recycle(b)
					return result{err: err}
				}
			}
			it.release(j.elements)
			return result{batch: b, state: j.state}
		}
	}
}

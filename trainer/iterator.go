package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// Iterator delivers batches. Next and State are not safe for concurrent use;
// the iterator runs its own goroutines and must be closed.
type Iterator struct {
	ds     *Dataset
	opts   Options
	layout *layout
	shards []Shard // this worker's shards, in file order
	mode   byte

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	ordered chan chan result // batches in delivery order, prefetched
	jobs    chan job

	batches chan *Batch // free batches
	// Free elements. A plain list, not a sync.Pool: a pool is emptied by
	// each garbage collection, and re-allocating (re-faulting) hundreds of
	// megabytes of image buffers costs more than the reading itself.
	freeMu sync.Mutex
	free   []*element

	last     *Batch
	state    []byte
	err      error
	examples atomic.Int64
	nbatches atomic.Int64
	bytes    atomic.Int64

	mu      sync.Mutex
	skipped []error
}

type result struct {
	batch *Batch
	state []byte
	err   error
}

// job is one batch to assemble: elements already read (streaming mode) or
// items to fetch (random-access mode).
type job struct {
	epoch    int
	elements []*element
	items    []int
	out      chan result
	state    []byte
}

// Iter starts iterating from the beginning of the first epoch.
func (d *Dataset) Iter(ctx context.Context, opts Options) (*Iterator, error) {
	return d.start(ctx, opts, nil)
}

// Resume starts iterating where the iterator that returned state (from
// Iterator.State) was: the first batch is the one that iterator would have
// delivered next. opts must be those of that iterator, except ReadAhead,
// Prefetch, Parallelism, Epochs, ImageType and SkipChecksums, which may
// differ.
func (d *Dataset) Resume(ctx context.Context, opts Options, state []byte) (*Iterator, error) {
	c, err := unmarshalCheckpoint(state)
	if err != nil {
		return nil, err
	}
	return d.start(ctx, opts, c)
}

func (d *Dataset) start(ctx context.Context, opts Options, resume *checkpoint) (*Iterator, error) {
	shards := len(d.shards)
	if d.csv != nil {
		shards = 1
	}
	opts = opts.withDefaults(shards)
	if err := opts.validate(); err != nil {
		return nil, err
	}
	it := &Iterator{ds: d, opts: opts, layout: &d.layout, mode: modeStream}
	if d.layout.normalized && opts.ImageType == Uint8 {
		return nil, fmt.Errorf("%w: spec %q normalises pixels with mean/std; uint8 output needs unnormalised pixels", ErrOptions, d.spec.Name)
	}
	if d.csv != nil || opts.GlobalShuffle {
		it.mode = modeRandom
	}
	if d.csv == nil && opts.GlobalShuffle && len(d.parts) > 0 {
		return nil, fmt.Errorf("%w: GlobalShuffle reads records by offset, before their keys are known, so it cannot iterate a hold-out part of shards", ErrOptions)
	}
	if d.csv == nil {
		for i, sh := range d.shards {
			if i%opts.NumWorkers == opts.WorkerIndex {
				it.shards = append(it.shards, sh)
			}
		}
		if len(it.shards) == 0 {
			return nil, fmt.Errorf("%w: worker %d of %d gets no shard: the dataset has %d (want at least one per worker)",
				ErrOptions, opts.WorkerIndex, opts.NumWorkers, len(d.shards))
		}
	}
	if resume != nil {
		if err := it.checkResume(resume, it.mode); err != nil {
			return nil, err
		}
	}
	var src producer
	if it.mode == modeRandom {
		r, err := newRandomSource(it)
		if err != nil {
			return nil, err
		}
		src = r
	} else {
		src = newStreamer(it)
	}
	it.ctx, it.cancel = context.WithCancel(ctx)
	it.ordered = make(chan chan result, opts.Prefetch)
	it.jobs = make(chan job)
	it.batches = make(chan *Batch, opts.Prefetch+opts.Parallelism+2)
	assemble := src.assembler()
	var workers sync.WaitGroup
	for w := range opts.Parallelism {
		workers.Add(1)
		go func() {
			defer workers.Done()
			work := assemble(w)
			for j := range it.jobs {
				j.out <- work(j)
			}
		}()
	}
	it.wg.Add(1)
	go func() {
		defer it.wg.Done()
		if err := src.run(resume); err != nil && !errors.Is(err, context.Canceled) {
			it.emitError(err)
		}
		close(it.jobs)
		workers.Wait()
		src.close()
		close(it.ordered)
	}()
	return it, nil
}

// producer decides the content of every batch, in order.
type producer interface {
	// run emits jobs until the last epoch ends, ctx is cancelled (it then
	// returns ctx's error) or reading fails.
	run(resume *checkpoint) error
	// assembler returns, for assembling goroutine w, the function that
	// builds a job's batch.
	assembler() func(w int) func(job) result
	// close releases what the assemblers used, once they are done.
	close()
}

// emit queues a batch to assemble; false when the iterator is closing.
func (it *Iterator) emit(j job) bool {
	j.out = make(chan result, 1)
	select {
	case it.ordered <- j.out:
	case <-it.ctx.Done():
		it.release(j.elements)
		return false
	}
	select {
	case it.jobs <- j:
		return true
	case <-it.ctx.Done():
		it.release(j.elements)
		j.out <- result{err: it.ctx.Err()}
		return false
	}
}

// emitError delivers err after the batches already queued.
func (it *Iterator) emitError(err error) {
	out := make(chan result, 1)
	out <- result{err: err}
	select {
	case it.ordered <- out:
	case <-it.ctx.Done():
	}
}

// batch returns a free batch with room for n examples.
func (it *Iterator) batch(n int) *Batch {
	var b *Batch
	select {
	case b = <-it.batches:
	default:
		b = it.layout.newBatch(it.opts.BatchSize, it.opts.ImageType)
	}
	it.layout.resize(b, n)
	return b
}

func (it *Iterator) recycle(b *Batch) {
	select {
	case it.batches <- b:
	default:
	}
}

func (it *Iterator) element() *element {
	it.freeMu.Lock()
	defer it.freeMu.Unlock()
	if n := len(it.free); n > 0 {
		e := it.free[n-1]
		it.free = it.free[:n-1]
		return e
	}
	return new(element)
}

func (it *Iterator) release(elements []*element) {
	it.freeMu.Lock()
	defer it.freeMu.Unlock()
	for _, e := range elements {
		e.err = nil
		it.free = append(it.free, e)
	}
}

func (it *Iterator) skip(err error) {
	it.mu.Lock()
	it.skipped = append(it.skipped, err)
	it.mu.Unlock()
}

// Next returns the next batch, or io.EOF after the last epoch. The batch
// is valid until the next call. Errors are sticky.
func (it *Iterator) Next() (*Batch, error) {
	if it.err != nil {
		return nil, it.err
	}
	if it.last != nil {
		it.recycle(it.last)
		it.last = nil
	}
	out, ok := <-it.ordered
	if !ok {
		it.err = io.EOF
		if it.ctx.Err() != nil {
			it.err = errClosed
		}
		return nil, it.err
	}
	r := <-out
	if r.err != nil {
		it.err = r.err
		if errors.Is(r.err, context.Canceled) && it.ctx.Err() != nil {
			it.err = errClosed
		}
		return nil, it.err
	}
	it.last, it.state = r.batch, r.state
	it.examples.Add(int64(r.batch.Len()))
	it.nbatches.Add(1)
	return r.batch, nil
}

// State returns the iterator's position after the last batch Next returned,
// for Dataset.Resume. Before the first batch it returns nil: start afresh.
func (it *Iterator) State() []byte { return append([]byte(nil), it.state...) }

// Stats returns counts of what was read so far.
func (it *Iterator) Stats() Stats {
	it.mu.Lock()
	skipped := append([]error(nil), it.skipped...)
	it.mu.Unlock()
	return Stats{
		Examples: it.examples.Load(),
		Batches:  it.nbatches.Load(),
		Bytes:    it.bytes.Load(),
		Skipped:  skipped,
	}
}

// Options returns the options in effect, defaults filled in.
func (it *Iterator) Options() Options { return it.opts }

// MemoryBound returns an upper estimate, in bytes, of the memory the
// iterator holds at any time: shuffle buffer, shard read-ahead and buffers,
// and prefetched batches. It does not depend on the dataset's size.
func (it *Iterator) MemoryBound() int64 {
	o, l := it.opts, it.layout
	example := int64(l.exampleBytes())
	batches := int64(o.Prefetch+o.Parallelism+2) * int64(l.batchBytes(o.BatchSize, o.ImageType))
	record := example + 64<<10 // a reader's record buffer and its bufio
	if it.mode == modeRandom {
		// Each assembling goroutine holds one record (or source image) at a time.
		return batches + int64(o.Parallelism)*(record+2*int64(l.pixels))
	}
	readers := int64(o.CycleLength + readersAhead)
	inFlight := int64(max(o.Shuffle, 0)) + readers*int64(o.ReadAhead+1) + int64(o.BatchSize)
	return batches + inFlight*example + readers*(record+128<<10)
}

// Close stops the iterator's goroutines and releases its buffers. It is
// safe to call more than once.
func (it *Iterator) Close() error {
	it.cancel()
	go func() {
		for out := range it.ordered {
			<-out
		}
	}()
	it.wg.Wait()
	if it.err == nil {
		it.err = errClosed
	}
	return nil
}

// epochRand returns the random stream of one purpose (shard order, shuffle,
// permutation) in one epoch.
func epochRand(seed uint64, epoch int, purpose uint64) *rand.PCG {
	return rand.NewPCG(seed, uint64(epoch)<<8|purpose)
}

const (
	purposeShardOrder = 1
	purposeShuffle    = 2
	purposePermute    = 3
)

package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/tfrecord"
)

// randomSource is the random-access producer: one permutation of all items
// per epoch, each batch's items fetched by the assembling goroutines.
type randomSource struct {
	it *Iterator
	n  int // items
	// Shard datasets: item i is record index[i] of shard shardOf[i].
	files   []dataset.File
	indexes [][]tfrecord.IndexEntry
	shardOf []int32
	record  []int32
}

func newRandomSource(it *Iterator) (*randomSource, error) {
	r := &randomSource{it: it}
	if it.ds.csv != nil {
		r.n = len(it.ds.csv.rows)
		if it.opts.NumWorkers > 1 {
			r.n = 0
			for i := range it.ds.csv.rows {
				if i%it.opts.NumWorkers == it.opts.WorkerIndex {
					r.record = append(r.record, int32(i))
				}
			}
			r.n = len(r.record)
		}
		return r, nil
	}
	for s, sh := range it.shards {
		if sh.Compression != tfrecord.None {
			return nil, fmt.Errorf("%w: GlobalShuffle reads records by offset and needs uncompressed shards; %s is %v-compressed",
				ErrOptions, sh.Path, sh.Compression)
		}
		index, err := loadIndex(sh, it.opts.SkipCorrupt)
		if err != nil {
			r.close()
			return nil, err
		}
		f, err := dataset.OpenFile(context.Background(), sh.Path)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("trainer: %w", err)
		}
		r.files = append(r.files, f)
		r.indexes = append(r.indexes, index)
		for i := range index {
			r.shardOf = append(r.shardOf, int32(s))
			r.record = append(r.record, int32(i))
		}
	}
	r.n = len(r.record)
	return r, nil
}

// loadIndex reads a shard's DALI index sidecar, or builds the index by
// reading the shard when there is none.
func loadIndex(sh Shard, skipCorrupt bool) ([]tfrecord.IndexEntry, error) {
	f, err := dataset.OpenFile(context.Background(), dataset.IndexName(sh.Path))
	if err == nil {
		defer f.Close()
		index, err := tfrecord.ReadIndex(f)
		if err != nil {
			return nil, fmt.Errorf("trainer: %s: %w", dataset.IndexName(sh.Path), err)
		}
		if sh.Records >= 0 && int64(len(index)) != sh.Records {
			return nil, fmt.Errorf("%w: %s lists %d records, the manifest %d", ErrDataset, dataset.IndexName(sh.Path), len(index), sh.Records)
		}
		return index, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	return scanIndex(sh, skipCorrupt)
}

// scanIndex reads a shard to build its index; with skipCorrupt, damaged
// ranges are left out (tfrecord.BuildIndex would fail on them).
func scanIndex(sh Shard, skipCorrupt bool) ([]tfrecord.IndexEntry, error) {
	f, err := dataset.OpenFile(context.Background(), sh.Path)
	if err != nil {
		return nil, fmt.Errorf("trainer: %w", err)
	}
	defer f.Close()
	rd, err := tfrecord.NewReader(f, &tfrecord.ReaderOptions{Compression: tfrecord.None, ReuseBuffer: true, Recover: skipCorrupt})
	if err != nil {
		return nil, fmt.Errorf("trainer: %s: %w", sh.Path, err)
	}
	var index []tfrecord.IndexEntry
	for {
		data, err := rd.Next()
		if err == io.EOF {
			return index, nil
		}
		if err != nil {
			return nil, fmt.Errorf("trainer: indexing %s: %w", sh.Path, err)
		}
		length := int64(len(data) + tfrecord.FrameOverhead)
		index = append(index, tfrecord.IndexEntry{Offset: rd.Offset() - length, Length: length})
	}
}

func (r *randomSource) close() {
	for _, f := range r.files {
		f.Close()
	}
}

// permutation is the order of items in an epoch.
func (r *randomSource) permutation(epoch int) []int {
	o := r.it.opts
	if o.GlobalShuffle || o.Shuffle > 0 {
		return rand.New(epochRand(o.Seed, epoch, purposePermute)).Perm(r.n)
	}
	order := make([]int, r.n)
	for i := range order {
		order[i] = i
	}
	return order
}

func (r *randomSource) run(resume *checkpoint) error {
	o := r.it.opts
	epoch, batch := 0, 0
	if resume != nil {
		epoch, batch = resume.epoch, int(resume.batch)
	}
	fp := r.it.fingerprint(modeRandom)
	for ; o.Epochs < 0 || epoch < o.Epochs; epoch, batch = epoch+1, 0 {
		order := r.permutation(epoch)
		batches := r.n / o.BatchSize
		if r.n%o.BatchSize != 0 && !o.DropRemainder {
			batches++
		}
		for ; batch < batches; batch++ {
			items := order[batch*o.BatchSize : min((batch+1)*o.BatchSize, r.n)]
			c := checkpoint{fingerprint: fp, mode: modeRandom, epoch: epoch, batch: int64(batch + 1)}
			if !r.it.emit(job{epoch: epoch, items: items, state: c.marshal()}) {
				return r.it.ctx.Err()
			}
		}
		if batches == 0 {
			return nil // repeating an epoch that yields no batch would never end
		}
	}
	return nil
}

func (r *randomSource) assembler() func(w int) func(job) result {
	it := r.it
	return func(int) func(job) result {
		var sc scratch
		var dec decoder
		var e element
		var csvw *csvWorker
		readers := make([]*tfrecord.SeekReader, len(r.files))
		for s, f := range r.files {
			readers[s] = tfrecord.NewSeekReader(f, r.indexes[s], &tfrecord.ReaderOptions{ReuseBuffer: true, SkipChecksums: it.opts.SkipChecksums})
		}
		return func(j job) result {
			b := it.batch(len(j.items))
			b.Epoch = j.epoch
			n := 0
			for _, item := range j.items {
				var err error
				if it.ds.csv != nil {
					if csvw == nil {
						if csvw, err = newCSVWorker(it.ds.csv); err != nil {
							it.recycle(b)
							return result{err: err}
						}
					}
					row := item
					if r.record != nil {
						row = int(r.record[item])
					}
					err = csvw.load(row, &e)
					if err == nil {
						it.bytes.Add(int64(csvw.read))
					}
				} else {
					err = r.load(readers, item, &dec, &e)
				}
				if err == nil {
					err = it.layout.fill(b, n, e.key, e.image, e.labels, &sc)
				}
				if err != nil {
					if it.opts.SkipCorrupt {
						it.skip(err)
						continue
					}
					it.recycle(b)
					return result{err: err}
				}
				n++
			}
			it.layout.resize(b, n)
			return result{batch: b, state: j.state}
		}
	}
}

// load reads and decodes item into e.
func (r *randomSource) load(readers []*tfrecord.SeekReader, item int, dec *decoder, e *element) error {
	s, i := r.shardOf[item], int(r.record[item])
	path := r.it.shards[s].Path
	data, err := readers[s].ReadRecord(i)
	if err != nil {
		var re *tfrecord.RecordError
		if errors.As(err, &re) {
			re.Path = path
		}
		return err
	}
	r.it.bytes.Add(int64(len(data) + tfrecord.FrameOverhead))
	if err := dec.decode(r.it.layout, data, e); err != nil {
		return &tfrecord.RecordError{Path: path, Offset: r.indexes[s][i].Offset, Record: int64(i), Err: err}
	}
	return nil
}

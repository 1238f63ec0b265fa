package storage

import (
	"errors"
	"sync"
	"sync/atomic"
)

// uploadBehindBlock is the size of the blocks a streamed upload collects its writes in.
const uploadBehindBlock = 1 << 20

// uploadBehindBytes bounds the bytes a streamed upload holds that its upload has not taken yet: two GCS
// chunks (the Go client sends 16 MiB at a time).
const uploadBehindBytes = 32 << 20

// uploadBehind writes a streamed upload behind its writer. A bucket upload goes in chunks (16 MiB on GCS,
// parts on S3), and while one is sent, a round trip and its transfer, the client's Write waits: the
// writer of a shard, and the decoding that feeds it, would stop for every chunk. Here Write copies p into
// a block and returns; a goroutine hands the blocks to the upload, in order. At most uploadBehindBytes
// wait (Write waits beyond). The upload's error is returned by the next Write, and by commit, which
// completes the upload only once every block is in it.
type uploadBehind struct {
	w       *blobWriter
	queue   chan []byte
	done    chan struct{} // closed when the goroutine has stopped
	err     atomic.Pointer[error]
	block   []byte // being filled
	closed  bool   // queue is closed
	discard atomic.Bool
}

var uploadBlocks = sync.Pool{New: func() any { return make([]byte, 0, uploadBehindBlock) }}

func newUploadBehind(w *blobWriter) *uploadBehind {
	u := &uploadBehind{w: w, queue: make(chan []byte, uploadBehindBytes/uploadBehindBlock-1), done: make(chan struct{})}
	go u.run()
	return u
}

func (u *uploadBehind) run() {
	defer close(u.done)
	for b := range u.queue {
		if u.err.Load() == nil && !u.discard.Load() {
			if _, err := u.w.Write(b); err != nil {
				u.err.Store(&err)
			}
		}
		uploadBlocks.Put(b[:0])
	}
}

func (u *uploadBehind) failed() error {
	if p := u.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (u *uploadBehind) Write(p []byte) (int, error) {
	if err := u.failed(); err != nil {
		return 0, err
	}
	if u.closed {
		return 0, errors.New("write after the upload was completed or discarded")
	}
	n := len(p)
	for len(p) > 0 {
		if u.block == nil {
			u.block = uploadBlocks.Get().([]byte)
		}
		k := min(len(p), cap(u.block)-len(u.block))
		u.block = append(u.block, p[:k]...)
		p = p[k:]
		if len(u.block) == cap(u.block) {
			u.queue <- u.block
			u.block = nil
		}
	}
	return n, nil
}

// stop hands the last block over (unless discarding) and waits for the goroutine.
func (u *uploadBehind) stop() {
	if !u.closed {
		u.closed = true
		if len(u.block) > 0 && !u.discard.Load() {
			u.queue <- u.block
		}
		u.block = nil
		close(u.queue)
	}
	<-u.done
}

func (u *uploadBehind) commit() error {
	u.stop()
	if err := u.failed(); err != nil {
		u.w.abort()
		return err
	}
	return u.w.commit()
}

func (u *uploadBehind) abort() {
	u.discard.Store(true)
	u.w.cancel() // a Write waiting on the network returns
	u.stop()
	u.w.abort()
}

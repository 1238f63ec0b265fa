package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	objstore "github.com/tfprep/tfprep/storage"
)

// File is an open dataset file (a shard, its index) that can be read in
// sequence, from any offset, and at random.
type File interface {
	io.ReadSeekCloser
	io.ReaderAt
}

// OpenFile opens the file at path, a ShardFile.Path or the name of its index,
// on local disk or in a bucket (gs://, s3://). A bucket object is read with
// ranged requests: one per ReadAt, one per Read stream after a Seek.
func OpenFile(ctx context.Context, path string) (File, error) {
	if !strings.Contains(path, "://") {
		return os.Open(path)
	}
	store, err := openBucket(ctx, path)
	if err != nil {
		return nil, err
	}
	b := store.(bucketStore)
	key, err := b.key(path)
	if err != nil {
		return nil, err
	}
	a, err := b.root.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	return &objectFile{ctx: ctx, dir: b.root, key: key, size: a.Size}, nil
}

// objectFile is a File over a bucket object.
type objectFile struct {
	ctx  context.Context
	dir  *objstore.Dir
	key  string
	size int64
	off  int64            // offset of the next Read
	r    *objstore.Reader // open stream at off, or nil
}

func (f *objectFile) Read(p []byte) (int, error) {
	if f.off >= f.size {
		return 0, io.EOF
	}
	if f.r == nil {
		r, err := f.dir.NewRangeReader(f.ctx, f.key, f.off, -1)
		if err != nil {
			return 0, err
		}
		f.r = r
	}
	n, err := f.r.Read(p)
	f.off += int64(n)
	return n, err
}

func (f *objectFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	}
	if offset < 0 {
		return 0, fmt.Errorf("dataset: seek %s: negative offset %d", f.dir.URLOf(f.key), offset)
	}
	if offset != f.off && f.r != nil {
		f.r.Close()
		f.r = nil
	}
	f.off = offset
	return offset, nil
}

func (f *objectFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size {
		return 0, io.EOF
	}
	r, err := f.dir.NewRangeReader(f.ctx, f.key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer r.Close()
	n, err := io.ReadFull(r, p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

func (f *objectFile) Close() error {
	if f.r != nil {
		return f.r.Close()
	}
	return nil
}

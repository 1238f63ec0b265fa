package storage

import (
	"io"
	"os"
	"path/filepath"
)

// writeBehindChunk is how many bytes a local file being written collects before they are handed to the
// disk: large enough that the device gets long sequential writes, small enough that a shard's data is mostly
// on its way to the disk, not dirty in the page cache, by the time the shard is closed.
const writeBehindChunk = 8 << 20

// writeBehind writes a local file behind: each writeBehindChunk written is handed to the disk at once,
// without waiting (sync_file_range SYNC_FILE_RANGE_WRITE on Linux; nothing elsewhere), and sync waits for
// the rest (fdatasync). Writing a 200 MB shard then costs its sync almost nothing more, the device works
// while the images of the next records are decoded, and a later rename over an existing file finds no
// delayed allocation to flush (ext4's auto_da_alloc flushes it inside rename(2), under the directory's lock,
// one file at a time: ~0.18 s per 200 MB shard on this project's disk).
type writeBehind struct {
	f       *os.File
	written int64 // bytes written
	started int64 // bytes handed to the disk
}

func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.started >= writeBehindChunk {
		// An error here (EIO, ENOSPC of a delayed allocation) is reported again by sync's fdatasync.
		startWriteback(w.f, w.started, w.written-w.started)
		w.started = w.written
	}
	return n, err
}

// sync waits until every byte written, and the size, are on the disk.
func (w *writeBehind) sync() error { return datasync(w.f) }

// syncedFile is a writeBehind whose Close syncs it first.
type syncedFile struct{ writeBehind }

// CreateFile creates or truncates the local file path, as os.Create does (mode 0666 before umask;
// the directory must exist), for a caller that renames it into place itself. What is written goes to the
// disk as it is written, and Close returns only once all of it is on the disk (fdatasync), so a rename after
// Close publishes a file whose content survives a power loss. Package dataset writes its local shards,
// errors.csv and manifests with it.
func CreateFile(path string) (io.WriteCloser, error) {
	f, err := os.Create(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	return &syncedFile{writeBehind{f: f}}, nil
}

func (s *syncedFile) Close() error {
	err := s.sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	return err
}

package dataset

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	objstore "github.com/tfprep/tfprep/storage"
)

// ErrStorage: a location names storage this package cannot reach.
var ErrStorage = errors.New("dataset: unsupported storage location")

// storage is the one way package dataset touches files: every open, read,
// stat, list, create, rename and remove of a dataset goes through it. A
// location is a string, a local directory today; an implementation for
// object stores (gs://, s3://) serves URLs through the same methods.
type storage interface {
	// Open opens a file for reading.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// Size returns a file's size in bytes; a missing file is an error
	// wrapping fs.ErrNotExist.
	Size(ctx context.Context, path string) (int64, error)
	// IsDir reports whether path is a directory (on an object store: a
	// prefix with objects under it).
	IsDir(ctx context.Context, path string) (bool, error)
	// List returns the base names of the files directly in dir, sorted; a
	// missing dir holds none.
	List(ctx context.Context, dir string) ([]string, error)
	// ListAll returns the slash-separated paths, relative to dir, of every
	// file under dir at any depth, sorted (an object store lists without a
	// delimiter); a missing dir holds none.
	ListAll(ctx context.Context, dir string) ([]string, error)
	// Create creates or truncates a file for writing, with its parents.
	Create(ctx context.Context, path string) (io.WriteCloser, error)
	// CreateNew writes a whole small file only if no file has its name
	// (O_EXCL; on object stores a does-not-exist precondition). An existing
	// file is an error wrapping fs.ErrExist and is left as it was.
	CreateNew(ctx context.Context, path string, data []byte) error
	// Rename moves one file, replacing the target (on object stores a
	// server-side copy then a delete of the source). Directories are never
	// renamed, and no multi-file operation is assumed atomic.
	Rename(ctx context.Context, from, to string) error
	// Place makes the file to hold from's content, replacing it: a rename
	// on local disk (from is gone), a server-side copy on an object store
	// (from stays until its directory is removed: a rename there is a copy
	// and a delete, and the delete can wait for the rest of a commit).
	Place(ctx context.Context, from, to string) error
	// Remove removes a file; removing a missing file is not an error.
	Remove(ctx context.Context, path string) error
	// RemoveAll removes dir and everything under it.
	RemoveAll(ctx context.Context, dir string) error
	// MkdirAll makes dir and its parents; where directories are implicit
	// (object stores) it does nothing.
	MkdirAll(ctx context.Context, dir string) error
}

// joinPath joins a slash-separated name to a local directory or URL.
var joinPath = objstore.JoinPath

// storageFor returns the storage that serves location.
func storageFor(location string) (storage, error) {
	var s storage = localDisk{}
	if strings.Contains(location, "://") {
		var err error
		if s, err = openBucket(context.Background(), location); err != nil {
			return nil, err
		}
	}
	if wrapStorage != nil {
		return wrapStorage(s), nil
	}
	return s, nil
}

// wrapStorage, set by tests only, wraps the storage storageFor returns (to
// inject faults).
var wrapStorage func(storage) storage

// localDisk is storage on the local file system.
type localDisk struct{}

func (localDisk) Open(_ context.Context, path string) (io.ReadCloser, error) { return os.Open(path) }

func (localDisk) Size(_ context.Context, path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file", path)
	}
	return fi.Size(), nil
}

func (localDisk) IsDir(_ context.Context, path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func (localDisk) List(_ context.Context, dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// Create's file is on the disk when Close returns (storage.CreateFile), so
// that a file renamed into place, and the manifest that names it, survive
// a power loss.
func (localDisk) Create(_ context.Context, path string) (io.WriteCloser, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return objstore.CreateFile(path)
}

func (localDisk) ListAll(_ context.Context, dir string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	slices.Sort(paths)
	return paths, err
}

// CreateNew writes the commit journal (storage.CreateNewFile): to a
// temporary "NAME.tmp-ID" (a leftover, isLeftover, if the run is killed),
// synced, then linked to NAME only if absent, and the directory synced, so
// that the journal is never seen partly written and is on the disk before
// the commit goes on.
func (localDisk) CreateNew(_ context.Context, path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return objstore.CreateNewFile(path, data)
}

func (localDisk) Rename(_ context.Context, from, to string) error { return os.Rename(from, to) }

func (localDisk) Place(_ context.Context, from, to string) error { return os.Rename(from, to) }

func (localDisk) Remove(_ context.Context, path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (localDisk) MkdirAll(_ context.Context, dir string) error { return os.MkdirAll(dir, 0o755) }

func (localDisk) RemoveAll(_ context.Context, dir string) error { return os.RemoveAll(dir) }

// readAll reads a whole file.
func readAll(ctx context.Context, store storage, path string) ([]byte, error) {
	r, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// randomID names one attempt's temporary files.
func randomID() string { return rand.Text()[:12] }

// writeAtomic writes data to path through a temporary name renamed into
// place, so that a reader never sees half a file (on object stores, where
// an upload is all or nothing, in one request).
func writeAtomic(ctx context.Context, store storage, path string, data []byte) error {
	if whole, ok := store.(interface {
		writeWhole(ctx context.Context, path string, data []byte) error
	}); ok {
		if err := whole.writeWhole(ctx, path, data); err != nil {
			return fmt.Errorf("dataset: writing %s: %w", path, err)
		}
		return nil
	}
	tmp := path + ".tmp-" + randomID()
	w, err := store.Create(ctx, tmp)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = store.Rename(ctx, tmp, path)
	}
	if err != nil {
		store.Remove(ctx, tmp)
		return fmt.Errorf("dataset: writing %s: %w", path, err)
	}
	return nil
}

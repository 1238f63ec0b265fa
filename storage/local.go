package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// localBackend is local disk through os: what you would write by hand, so that a local Dir behaves exactly
// like os code (see the package doc for why not fileblob).
type localBackend struct{}

func (localBackend) scheme() string          { return "file" }
func (localBackend) url(key string) string   { return key }
func (localBackend) join(p, n string) string { return filepath.Join(p, filepath.FromSlash(n)) }
func (localBackend) close() error            { return nil }

func (localBackend) dirPrefix(p string) string {
	return strings.TrimSuffix(p, string(filepath.Separator)) + string(filepath.Separator)
}

func (localBackend) rel(prefix, key string) string {
	r, err := filepath.Rel(prefix, key)
	if err != nil {
		return filepath.ToSlash(key)
	}
	return filepath.ToSlash(r)
}

func (localBackend) kind(err error) error {
	switch {
	case errors.Is(err, errChanged):
		return errChanged
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return ErrNotExist
	case errors.Is(err, fs.ErrExist):
		return ErrExist
	}
	return nil
}

type localReader struct {
	*os.File
	io.Reader
	info os.FileInfo
}

func (r *localReader) Read(p []byte) (int, error) { return r.Reader.Read(p) }
func (r *localReader) size() int64                { return r.info.Size() }
func (r *localReader) modTime() time.Time         { return r.info.ModTime() }

func (localBackend) newReader(_ context.Context, key string, offset, length int64) (objectReader, error) {
	f, err := os.Open(key)
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err == nil && info.IsDir() {
		err = fmt.Errorf("is a directory: %w", fs.ErrNotExist)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if length < 0 {
		length = max(info.Size()-offset, 0)
	}
	return &localReader{File: f, Reader: io.NewSectionReader(f, offset, length), info: info}, nil
}

func (localBackend) stat(_ context.Context, key string) (*Attributes, error) {
	info, err := os.Stat(key)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, fmt.Errorf("is a directory: %w", fs.ErrNotExist)
	}
	return localAttributes(filepath.Base(key), info), nil
}

func localAttributes(name string, info os.FileInfo) *Attributes {
	return &Attributes{Name: name, Size: info.Size(), ModTime: info.ModTime(), version: localVersion(info)}
}

// localVersion identifies one file: device and inode, and mtime and size because inodes are reused.
func localVersion(info os.FileInfo) string {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf("%d:%d", info.ModTime().UnixNano(), info.Size())
	}
	return fmt.Sprintf("%d:%d:%d:%d", st.Dev, st.Ino, info.ModTime().UnixNano(), info.Size())
}

// localWriter writes to a temporary file beside the target, behind (see writeBehind), and renames it on
// commit.
type localWriter struct {
	writeBehind
	key  string
	opts writeOptions
}

func (localBackend) newWriter(_ context.Context, key string, o writeOptions) (objectWriter, error) {
	f, err := createTemp(key)
	if err != nil {
		return nil, err
	}
	return &localWriter{writeBehind: writeBehind{f: f}, key: key, opts: o}, nil
}

// createTemp creates ".BASE.tmp-RANDOM" in key's directory (made if needed), mode 0666 before umask like
// os.Create, not 0600 like os.CreateTemp.
func createTemp(key string) (*os.File, error) {
	dir, base := filepath.Split(key)
	return createTempIn(dir, "."+base+".tmp-")
}

// createTempIn creates "PREFIXRANDOM" in dir (made if needed), as createTemp does.
func createTempIn(dir, prefix string) (*os.File, error) {
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	for {
		var b [6]byte
		rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, prefix+hex.EncodeToString(b[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

// CreateNewFile creates the local file path holding data, only if no file has that name (an existing one is
// an error wrapping fs.ErrExist, and is left as it was), atomically and durably: data goes to a temporary
// file beside it, "BASE.tmp-RANDOM" (BASE is path's base name; no dot is added in front, unlike a Writer's
// temporary, so a caller that sweeps BASE.tmp-* as leftovers of killed runs finds it), which is fdatasynced,
// then linked to path (link(2) fails with EEXIST when the name exists, atomically like O_EXCL) and removed,
// and the directory is fsynced. So the name never shows a partial file, not even after a kill or a power
// loss, and once CreateNewFile returns, the name and its content survive a power loss. If the directory
// cannot be synced, path is removed again and the error returned. The directory is made if needed. Package
// dataset writes its local commit journal with it.
func CreateNewFile(path string, data []byte) error {
	path = filepath.Clean(path)
	dir, base := filepath.Split(path)
	f, err := createTempIn(dir, base+".tmp-")
	if err != nil {
		return err
	}
	w := &localWriter{writeBehind: writeBehind{f: f}, key: path, opts: writeOptions{ifNotExist: true}}
	if _, err := w.Write(data); err != nil {
		w.abort()
		return err
	}
	if err := w.commit(); err != nil {
		return &fs.PathError{Op: "create", Path: path, Err: err}
	}
	return nil
}

func (w *localWriter) abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func (w *localWriter) commit() error {
	tmp := w.f.Name()
	defer os.Remove(tmp) // after a successful rename or link this finds nothing, or the spare link
	// Sync so that a crash right after the rename cannot leave a renamed but empty file: the manifest is
	// the commit point of a conversion and must not point at shards the disk never got. fdatasync: the data
	// and the size, which is what a reader needs; most of the data is on the disk already.
	err := w.sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	switch {
	case w.opts.ifNotExist:
		return linkNew(tmp, w.key)
	case w.opts.ifMatch != "":
		unlock, err := lockDir(filepath.Dir(w.key))
		if err != nil {
			return err
		}
		defer unlock()
		if err := checkVersion(w.key, w.opts.ifMatch); err != nil {
			return err
		}
		return os.Rename(tmp, w.key)
	}
	return os.Rename(tmp, w.key)
}

// linkNew gives the synced, closed file tmp the name key, only if no file has that name: link(2) fails with
// EEXIST when the name exists, atomically like O_EXCL, and the name appears with its full content. tmp is
// removed either way; then the directory is synced, so that the new name (and tmp's removal) survive a power
// loss before the caller acts on it (dataset removes the old dataset.json once its journal is written). If
// that sync fails, key is removed again: the caller is told that the file was not created.
func linkNew(tmp, key string) error {
	err := os.Link(tmp, key)
	os.Remove(tmp)
	if err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return le.Err
		}
		return err
	}
	if err := syncDir(filepath.Dir(key)); err != nil {
		os.Remove(key)
		return err
	}
	return nil
}

// syncDir waits until dir's entries are on the disk (fsync(2) of the directory): a name just linked into
// it, and one just removed. A variable so that tests can see it called, and make it fail.
var syncDir = func(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockDir takes an exclusive flock on a directory, serialising version-checked replacements and deletes
// (the lease) among processes; the kernel drops it if the process dies.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

func checkVersion(key, version string) error {
	info, err := os.Stat(key)
	if errors.Is(err, fs.ErrNotExist) {
		return errChanged
	}
	if err != nil {
		return err
	}
	if localVersion(info) != version {
		return errChanged
	}
	return nil
}

func (localBackend) deleteIfMatch(_ context.Context, key, version string) error {
	unlock, err := lockDir(filepath.Dir(key))
	if err != nil {
		return err
	}
	defer unlock()
	if err := checkVersion(key, version); err != nil {
		return err
	}
	return os.Remove(key)
}

func (localBackend) delete(_ context.Context, key string) error {
	info, err := os.Lstat(key)
	if err != nil {
		return err
	}
	if info.IsDir() {
		return fmt.Errorf("is a directory: %w", fs.ErrNotExist)
	}
	return os.Remove(key)
}

func (b localBackend) copy(ctx context.Context, dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := b.newWriter(ctx, dst, writeOptions{})
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		w.abort()
		return err
	}
	return w.commit()
}

func (localBackend) rename(_ context.Context, dst, src string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return err
	}
	return os.Rename(src, dst)
}

// list reads the whole listing at once (one page) in the order a bucket would give it: by full name, so
// "a-b" comes before "a/c" as in GCS and S3, though WalkDir would visit "a/" first.
func (localBackend) list(_ context.Context, prefix string, recursive bool, _ []byte) ([]Attributes, []byte, error) {
	// The directory to read is the part of prefix up to its last separator; the rest filters names.
	dir := prefix
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		dir = filepath.Dir(prefix)
	}
	var out []Attributes
	if !recursive {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		for _, e := range entries {
			key := filepath.Join(dir, e.Name())
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			if err != nil {
				return nil, nil, err
			}
			if info.IsDir() {
				out = append(out, Attributes{Name: key + string(filepath.Separator), IsDir: true})
				continue
			}
			a := localAttributes(key, info)
			out = append(out, *a)
		}
	} else {
		err := filepath.WalkDir(dir, func(key string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if e.IsDir() {
				// Skip directories that cannot hold a match.
				if key != dir && !strings.HasPrefix(key+string(filepath.Separator), prefix) && !strings.HasPrefix(key, prefix) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasPrefix(key, prefix) {
				return nil
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, *localAttributes(key, info))
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return filepath.ToSlash(out[i].Name) < filepath.ToSlash(out[j].Name) })
	return out, nil, nil
}

// removeDirIfEmpty removes dir unless it is not empty or already gone.
func removeDirIfEmpty(dir string) error {
	err := os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}

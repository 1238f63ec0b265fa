package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Reader streams one object (or a range of it). A transient failure in the middle of the stream reopens
// the object at the current offset under the Dir's retry policy, provided the object has not changed
// (same size and modification time); otherwise the error is returned, and every later Read returns it too.
type Reader struct {
	d          *Dir
	ctx        context.Context
	key        string
	offset     int64 // of the next byte to read
	end        int64 // exclusive; -1: to the end of the object
	r          objectReader
	objSize    int64
	objModTime time.Time
	err        error
}

// NewReader opens name for reading from the start. The caller must Close it.
func (d *Dir) NewReader(ctx context.Context, name string) (*Reader, error) {
	return d.NewRangeReader(ctx, name, 0, -1)
}

// NewRangeReader opens length bytes of name from offset (length < 0: to the end). Reading past the end of
// the object gives io.EOF early, as a file does. The caller must Close it.
func (d *Dir) NewRangeReader(ctx context.Context, name string, offset, length int64) (*Reader, error) {
	key, err := d.key("read", name)
	if err != nil {
		return nil, err
	}
	rd := &Reader{d: d, ctx: ctx, key: key, offset: offset, end: -1}
	if length >= 0 {
		rd.end = offset + length
	}
	err = d.retry.do(ctx, func(bool) error {
		r, err := d.be.newReader(ctx, key, offset, length)
		if err != nil {
			return err
		}
		rd.r, rd.objSize, rd.objModTime = r, r.size(), r.modTime()
		return nil
	})
	if err != nil {
		return nil, d.wrap("read", key, err)
	}
	return rd, nil
}

// Size returns the size of the whole object, whatever the range.
func (r *Reader) Size() int64 { return r.objSize }

// ModTime returns the object's modification time.
func (r *Reader) ModTime() time.Time { return r.objModTime }

// Read reads the next bytes of the object.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.r.Read(p)
	r.offset += int64(n)
	if err == nil || err == io.EOF {
		return n, err
	}
	if IsTransient(err) && r.ctx.Err() == nil {
		if rerr := r.reopen(); rerr == nil {
			if n > 0 {
				return n, nil
			}
			return r.Read(p)
		} else {
			err = rerr
		}
	}
	r.err = r.d.wrap("read", r.key, err)
	return n, r.err
}

// reopen replaces a broken stream by a new one from the current offset.
func (r *Reader) reopen() error {
	r.r.Close()
	length := int64(-1)
	if r.end >= 0 {
		length = r.end - r.offset
	}
	return r.d.retry.do(r.ctx, func(bool) error {
		nr, err := r.d.be.newReader(r.ctx, r.key, r.offset, length)
		if err != nil {
			return err
		}
		if nr.size() != r.objSize || !nr.modTime().Equal(r.objModTime) {
			nr.Close()
			return errors.New("object changed while being read")
		}
		r.r = nr
		return nil
	})
}

// Close releases the stream.
func (r *Reader) Close() error {
	if err := r.r.Close(); err != nil {
		return r.d.wrap("read", r.key, err)
	}
	return nil
}

// ReadFile returns the content of name.
func (d *Dir) ReadFile(ctx context.Context, name string) ([]byte, error) {
	key, err := d.key("read", name)
	if err != nil {
		return nil, err
	}
	var data []byte
	err = d.retry.do(ctx, func(bool) error {
		r, err := d.be.newReader(ctx, key, 0, -1)
		if err != nil {
			return err
		}
		defer r.Close()
		buf := bytes.NewBuffer(make([]byte, 0, max(r.size(), 0)+bytes.MinRead))
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		data = buf.Bytes()
		return nil
	})
	return data, d.wrap("read", key, err)
}

// WriterOptions are the options of NewWriter and WriteFile; nil means none.
type WriterOptions struct {
	// IfNotExist makes the write fail with ErrExist if the object exists when the write completes
	// (GCS: ifGenerationMatch=0; S3: If-None-Match: *; local: link(2), which fails if the name exists).
	IfNotExist bool
	// ContentType is stored with the object on buckets ("application/octet-stream" when empty: no
	// sniffing). Local files have none.
	ContentType string
}

func (o *WriterOptions) backend(stream bool) writeOptions {
	if o == nil {
		return writeOptions{stream: stream}
	}
	return writeOptions{contentType: o.ContentType, ifNotExist: o.IfNotExist, stream: stream}
}

// Writer streams an object. Nothing is visible under its name until Close succeeds; Abort (or a failed
// Close, or the cancellation of the context given to NewWriter) leaves the name as it was.
type Writer struct {
	d    *Dir
	key  string
	w    objectWriter
	err  error
	done bool
}

// NewWriter starts writing name. Local writes go to a temporary file in the same directory, renamed on
// Close; bucket writes are uploads completed on Close.
func (d *Dir) NewWriter(ctx context.Context, name string, opts *WriterOptions) (*Writer, error) {
	key, err := d.key("write", name)
	if err != nil {
		return nil, err
	}
	w, err := d.be.newWriter(ctx, key, opts.backend(true))
	if err != nil {
		return nil, d.wrap("write", key, err)
	}
	return &Writer{d: d, key: key, w: w}, nil
}

// Write writes p. Errors are sticky.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, w.d.wrap("write", w.key, errors.New("write after Close or Abort"))
	}
	n, err := w.w.Write(p)
	if err != nil {
		w.err = w.d.wrap("write", w.key, err)
	}
	return n, w.err
}

// Close completes the write: the object appears under its name, or the error says why not (ErrExist for
// a failed IfNotExist).
func (w *Writer) Close() error {
	if w.done {
		return w.err
	}
	w.done = true
	if w.err != nil {
		w.w.abort()
		return w.err
	}
	w.err = w.d.wrap("write", w.key, w.w.commit())
	return w.err
}

// Abort discards the write. It is a no-op after Close.
func (w *Writer) Abort() {
	if !w.done {
		w.done = true
		w.w.abort()
	}
}

// WriteFile writes data as name, replacing it (or, with IfNotExist, only if absent). Unlike a streaming
// Writer it is retried: a retry of an IfNotExist write that finds the object holding exactly data takes it
// for its own earlier attempt, which may have succeeded before its answer was lost.
func (d *Dir) WriteFile(ctx context.Context, name string, data []byte, opts *WriterOptions) error {
	key, err := d.key("write", name)
	if err != nil {
		return err
	}
	return d.wrap("write", key, d.writeKey(ctx, key, data, opts.backend(false)))
}

func (d *Dir) writeKey(ctx context.Context, key string, data []byte, o writeOptions) error {
	return d.retry.do(ctx, func(retry bool) error {
		w, err := d.be.newWriter(ctx, key, o)
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			w.abort()
			return err
		}
		err = w.commit()
		// A retried conditional write that fails its precondition may be failing on its own earlier
		// attempt, which landed although its answer was lost: then the object holds exactly data.
		if k := d.be.kind(err); retry && (k == ErrExist || k == errChanged) {
			if r, rerr := d.be.newReader(ctx, key, 0, -1); rerr == nil {
				got, rerr := io.ReadAll(r)
				r.Close()
				if rerr == nil && bytes.Equal(got, data) {
					return nil
				}
			}
		}
		return err
	})
}

// Stat returns the attributes of name (Name is name). A directory, or a prefix with no object of its own,
// is ErrNotExist.
func (d *Dir) Stat(ctx context.Context, name string) (*Attributes, error) {
	key, err := d.key("stat", name)
	if err != nil {
		return nil, err
	}
	var a *Attributes
	err = d.retry.do(ctx, func(bool) error {
		a, err = d.be.stat(ctx, key)
		return err
	})
	if err != nil {
		return nil, d.wrap("stat", key, err)
	}
	a.Name = name
	return a, nil
}

// ListOptions say what List returns.
type ListOptions struct {
	// Prefix restricts the listing to names starting with it: "train-", "sub/", "sub/x". Empty: all.
	Prefix string
	// Recursive lists every object at any depth (out/.tfprep-tmp-1/shard included). Otherwise only the
	// level of Prefix: objects, and "directories" (names ending in "/", IsDir set) for deeper ones.
	Recursive bool
}

// List yields the objects under d in lexical order of name (a byte-wise order on slash-separated names,
// the same for every scheme), with names relative to d. Iteration stops at the first error, which is
// yielded with a zero Attributes. Pages are fetched as the loop goes; each page fetch is retried.
func (d *Dir) List(ctx context.Context, opts ListOptions) iter.Seq2[Attributes, error] {
	return func(yield func(Attributes, error) bool) {
		if d.err != nil {
			yield(Attributes{}, d.err)
			return
		}
		base := d.be.dirPrefix(d.prefix)
		prefix := base + opts.Prefix
		if d.IsLocal() {
			prefix = base + filepath.FromSlash(opts.Prefix)
		}
		var token []byte
		for {
			var page []Attributes
			var next []byte
			err := d.retry.do(ctx, func(bool) error {
				var err error
				page, next, err = d.be.list(ctx, prefix, opts.Recursive, token)
				return err
			})
			if err != nil {
				yield(Attributes{}, &Error{Op: "list", URL: d.be.url(prefix), Err: err, kind: d.be.kind(err)})
				return
			}
			for _, a := range page {
				a.Name = d.be.rel(d.prefix, a.Name)
				if a.IsDir && !strings.HasSuffix(a.Name, "/") {
					a.Name += "/"
				}
				if !yield(a, nil) {
					return
				}
			}
			if len(next) == 0 {
				return
			}
			token = next
		}
	}
}

// ListAll returns List's objects as a slice.
func (d *Dir) ListAll(ctx context.Context, opts ListOptions) ([]Attributes, error) {
	var out []Attributes
	for a, err := range d.List(ctx, opts) {
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Empty reports whether there is no object under d at any depth. A local directory that does not exist
// is empty.
func (d *Dir) Empty(ctx context.Context) (bool, error) {
	for _, err := range d.List(ctx, ListOptions{Recursive: true}) {
		return false, err
	}
	return true, nil
}

// Delete removes name. A missing object is ErrNotExist, except on a retry (the earlier attempt may have
// deleted it).
func (d *Dir) Delete(ctx context.Context, name string) error {
	key, err := d.key("delete", name)
	if err != nil {
		return err
	}
	return d.wrap("delete", key, d.deleteKey(ctx, key))
}

func (d *Dir) deleteKey(ctx context.Context, key string) error {
	return d.retry.do(ctx, func(retry bool) error {
		err := d.be.delete(ctx, key)
		if retry && d.be.kind(err) == ErrNotExist {
			return nil
		}
		return err
	})
}

// DeleteAll removes every object whose name starts with prefix, at any depth ("" removes everything
// under d), with up to concurrency deletes at a time (≤ 0: DefaultConcurrency). Locally, directories
// left empty under the prefix are removed too, so DeleteAll(".tfprep-tmp-1/") clears like os.RemoveAll.
// Nothing to delete is not an error. All failures are returned, joined.
func (d *Dir) DeleteAll(ctx context.Context, prefix string, concurrency int) error {
	objs, err := d.ListAll(ctx, ListOptions{Prefix: prefix, Recursive: true})
	if err != nil {
		return err
	}
	err = parallel(ctx, len(objs), d.concurrency(concurrency), func(i int) error {
		err := d.Delete(ctx, objs[i].Name)
		if errors.Is(err, ErrNotExist) {
			return nil // deleted by someone else meanwhile: the goal is met
		}
		return err
	})
	if err != nil || !d.IsLocal() {
		return err
	}
	return removeEmptyDirs(d.prefix, prefix, objs)
}

// removeEmptyDirs removes, deepest first, the local directories that held objs and whose names start
// with prefix.
func removeEmptyDirs(root, prefix string, objs []Attributes) error {
	dirs := map[string]bool{}
	for _, o := range objs {
		for dir := pathDir(o.Name); dir != "" && strings.HasPrefix(dir+"/", prefix); dir = pathDir(dir) {
			dirs[dir] = true
		}
	}
	list := make([]string, 0, len(dirs))
	for dir := range dirs {
		list = append(list, dir)
	}
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	var errs []error
	for _, dir := range list {
		// Remove fails on a directory that is not empty (someone wrote there meanwhile): leave it.
		if err := removeDirIfEmpty(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func pathDir(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return ""
	}
	return name[:i]
}

// Copy copies src to dst, both named under d, on the server for buckets (no bytes through this process).
func (d *Dir) Copy(ctx context.Context, dst, src string) error {
	srcKey, err := d.key("copy", src)
	if err != nil {
		return err
	}
	dstKey, err := d.key("copy", dst)
	if err != nil {
		return err
	}
	err = d.retry.do(ctx, func(bool) error { return d.be.copy(ctx, dstKey, srcKey) })
	if err != nil {
		return &Error{Op: "copy", URL: d.be.url(srcKey) + " to " + d.be.url(dstKey), Err: err, kind: d.be.kind(err)}
	}
	return nil
}

// Rename moves src to dst, replacing dst. Locally it is os.Rename (atomic, directories of dst created);
// on buckets a server-side copy then a delete of src, so for a moment both exist, and a failed copy
// leaves src untouched.
func (d *Dir) Rename(ctx context.Context, dst, src string) error {
	srcKey, err := d.key("rename", src)
	if err != nil {
		return err
	}
	dstKey, err := d.key("rename", dst)
	if err != nil {
		return err
	}
	if d.IsLocal() {
		if err := d.be.rename(ctx, dstKey, srcKey); err != nil {
			return &Error{Op: "rename", URL: d.be.url(srcKey) + " to " + d.be.url(dstKey), Err: err, kind: d.be.kind(err)}
		}
		return nil
	}
	if err := d.Copy(ctx, dst, src); err != nil {
		return err
	}
	return d.wrap("rename", srcKey, d.deleteKey(ctx, srcKey))
}

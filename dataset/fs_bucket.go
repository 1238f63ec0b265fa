package dataset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	objstore "github.com/tfprep/tfprep/storage"
)

// bucketStore serves the storage seam for URL locations (gs://, s3://,
// mem://) through package storage, which names the object in every error and
// retries transient failures. Paths are full URLs: scheme://bucket/key, with
// the location's query (s3://b/k?endpoint=...) after the key.
type bucketStore struct {
	root *objstore.Dir // the bucket's root
}

// bucketDirs holds one open bucket root per URL root and emulator setting,
// so that every dataset on a bucket shares one connection for the life of
// the process. A location's query (s3://b/out?endpoint=...) configures its
// bucket's connection; paths joined under it (joinPath) drop the query and
// find the connection here by their root, so that suffixes such as ".idx"
// stay at the end of a name. Processes that see only such paths (workers of
// a distributed runner) reach an S3-compatible store through
// AWS_ENDPOINT_URL instead.
var bucketDirs struct {
	sync.Mutex
	m     map[string]*objstore.Dir
	query map[string]string
}

// openBucket returns the storage serving location, a URL.
func openBucket(ctx context.Context, location string) (storage, error) {
	root, _, query, err := splitURL(location)
	if err != nil {
		return nil, err
	}
	// The emulator variables choose the endpoint a gs:// client talks to.
	id := root + "\x00" + os.Getenv("STORAGE_EMULATOR_HOST") + "\x00" + os.Getenv("AWS_ENDPOINT_URL")
	bucketDirs.Lock()
	defer bucketDirs.Unlock()
	if d := bucketDirs.m[id]; d != nil && (query == "" || bucketDirs.query[id] == query) {
		return bucketStore{root: d}, nil
	}
	// The client outlives ctx (it is kept for the process): a cloud SDK may
	// keep the context it was made with for its credentials' refreshes.
	d, err := objstore.Open(context.WithoutCancel(ctx), root+query)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStorage, err)
	}
	if bucketDirs.m == nil {
		bucketDirs.m, bucketDirs.query = map[string]*objstore.Dir{}, map[string]string{}
	}
	bucketDirs.m[id], bucketDirs.query[id] = d, query
	return bucketStore{root: d}, nil
}

// splitURL splits scheme://bucket/key?query into "scheme://bucket", "key"
// and "?query".
func splitURL(location string) (root, key, query string, err error) {
	rest, q, hasQuery := strings.Cut(location, "?")
	if hasQuery {
		query = "?" + q
	}
	scheme, path, _ := strings.Cut(rest, "://")
	bucket, key, _ := strings.Cut(path, "/")
	if bucket == "" {
		return "", "", "", fmt.Errorf("%w: %s: no bucket name", ErrStorage, location)
	}
	return scheme + "://" + bucket, strings.Trim(key, "/"), query, nil
}

// key returns path's object name in the bucket.
func (b bucketStore) key(path string) (string, error) {
	_, key, _, err := splitURL(path)
	return key, err
}

// dir returns the Dir at path.
func (b bucketStore) dir(path string) (*objstore.Dir, error) {
	key, err := b.key(path)
	if err != nil {
		return nil, err
	}
	return b.root.Join(key), nil
}

func (b bucketStore) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	key, err := b.key(path)
	if err != nil {
		return nil, err
	}
	return b.root.NewReader(ctx, key)
}

func (b bucketStore) Size(ctx context.Context, path string) (int64, error) {
	key, err := b.key(path)
	if err != nil {
		return 0, err
	}
	a, err := b.root.Stat(ctx, key)
	if err != nil {
		return 0, err
	}
	return a.Size, nil
}

// writeWhole writes a small file in one request: an object store shows
// an object only once its upload is complete, so writeAtomic needs no
// temporary object and rename (a copy and a delete: two more round trips
// of tens of milliseconds each).
func (b bucketStore) writeWhole(ctx context.Context, path string, data []byte) error {
	key, err := b.key(path)
	if err != nil {
		return err
	}
	return b.root.WriteFile(ctx, key, data, nil)
}

// StoredCRC32C returns an object's size and the CRC-32C its store keeps with
// it; ok is false when the store keeps none (S3 unless uploaded with a
// CRC-32C checksum, mem://).
func (b bucketStore) StoredCRC32C(ctx context.Context, path string) (size int64, crc uint32, ok bool, err error) {
	key, err := b.key(path)
	if err != nil {
		return 0, 0, false, err
	}
	a, err := b.root.Stat(ctx, key)
	if err != nil {
		return 0, 0, false, err
	}
	return a.Size, a.CRC32C, a.HasCRC32C, nil
}

// IsDir reports whether any object lies under path; a bucket has no
// directories, only names with slashes.
func (b bucketStore) IsDir(ctx context.Context, path string) (bool, error) {
	d, err := b.dir(path)
	if err != nil {
		return false, err
	}
	empty, err := d.Empty(ctx)
	if err != nil {
		return false, err
	}
	if empty {
		return false, &fs.PathError{Op: "stat", Path: path, Err: fs.ErrNotExist}
	}
	return true, nil
}

// List returns the names directly under dir, objects and "directories"
// (common prefixes) alike, as a local directory listing would.
func (b bucketStore) List(ctx context.Context, dir string) ([]string, error) {
	d, err := b.dir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for a, err := range d.List(ctx, objstore.ListOptions{}) {
		if err != nil {
			return nil, err
		}
		names = append(names, strings.TrimSuffix(a.Name, "/"))
	}
	return names, nil
}

func (b bucketStore) Create(ctx context.Context, path string) (io.WriteCloser, error) {
	key, err := b.key(path)
	if err != nil {
		return nil, err
	}
	return b.root.NewWriter(ctx, key, nil)
}

func (b bucketStore) Rename(ctx context.Context, from, to string) error {
	src, dst, err := b.keys(from, to)
	if err != nil {
		return err
	}
	return b.root.Rename(ctx, dst, src)
}

// Place copies from to to on the server; from stays.
func (b bucketStore) Place(ctx context.Context, from, to string) error {
	src, dst, err := b.keys(from, to)
	if err != nil {
		return err
	}
	return b.root.Copy(ctx, dst, src)
}

// keys returns the object keys of a move's source and target.
func (b bucketStore) keys(from, to string) (src, dst string, err error) {
	if src, err = b.key(from); err != nil {
		return "", "", err
	}
	if dst, err = b.key(to); err != nil {
		return "", "", err
	}
	return src, dst, nil
}

func (b bucketStore) Remove(ctx context.Context, path string) error {
	key, err := b.key(path)
	if err != nil {
		return err
	}
	if err := b.root.Delete(ctx, key); err != nil && !errors.Is(err, objstore.ErrNotExist) {
		return err
	}
	return nil
}

func (b bucketStore) RemoveAll(ctx context.Context, dir string) error {
	d, err := b.dir(dir)
	if err != nil {
		return err
	}
	return d.DeleteAll(ctx, "", 0)
}

// MkdirAll does nothing: a bucket's directories are implicit.
func (bucketStore) MkdirAll(context.Context, string) error { return nil }

// ListAll lists every object under dir at any depth (no delimiter), so that
// nested leftovers such as a staging directory's shards are found.
func (b bucketStore) ListAll(ctx context.Context, dir string) ([]string, error) {
	d, err := b.dir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for a, err := range d.List(ctx, objstore.ListOptions{Recursive: true}) {
		if err != nil {
			return nil, err
		}
		names = append(names, a.Name)
	}
	return names, nil
}

// CreateNew writes data only if no object has the name: a does-not-exist
// precondition (storage.ErrExist, which is fs.ErrExist, when one does).
func (b bucketStore) CreateNew(ctx context.Context, path string, data []byte) error {
	key, err := b.key(path)
	if err != nil {
		return err
	}
	return b.root.WriteFile(ctx, key, data, &objstore.WriterOptions{IfNotExist: true})
}

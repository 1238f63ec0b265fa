package storage

import (
	"context"
	"io"
	"time"
)

// backend is what a scheme provides to Dir. Keys are full keys: an absolute OS path locally, an object key
// in a bucket. Errors are returned raw; Dir names the object and classifies them with kind.
type backend interface {
	scheme() string
	url(key string) string
	join(prefix, name string) string
	// dirPrefix returns prefix as the start of the keys under it: with a trailing separator, or "" for a
	// bucket's root.
	dirPrefix(prefix string) string
	// rel returns key relative to prefix as a slash-separated name (key is under prefix).
	rel(prefix, key string) string
	// kind classifies a raw error as ErrNotExist, ErrExist (IfNotExist failed), errChanged, or nil.
	kind(err error) error

	// newReader opens key from offset for length bytes (length < 0: to the end).
	newReader(ctx context.Context, key string, offset, length int64) (objectReader, error)
	stat(ctx context.Context, key string) (*Attributes, error)
	// newWriter starts a write of key that takes effect only on commit. stream is set for writers handed
	// to callers (their bytes cannot be replayed by Dir, so the store's SDK may retry its own requests);
	// ifMatch, when not empty, is a version precondition.
	newWriter(ctx context.Context, key string, o writeOptions) (objectWriter, error)
	// list returns one page of the keys starting with prefix; with delimiter "/" common prefixes come back
	// as directories. A nil next token ends the listing.
	list(ctx context.Context, prefix string, recursive bool, token []byte) (page []Attributes, next []byte, err error)
	delete(ctx context.Context, key string) error
	copy(ctx context.Context, dst, src string) error
	// rename moves src to dst: os.Rename locally; buckets have none and Dir copies then deletes.
	rename(ctx context.Context, dst, src string) error
	// deleteIfMatch deletes key if it is still at version.
	deleteIfMatch(ctx context.Context, key, version string) error
	close() error
}

type writeOptions struct {
	contentType string
	ifNotExist  bool
	ifMatch     string
	stream      bool
	// written, when not nil, receives the version of the object a
	// successful commit made, where the store's answer gives it (GCS's
	// generation); it is left alone otherwise.
	written *string
}

type objectReader interface {
	io.ReadCloser
	size() int64 // of the whole object
	modTime() time.Time
}

type objectWriter interface {
	io.Writer
	commit() error // the object appears (or is replaced) only if commit succeeds
	abort()        // discard; nothing appears
}

// Package storage is tfprep's one way to reach data: local paths, gs:// and s3:// buckets (and mem:// in
// tests) behind a single type, [Dir], so every command, the pipeline's workers and the trainer read and write
// buckets exactly as they do local folders. It does not import Beam.
//
// # Locations
//
// [Open] takes a location and returns a [Dir], a place under which objects are named by slash-separated
// relative names ("train-00000-of-00004.tfrecord", "images/a/b.jpg"):
//
//	/data/out, ./out, file:///data/out    local disk, plain os calls
//	gs://bucket/prefix                      Google Cloud Storage
//	s3://bucket/prefix?region=eu-west-1     Amazon S3 or an S3-compatible store
//	mem://name/prefix                       in memory, for tests (one store per name, per process)
//
// Buckets are reached with gocloud.dev/blob (gcsblob, s3blob, memblob). Local disk is not: it is plain os
// code (see "Local disk" below).
//
// # S3-compatible stores
//
// MinIO, Ceph, Cloudflare R2 and the like need an endpoint and usually path-style addressing. Put them in
// the URL query, as gocloud.dev does:
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:9000&use_path_style=true&region=us-east-1
//
// or set AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3) in the environment; the AWS SDK reads it. Other query
// parameters: region, profile, anonymous=true, disable_https=true, request_checksum_calculation=when_required
// (for stores that reject the SDK's default checksum headers), response_checksum_validation, fips,
// dualstack, hostname_immutable. When an endpoint is given and no region is set anywhere, the region is
// us-east-1. Credentials come from the usual AWS chain (environment, shared files, instance role).
//
// # Google Cloud Storage
//
// Credentials are Application Default Credentials. gs://bucket?anonymous=true uses no credentials (public
// buckets). When STORAGE_EMULATOR_HOST is set (host:port of an emulator such as fake-gcs-server), requests
// go there over plain HTTP, unauthenticated, and no credentials or metadata server are consulted.
//
// # Local disk
//
// A local Dir behaves exactly like os code, because it is os code: no sidecar files, a write goes to a
// temporary file in the same directory (named ".NAME.tmp-RANDOM") and is renamed over NAME on Close, so
// readers see the old or the new file and never a torn one; directories are created as needed; Rename is
// os.Rename. gocloud.dev's fileblob was not used: its IfNotExist is a Stat then a rename (two processes can
// both win, which breaks the lease), it has no rename, it refuses and hides names ending in ".attrs", and it
// hex-escapes some names so the object name is not the file name.
//
// # Errors
//
// Every error names the object by its full location (gs://b/out/x, /data/out/x) and wraps its cause; see
// [Error]. errors.Is(err, [ErrNotExist]) and errors.Is(err, [ErrExist]) (an IfNotExist precondition that
// failed) work for every scheme; they are fs.ErrNotExist and fs.ErrExist, so code written for os keeps
// working.
//
// # Retries
//
// Transient failures (HTTP 408, 429 and 5xx, connection resets, timeouts) of idempotent operations are
// retried with capped exponential backoff and full jitter, bounded in attempts and in time, and never past
// the context; see [RetryPolicy] and [DefaultRetry]. Stat, ReadFile, NewReader and NewRangeReader (also when
// a stream breaks mid-way: the Reader reopens at its offset), List, Delete, Copy, Rename, WriteFile and the
// lease operations are retried; other errors are returned at once. A streaming [Writer] cannot be replayed
// by this package: on buckets the cloud SDK retries its own upload requests under the same policy bounds.
//
// A Dir is safe for concurrent use. Close the Dir returned by Open when done; Dirs made by Join share its
// connection and need no Close of their own.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotExist is returned (wrapped in an [*Error]) when an object does not exist. It is fs.ErrNotExist.
var ErrNotExist = fs.ErrNotExist

// ErrExist is returned (wrapped in an [*Error]) when a write with IfNotExist finds the object already there.
// It is fs.ErrExist.
var ErrExist = fs.ErrExist

// errChanged is a failed version precondition (the object is not the version the caller saw).
var errChanged = errors.New("storage: object changed")

// Error records a failed operation on one object.
type Error struct {
	Op  string // "read", "write", "stat", "list", "delete", "copy", "rename", "lease"
	URL string // full location of the object: gs://bucket/key, s3://bucket/key, /abs/path, mem://name/key
	Err error  // the cause
	// kind is ErrNotExist, ErrExist, errChanged or nil; Is reports it so that callers need not know which
	// store's error type the cause is.
	kind error
}

func (e *Error) Error() string { return "storage: " + e.Op + " " + e.URL + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether the error is of the kind target (ErrNotExist, ErrExist) whatever the store.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Attributes describe one object, or one "directory" in a non-recursive listing.
type Attributes struct {
	Name        string    // relative to the Dir it was asked of, slash-separated; directories end in "/"
	IsDir       bool      // only in a non-recursive List: a common prefix (bucket) or a directory (local)
	Size        int64     // bytes
	ModTime     time.Time // last modification (GCS: updated; S3: last-modified; local: mtime)
	ContentType string    // as stored; empty locally
	MD5         []byte    // nil when the store does not have it (local disk, S3 multipart uploads)
	CRC32C      uint32    // valid when HasCRC32C (GCS always; S3 when uploaded with a CRC32C checksum)
	HasCRC32C   bool

	// version identifies this version of the object for conditional writes: GCS generation, S3 ETag,
	// local device:inode, mem ETag.
	version string
}

// Dir is a location: a local directory, or a bucket and key prefix. Objects under it are named by
// slash-separated relative names, which must be valid by fs.ValidPath (no "..", no leading or trailing
// slash, no empty elements).
type Dir struct {
	be     backend
	prefix string // local: absolute OS path; buckets: key prefix without trailing slash ("" = bucket root)
	retry  RetryPolicy
	owner  bool  // the Dir returned by Open; Close closes the backend
	err    error // an invalid Join; every operation returns it
}

// Open returns the Dir at location: a local path, file://PATH, gs://BUCKET[/PREFIX], s3://BUCKET[/PREFIX]
// [?query] or mem://NAME[/PREFIX]. Opening does no I/O for buckets (a missing bucket shows on first use);
// a local directory need not exist yet.
func Open(ctx context.Context, location string) (*Dir, error) {
	scheme, _, hasScheme := strings.Cut(location, "://")
	if !hasScheme || len(scheme) < 2 { // "C:\..." is not a scheme
		return openLocal(location)
	}
	switch scheme {
	case "file":
		u, err := url.Parse(location)
		if err != nil {
			return nil, &Error{Op: "open", URL: location, Err: err}
		}
		if u.Host != "" && u.Host != "localhost" {
			return nil, &Error{Op: "open", URL: location, Err: errors.New("file:// URLs must name a local path (file:///abs/path)")}
		}
		return openLocal(u.Path)
	case "gs", "s3", "mem":
	default:
		return nil, &Error{Op: "open", URL: location, Err: fmt.Errorf("unsupported scheme %q (want a local path, file://, gs://, s3:// or mem://)", scheme)}
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, &Error{Op: "open", URL: location, Err: err}
	}
	if u.Host == "" {
		return nil, &Error{Op: "open", URL: location, Err: errors.New("no bucket name")}
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" && !fs.ValidPath(prefix) {
		return nil, &Error{Op: "open", URL: location, Err: fmt.Errorf("invalid prefix %q", prefix)}
	}
	var be backend
	switch scheme {
	case "gs":
		be, err = openGCS(ctx, u)
	case "s3":
		be, err = openS3(ctx, u)
	case "mem":
		be, err = openMem(u)
	}
	if err != nil {
		return nil, &Error{Op: "open", URL: location, Err: err}
	}
	return &Dir{be: be, prefix: prefix, retry: DefaultRetry, owner: true}, nil
}

func openLocal(p string) (*Dir, error) {
	if p == "" {
		p = "."
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, &Error{Op: "open", URL: p, Err: err}
	}
	return &Dir{be: localBackend{}, prefix: abs, retry: DefaultRetry, owner: true}, nil
}

// Close releases the connection of a Dir returned by Open. Closing a Dir made by Join does nothing.
func (d *Dir) Close() error {
	if !d.owner {
		return nil
	}
	return d.be.close()
}

// WithRetry returns a Dir like d (sharing its connection, not to be closed) that retries under p.
func (d *Dir) WithRetry(p RetryPolicy) *Dir {
	c := *d
	c.retry, c.owner = p, false
	return &c
}

// Join returns the Dir at d's location joined with the given names (which may contain slashes). The result
// shares d's connection.
func (d *Dir) Join(elem ...string) *Dir {
	c := *d
	c.owner = false
	for _, e := range elem {
		e = strings.Trim(e, "/")
		if e == "" {
			continue
		}
		if !fs.ValidPath(e) || e == "." {
			if c.err == nil {
				c.err = &Error{Op: "join", URL: c.be.url(c.prefix), Err: fmt.Errorf("invalid name %q (want a relative slash-separated name without . or ..)", e)}
			}
			continue
		}
		c.prefix = c.be.join(c.prefix, e)
	}
	return &c
}

// JoinPath joins rel, a slash-separated relative name, to root, a local
// directory or a URL such as gs://bucket/dir. A URL's query
// (s3://b/dir?endpoint=...) configures a connection, not a name, so it is
// dropped: the result names an object, and suffixes added to it (".idx")
// stay at the end.
func JoinPath(root, rel string) string {
	if strings.Contains(root, "://") {
		root, _, _ = strings.Cut(root, "?")
		return strings.TrimSuffix(root, "/") + "/" + rel
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// URL returns d's location: an absolute path for local disk, scheme://bucket/prefix otherwise.
func (d *Dir) URL() string { return d.be.url(d.prefix) }

// String returns d.URL().
func (d *Dir) String() string { return d.URL() }

// URLOf returns the full location of the object name under d, as errors name it.
func (d *Dir) URLOf(name string) string { return d.be.url(d.be.join(d.prefix, name)) }

// Scheme returns "file", "gs", "s3" or "mem".
func (d *Dir) Scheme() string { return d.be.scheme() }

// IsLocal reports whether d is on local disk, where paths can be handed to os and to C libraries.
func (d *Dir) IsLocal() bool { return d.be.scheme() == "file" }

// key checks a relative name and returns its backend key.
func (d *Dir) key(op, name string) (string, error) {
	if d.err != nil {
		return "", d.err
	}
	if name == "." || !fs.ValidPath(name) {
		return "", &Error{Op: op, URL: d.be.url(d.prefix) + "/" + name, Err: fmt.Errorf("invalid object name %q (want a relative slash-separated name without . or ..)", name)}
	}
	return d.be.join(d.prefix, name), nil
}

// wrap turns a backend error on key into an *Error naming the object.
func (d *Dir) wrap(op, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return &Error{Op: op, URL: d.be.url(key), Err: err, kind: d.be.kind(err)}
}

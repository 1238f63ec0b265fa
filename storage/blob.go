package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/googleapis/gax-go/v2"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/option"
)

// blobBackend is a bucket through gocloud.dev/blob. The cloud SDK's own retries are off for everything
// Dir retries itself (so attempts do not multiply); streaming writers, which Dir cannot replay, go through
// stream, whose SDK retries its requests within the same bounds.
type blobBackend struct {
	sch, bucket string
	ops         *blob.Bucket
	stream      *blob.Bucket
	// beforeStreamWrite adjusts a streaming write (GCS: the SDK's retry of upload requests).
	beforeStreamWrite func(as func(any) bool) error
	// mu serialises version-checked writes and deletes on mem://, which has no conditional writes of its
	// own; the store lives in this process, so a mutex is a true compare-and-swap.
	mu      *sync.Mutex
	closers []func() error
}

func (b *blobBackend) scheme() string               { return b.sch }
func (b *blobBackend) url(key string) string        { return b.sch + "://" + b.bucket + "/" + key }
func (b *blobBackend) join(prefix, n string) string { return strings.TrimPrefix(prefix+"/"+n, "/") }
func (b *blobBackend) rel(prefix, key string) string {
	return strings.TrimPrefix(key, b.dirPrefix(prefix))
}

func (b *blobBackend) dirPrefix(p string) string {
	if p == "" {
		return ""
	}
	return p + "/"
}

func (b *blobBackend) close() error {
	var errs []error
	for _, c := range b.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

func (b *blobBackend) kind(err error) error {
	if errors.Is(err, errChanged) {
		return errChanged
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return ErrNotExist
	case gcerrors.FailedPrecondition:
		return ErrExist
	}
	return nil
}

type blobReader struct{ *blob.Reader }

func (r blobReader) size() int64        { return r.Reader.Size() }
func (r blobReader) modTime() time.Time { return r.Reader.ModTime() }

func (b *blobBackend) newReader(ctx context.Context, key string, offset, length int64) (objectReader, error) {
	r, err := b.ops.NewRangeReader(ctx, key, offset, length, nil)
	if err != nil && offset > 0 && gcerrors.Code(err) != gcerrors.NotFound {
		// A range starting at or past the end is an error on GCS and S3
		// (416); a file read there gives io.EOF, and so does this reader.
		if a, serr := b.stat(ctx, key); serr == nil && offset >= a.Size {
			return emptyReader{objSize: a.Size, mod: a.ModTime}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return blobReader{r}, nil
}

// emptyReader is a range of an object that starts at or past its end.
type emptyReader struct {
	objSize int64
	mod     time.Time
}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyReader) Close() error             { return nil }
func (r emptyReader) size() int64            { return r.objSize }
func (r emptyReader) modTime() time.Time     { return r.mod }

func (b *blobBackend) stat(ctx context.Context, key string) (*Attributes, error) {
	a, err := b.ops.Attributes(ctx, key)
	if err != nil {
		return nil, err
	}
	out := &Attributes{Name: key, Size: a.Size, ModTime: a.ModTime, ContentType: a.ContentType, MD5: a.MD5, version: a.ETag}
	var ga storage.ObjectAttrs
	if a.As(&ga) {
		out.CRC32C, out.HasCRC32C = ga.CRC32C, true
		out.version = strconv.FormatInt(ga.Generation, 10)
	}
	return out, nil
}

type blobWriter struct {
	w      *blob.Writer
	cancel context.CancelFunc
	// check runs just before the upload is completed (mem:// version preconditions); unlock after.
	check   func() error
	unlock  func()
	ifMatch string
	// gcs is the GCS writer, whose attributes after Close give the
	// generation written (into *written).
	gcs     *storage.Writer
	written *string
}

func (b *blobBackend) newWriter(ctx context.Context, key string, o writeOptions) (objectWriter, error) {
	bucket := b.ops
	if o.stream {
		bucket = b.stream
	}
	opts := &blob.WriterOptions{ContentType: o.contentType, IfNotExist: o.ifNotExist}
	if o.contentType == "" {
		// No sniffing: an object's type should not depend on its first bytes.
		opts.ContentType = "application/octet-stream"
	}
	if b.sch == "gs" && !o.stream {
		// A whole object in memory goes in one request, retried by writeKey: without this the GCS
		// client allocates (and clears) a 16 MiB chunk buffer for every lease, journal or manifest.
		opts.BufferSize = -1
	}
	var hooks []func(as func(any) bool) error
	if o.stream && b.beforeStreamWrite != nil {
		hooks = append(hooks, b.beforeStreamWrite)
	}
	bw := &blobWriter{ifMatch: o.ifMatch, written: o.written}
	if o.ifMatch != "" {
		switch b.sch {
		case "gs":
			gen, err := strconv.ParseInt(o.ifMatch, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad GCS generation %q: %w", o.ifMatch, err)
			}
			hooks = append(hooks, func(as func(any) bool) error {
				var h **storage.ObjectHandle
				if !as(&h) {
					return errors.New("gcsblob gave no object handle for a conditional write")
				}
				*h = (*h).If(storage.Conditions{GenerationMatch: gen})
				return nil
			})
		case "s3":
			hooks = append(hooks, func(as func(any) bool) error {
				var in *transfermanager.UploadObjectInput
				if !as(&in) {
					return errors.New("s3blob gave no upload input for a conditional write")
				}
				in.IfMatch = aws.String(o.ifMatch)
				return nil
			})
		default:
			bw.check = func() error {
				b.mu.Lock()
				a, err := b.ops.Attributes(ctx, key)
				if gcerrors.Code(err) == gcerrors.NotFound || err == nil && a.ETag != o.ifMatch {
					err = errChanged
				}
				if err != nil {
					b.mu.Unlock()
				}
				return err
			}
			bw.unlock = b.mu.Unlock
		}
	}
	if b.sch == "gs" && o.written != nil {
		// Last: gcsblob makes the writer once the object handle is final.
		hooks = append(hooks, func(as func(any) bool) error {
			as(&bw.gcs)
			return nil
		})
	}
	if len(hooks) > 0 {
		opts.BeforeWrite = func(as func(any) bool) error {
			for _, h := range hooks {
				if err := h(as); err != nil {
					return err
				}
			}
			return nil
		}
	}
	ctx, bw.cancel = context.WithCancel(ctx)
	w, err := bucket.NewWriter(ctx, key, opts)
	if err != nil {
		bw.cancel()
		return nil, err
	}
	bw.w = w
	return bw, nil
}

func (w *blobWriter) Write(p []byte) (int, error) { return w.w.Write(p) }

func (w *blobWriter) abort() {
	w.cancel() // a cancelled context makes Close discard the upload
	w.w.Close()
}

func (w *blobWriter) commit() error {
	defer w.cancel()
	if w.check != nil {
		if err := w.check(); err != nil {
			w.abort()
			return err
		}
		defer w.unlock()
	}
	err := w.w.Close()
	if err != nil && w.ifMatch != "" && gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return fmt.Errorf("%w: %w", errChanged, err)
	}
	if err == nil && w.gcs != nil {
		if a := w.gcs.Attrs(); a != nil {
			*w.written = strconv.FormatInt(a.Generation, 10)
		}
	}
	return err
}

func (b *blobBackend) list(ctx context.Context, prefix string, recursive bool, token []byte) ([]Attributes, []byte, error) {
	opts := &blob.ListOptions{Prefix: prefix}
	if !recursive {
		opts.Delimiter = "/"
	}
	if token == nil {
		token = blob.FirstPageToken
	}
	objs, next, err := b.ops.ListPage(ctx, token, 1000, opts)
	if err != nil {
		return nil, nil, err
	}
	out := make([]Attributes, 0, len(objs))
	for _, o := range objs {
		a := Attributes{Name: o.Key, IsDir: o.IsDir, Size: o.Size, ModTime: o.ModTime, MD5: o.MD5}
		var ga storage.ObjectAttrs
		if !o.IsDir && o.As(&ga) {
			a.CRC32C, a.HasCRC32C = ga.CRC32C, true
			a.ContentType = ga.ContentType
		}
		out = append(out, a)
	}
	return out, next, nil
}

func (b *blobBackend) delete(ctx context.Context, key string) error {
	return b.ops.Delete(ctx, key)
}

func (b *blobBackend) deleteIfMatch(ctx context.Context, key, version string) error {
	if b.sch == "gs" {
		gen, err := strconv.ParseInt(version, 10, 64)
		if err != nil {
			return fmt.Errorf("bad GCS generation %q: %w", version, err)
		}
		err = b.ops.DeleteWithOptions(ctx, key, &blob.DeleteOptions{BeforeDelete: func(as func(any) bool) error {
			var h **storage.ObjectHandle
			if !as(&h) {
				return errors.New("gcsblob gave no object handle for a conditional delete")
			}
			// The precondition is what GCS checks; naming the generation as well makes emulators that
			// ignore preconditions on delete (fake-gcs-server) answer 404 for a replaced object.
			*h = (*h).Generation(gen).If(storage.Conditions{GenerationMatch: gen})
			return nil
		}})
		if c := gcerrors.Code(err); c == gcerrors.FailedPrecondition || c == gcerrors.NotFound {
			return fmt.Errorf("%w: %w", errChanged, err)
		}
		return err
	}
	// S3 has conditional deletes only on some stores; check then delete. The lease tolerates the gap: a
	// lease is only taken over once stale, and its holder deletes it only while it holds it.
	if b.mu != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
	}
	a, err := b.stat(ctx, key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%w: %w", errChanged, err)
	}
	if err != nil {
		return err
	}
	if a.version != version {
		return errChanged
	}
	return b.ops.Delete(ctx, key)
}

func (b *blobBackend) copy(ctx context.Context, dst, src string) error {
	return b.ops.Copy(ctx, dst, src, nil)
}

func (b *blobBackend) rename(ctx context.Context, dst, src string) error {
	return errors.New("buckets have no rename") // Dir.Rename copies and deletes
}

// openGCS opens gs://bucket. Query: anonymous=true.
func openGCS(ctx context.Context, u *url.URL) (backend, error) {
	var copts []option.ClientOption
	for k, v := range u.Query() {
		switch k {
		case "anonymous":
			anon, err := strconv.ParseBool(v[0])
			if err != nil {
				return nil, fmt.Errorf("invalid value for anonymous: %w", err)
			}
			if anon {
				copts = append(copts, option.WithoutAuthentication())
			}
		default:
			return nil, fmt.Errorf("unknown query parameter %q for gs://", k)
		}
	}
	// With STORAGE_EMULATOR_HOST set, NewClient talks to the emulator unauthenticated and looks up no
	// credentials.
	client, err := storage.NewClient(ctx, copts...)
	if err != nil {
		return nil, err
	}
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	bucket, err := gcsblob.OpenBucket(ctx, nil, u.Host, &gcsblob.Options{Client: client})
	if err != nil {
		client.Close()
		return nil, err
	}
	p := DefaultRetry
	streamRetry := func(as func(any) bool) error {
		var h **storage.ObjectHandle
		if as(&h) {
			*h = (*h).Retryer(
				storage.WithPolicy(storage.RetryAlways), // a whole-object upload is replayable by the SDK
				storage.WithMaxAttempts(p.MaxAttempts),
				storage.WithBackoff(gax.Backoff{Initial: p.InitialBackoff, Max: p.MaxBackoff, Multiplier: 2}))
		}
		return nil
	}
	return &blobBackend{sch: "gs", bucket: u.Host, ops: bucket, stream: bucket, beforeStreamWrite: streamRetry,
		closers: []func() error{bucket.Close, client.Close}}, nil
}

// openS3 opens s3://bucket with gocloud.dev's query parameters (see the package doc).
func openS3(ctx context.Context, u *url.URL) (backend, error) {
	q := u.Query()
	var s3opts []func(*s3.Options)
	for _, k := range []string{"use_path_style", "s3ForcePathStyle", "disable_https"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		q.Del(k)
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid value for %s: %w", k, err)
		}
		if k == "disable_https" {
			s3opts = append(s3opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = on })
		} else {
			s3opts = append(s3opts, func(o *s3.Options) { o.UsePathStyle = on })
		}
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if hc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		// The SDK keeps 10 idle connections per host; a worker with dozens of reads in flight would open
		// and close connections all the time. GCS's client keeps 100.
		cfg.HTTPClient = hc.WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = 100 })
	}
	p := DefaultRetry
	opsClient := s3.NewFromConfig(cfg, append(s3opts, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })...)
	streamClient := s3.NewFromConfig(cfg, append(s3opts, func(o *s3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = p.MaxAttempts
			so.MaxBackoff = p.MaxBackoff
		})
	})...)
	bopts := &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation}
	ops, err := s3blob.OpenBucket(ctx, opsClient, u.Host, bopts)
	if err != nil {
		return nil, err
	}
	stream, err := s3blob.OpenBucket(ctx, streamClient, u.Host, bopts)
	if err != nil {
		return nil, err
	}
	return &blobBackend{sch: "s3", bucket: u.Host, ops: ops, stream: stream, closers: []func() error{ops.Close, stream.Close}}, nil
}

var memStores = struct {
	sync.Mutex
	m map[string]*blobBackend
}{m: map[string]*blobBackend{}}

// openMem returns the process-wide in-memory store called u.Host, made on first use. Closing it does
// nothing: other Dirs may share it.
func openMem(u *url.URL) (backend, error) {
	if len(u.Query()) > 0 {
		return nil, errors.New("mem:// takes no query parameters")
	}
	memStores.Lock()
	defer memStores.Unlock()
	b := memStores.m[u.Host]
	if b == nil {
		bucket := memblob.OpenBucket(nil)
		b = &blobBackend{sch: "mem", bucket: u.Host, ops: bucket, stream: bucket, mu: new(sync.Mutex)}
		memStores.m[u.Host] = b
	}
	return b, nil
}

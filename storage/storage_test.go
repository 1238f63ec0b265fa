package storage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
)

// store is one scheme under test. proxy is nil for local disk and mem://, which have no network.
type store struct {
	name  string
	open  func(t *testing.T) *storage.Dir
	proxy *storagetest.Proxy
}

var memCount atomic.Int64

// stores returns the schemes of the behaviour table: local, mem, GCS emulator, S3 emulator (the emulators
// behind a fault-injecting proxy), each test getting a fresh, empty location.
func stores(t *testing.T) []store {
	t.Helper()
	gcs := storagetest.StartGCS(t, "bkt")
	gcsProxy := storagetest.NewProxy(t, gcs.Addr)
	s3 := storagetest.StartS3(t, "bkt")
	s3Proxy := storagetest.NewProxy(t, s3.Addr)
	var n atomic.Int64
	openAt := func(t *testing.T, loc string) *storage.Dir {
		d, err := storage.Open(context.Background(), loc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	return []store{
		{name: "local", open: func(t *testing.T) *storage.Dir { return openAt(t, t.TempDir()) }},
		{name: "mem", open: func(t *testing.T) *storage.Dir {
			return openAt(t, fmt.Sprintf("mem://test%d/pre", memCount.Add(1)))
		}},
		{name: "gcs", proxy: gcsProxy, open: func(t *testing.T) *storage.Dir {
			return openAt(t, gcs.Via(gcsProxy.Addr).Location(t, "bkt", fmt.Sprintf("t%d", n.Add(1))))
		}},
		{name: "s3", proxy: s3Proxy, open: func(t *testing.T) *storage.Dir {
			return openAt(t, s3.Via(s3Proxy.Addr).Location(t, "bkt", fmt.Sprintf("t%d", n.Add(1))))
		}},
	}
}

// fast retries keep the fault tests quick; the bounds are what is tested, not the waits.
var fast = storage.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxElapsed: 10 * time.Second}

func TestBehaviour(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		needProxy bool
		run       func(t *testing.T, d *storage.Dir, p *storagetest.Proxy)
	}{
		{"ReadWrite", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			data := []byte("hello, tfprep")
			if err := d.WriteFile(ctx, "sub/dir/a.txt", data, nil); err != nil {
				t.Fatal(err)
			}
			got, err := d.ReadFile(ctx, "sub/dir/a.txt")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadFile = %q, %v; want %q", got, err, data)
			}
			// The same object through a joined Dir.
			got, err = d.Join("sub", "dir").ReadFile(ctx, "a.txt")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Join().ReadFile = %q, %v; want %q", got, err, data)
			}
			r, err := d.NewRangeReader(ctx, "sub/dir/a.txt", 7, 6)
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(r)
			r.Close()
			if err != nil || string(got) != "tfprep" || r.Size() != int64(len(data)) {
				t.Fatalf("range read = %q, %v, size %d; want %q, size %d", got, err, r.Size(), "tfprep", len(data))
			}
			// A range from the end on, or past it, is empty, as in a file
			// (GCS and S3 answer 416 to such a request).
			for _, off := range []int64{int64(len(data)), int64(len(data)) + 5} {
				r, err := d.NewRangeReader(ctx, "sub/dir/a.txt", off, -1)
				if err != nil {
					t.Fatalf("range from %d: %v", off, err)
				}
				got, err = io.ReadAll(r)
				r.Close()
				if err != nil || len(got) != 0 || r.Size() != int64(len(data)) {
					t.Fatalf("range from %d = %q, %v, size %d; want nothing, size %d", off, got, err, r.Size(), len(data))
				}
			}
			a, err := d.Stat(ctx, "sub/dir/a.txt")
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != "sub/dir/a.txt" || a.Size != int64(len(data)) || a.ModTime.IsZero() {
				t.Errorf("Stat = %+v", a)
			}
			if a.HasCRC32C && a.CRC32C != crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)) {
				t.Errorf("CRC32C = %x, want %x", a.CRC32C, crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
			}
			if d.Scheme() == "gs" && !a.HasCRC32C {
				t.Errorf("GCS Stat has no CRC32C")
			}
			// Streaming write, replacing.
			w, err := d.NewWriter(ctx, "sub/dir/a.txt", &storage.WriterOptions{ContentType: "text/plain"})
			if err != nil {
				t.Fatal(err)
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 1<<14)
			if _, err := w.Write(big); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err = d.NewReader(ctx, "sub/dir/a.txt")
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(r)
			r.Close()
			if err != nil || !bytes.Equal(got, big) {
				t.Fatalf("after streaming write: %d bytes, %v; want %d bytes", len(got), err, len(big))
			}
		}},
		{"NotExistNamesObject", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			_, rerr := d.ReadFile(ctx, "missing/x.jpg")
			_, serr := d.Stat(ctx, "missing/x.jpg")
			_, oerr := d.NewReader(ctx, "missing/x.jpg")
			derr := d.Delete(ctx, "missing/x.jpg")
			cerr := d.Copy(ctx, "y.jpg", "missing/x.jpg")
			for _, err := range []error{rerr, serr, oerr, derr, cerr} {
				if !errors.Is(err, storage.ErrNotExist) || !errors.Is(err, os.ErrNotExist) {
					t.Errorf("got %v, want ErrNotExist", err)
				}
				if err != nil && !strings.Contains(err.Error(), d.URLOf("missing/x.jpg")) {
					t.Errorf("%q does not name %s", err, d.URLOf("missing/x.jpg"))
				}
			}
		}},
		{"InvalidNames", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			for _, name := range []string{"", ".", "../x", "/abs", "a//b", "a/"} {
				if err := d.WriteFile(ctx, name, nil, nil); err == nil {
					t.Errorf("WriteFile(%q) succeeded", name)
				}
			}
			if _, err := d.Join("..").ReadFile(ctx, "x"); err == nil {
				t.Errorf("Join(\"..\").ReadFile succeeded")
			}
		}},
		{"IfNotExist", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			opts := &storage.WriterOptions{IfNotExist: true}
			if err := d.WriteFile(ctx, "lock", []byte("first"), opts); err != nil {
				t.Fatal(err)
			}
			err := d.WriteFile(ctx, "lock", []byte("second"), opts)
			if !errors.Is(err, storage.ErrExist) || !strings.Contains(err.Error(), d.URLOf("lock")) {
				t.Errorf("second WriteFile: got %v, want ErrExist naming %s", err, d.URLOf("lock"))
			}
			w, err := d.NewWriter(ctx, "lock", opts)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("third"))
			if err := w.Close(); !errors.Is(err, storage.ErrExist) {
				t.Errorf("streaming IfNotExist: got %v, want ErrExist", err)
			}
			if got, _ := d.ReadFile(ctx, "lock"); string(got) != "first" {
				t.Errorf("content = %q, want %q", got, "first")
			}
		}},
		{"ListRecursive", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			for _, name := range []string{"a", "b-x", "b/c", "b/d/e", ".tfprep-tmp-1/train-00000"} {
				if err := d.WriteFile(ctx, name, []byte(name), nil); err != nil {
					t.Fatal(err)
				}
			}
			names := func(opts storage.ListOptions) []string {
				objs, err := d.ListAll(ctx, opts)
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, o := range objs {
					if o.IsDir != strings.HasSuffix(o.Name, "/") {
						t.Errorf("%q: IsDir %v", o.Name, o.IsDir)
					}
					out = append(out, o.Name)
				}
				return out
			}
			if diff := cmp.Diff([]string{".tfprep-tmp-1/train-00000", "a", "b-x", "b/c", "b/d/e"}, names(storage.ListOptions{Recursive: true})); diff != "" {
				t.Errorf("recursive (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{".tfprep-tmp-1/", "a", "b-x", "b/"}, names(storage.ListOptions{})); diff != "" {
				t.Errorf("one level (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"b/c", "b/d/"}, names(storage.ListOptions{Prefix: "b/"})); diff != "" {
				t.Errorf("one level of b/ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"b-x", "b/c", "b/d/e"}, names(storage.ListOptions{Prefix: "b", Recursive: true})); diff != "" {
				t.Errorf("recursive prefix b (-want +got):\n%s", diff)
			}
			if empty, err := d.Empty(ctx); empty || err != nil {
				t.Errorf("Empty = %v, %v; want false", empty, err)
			}
			if empty, err := d.Join("nothing").Empty(ctx); !empty || err != nil {
				t.Errorf("Join(nothing).Empty = %v, %v; want true", empty, err)
			}
			// The orphan case: only nested temporaries, nothing at the top level.
			if err := d.DeleteAll(ctx, "a", 0); err != nil {
				t.Fatal(err)
			}
			if err := d.DeleteAll(ctx, "b", 0); err != nil {
				t.Fatal(err)
			}
			if empty, err := d.Empty(ctx); empty || err != nil {
				t.Errorf("with only out/.tfprep-tmp-1/train-00000 left: Empty = %v, %v; want false", empty, err)
			}
			if err := d.DeleteAll(ctx, ".tfprep-tmp-1/", 0); err != nil {
				t.Fatal(err)
			}
			if got := names(storage.ListOptions{Recursive: true}); len(got) != 0 {
				t.Errorf("after DeleteAll: %q", got)
			}
			if d.IsLocal() {
				if _, err := os.Stat(filepath.Join(d.URL(), ".tfprep-tmp-1")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("local DeleteAll left the directory: %v", err)
				}
			}
		}},
		{"CopyRename", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			if err := d.WriteFile(ctx, "tmp/x", []byte("shard"), nil); err != nil {
				t.Fatal(err)
			}
			if err := d.Copy(ctx, "copy/y", "tmp/x"); err != nil {
				t.Fatal(err)
			}
			if err := d.Rename(ctx, "final/z", "tmp/x"); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"copy/y", "final/z"} {
				if got, err := d.ReadFile(ctx, name); err != nil || string(got) != "shard" {
					t.Errorf("%s = %q, %v", name, got, err)
				}
			}
			if _, err := d.Stat(ctx, "tmp/x"); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("source after Rename: %v, want ErrNotExist", err)
			}
			// Many at once, then again (already moved pairs are skipped).
			var pairs []storage.Pair
			for i := range 20 {
				src := fmt.Sprintf("tmp/s%02d", i)
				if err := d.WriteFile(ctx, src, []byte(src), nil); err != nil {
					t.Fatal(err)
				}
				pairs = append(pairs, storage.Pair{Src: src, Dst: fmt.Sprintf("out/d%02d", i)})
			}
			for range 2 {
				if err := d.RenameAll(ctx, pairs, 4); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range pairs {
				if got, err := d.ReadFile(ctx, p.Dst); err != nil || string(got) != p.Src {
					t.Errorf("%s = %q, %v; want %q", p.Dst, got, err, p.Src)
				}
			}
			if objs, _ := d.ListAll(ctx, storage.ListOptions{Prefix: "tmp/", Recursive: true}); len(objs) != 0 {
				t.Errorf("sources left: %v", objs)
			}
		}},
		{"RenameAllKeepsSourcesWhenACopyFails", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			pairs := []storage.Pair{{Src: "tmp/a", Dst: "a"}, {Src: "tmp/missing", Dst: "b"}, {Src: "tmp/c", Dst: "c"}}
			for _, name := range []string{"tmp/a", "tmp/c"} {
				if err := d.WriteFile(ctx, name, []byte(name), nil); err != nil {
					t.Fatal(err)
				}
			}
			err := d.RenameAll(ctx, pairs, 2)
			if !errors.Is(err, storage.ErrNotExist) || !strings.Contains(err.Error(), d.URLOf("tmp/missing")) {
				t.Fatalf("got %v, want ErrNotExist naming tmp/missing", err)
			}
			if d.IsLocal() {
				return // os.Rename moves each pair at once: nothing is copied, nothing can be lost
			}
			for _, name := range []string{"tmp/a", "tmp/c"} {
				if _, err := d.Stat(ctx, name); err != nil {
					t.Errorf("source %s deleted although a copy failed: %v", name, err)
				}
			}
		}},
		{"AbortLeavesNothing", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			w, err := d.NewWriter(ctx, "x/aborted", nil)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("partial"))
			w.Abort()
			objs, err := d.ListAll(ctx, storage.ListOptions{Recursive: true})
			if err != nil || len(objs) != 0 {
				t.Errorf("after Abort: %v, %v; want nothing", objs, err)
			}
		}},
		{"LeaseContention", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			const n = 6
			var wg sync.WaitGroup
			leases := make([]*storage.Lease, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					leases[i], errs[i] = d.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder(fmt.Sprintf("run%d", i)), time.Hour)
				}()
			}
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil:
					if winner >= 0 {
						t.Fatalf("runs %d and %d both hold the lease", winner, i)
					}
					winner = i
				case !errors.Is(err, storage.ErrLeaseHeld):
					t.Fatalf("run %d: %v, want ErrLeaseHeld", i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("nobody got the lease: %v", errs)
			}
			var held *storage.LeaseHeldError
			for i, err := range errs {
				if i != winner && (!errors.As(err, &held) || held.Holder.RunID != fmt.Sprintf("run%d", winner) ||
					!strings.Contains(err.Error(), d.URLOf(".tfprep-lock"))) {
					t.Errorf("run %d: %v, want the holder run%d and the lock's URL", i, err, winner)
				}
			}
			l := leases[winner]
			if err := l.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := d.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder("late"), time.Hour); !errors.Is(err, storage.ErrLeaseHeld) {
				t.Errorf("after Refresh: %v, want ErrLeaseHeld", err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			l2, err := d.AcquireLease(ctx, ".tfprep-lock", storage.CurrentHolder("next"), time.Hour)
			if err != nil || l2.Replaced != nil {
				t.Fatalf("after Release: %v (replaced %v), want a fresh lease", err, l2)
			}
		}},
		{"StaleLease", false, func(t *testing.T, d *storage.Dir, _ *storagetest.Proxy) {
			// A holder on another host that has not refreshed for an hour.
			old := storage.Holder{Host: "elsewhere", PID: 1, RunID: "gone", Created: time.Now().Add(-2 * time.Hour), Updated: time.Now().Add(-time.Hour)}
			data, _ := json.Marshal(old)
			if err := d.WriteFile(ctx, "lock", data, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := d.AcquireLease(ctx, "lock", storage.CurrentHolder("new"), 2*time.Hour); !errors.Is(err, storage.ErrLeaseHeld) {
				t.Fatalf("refreshed an hour ago, ttl 2h: %v, want ErrLeaseHeld", err)
			}
			l, err := d.AcquireLease(ctx, "lock", storage.CurrentHolder("new"), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if l.Replaced == nil || l.Replaced.RunID != "gone" {
				t.Errorf("Replaced = %+v, want run gone", l.Replaced)
			}
			// A holder on this host whose process is dead is stale at once.
			host, _ := os.Hostname()
			if !(storage.Holder{Host: host, PID: deadPID(t), Updated: time.Now()}).Stale(time.Now(), time.Hour) {
				t.Errorf("holder with a dead pid on this host is not stale")
			}
			if (storage.Holder{Host: host, PID: os.Getpid(), Updated: time.Now()}).Stale(time.Now(), time.Hour) {
				t.Errorf("holder with a live pid on this host is stale")
			}
			// A dead holder's lease is taken over; the dead holder, if it came back, has lost it.
			dead := storage.Holder{Host: host, PID: deadPID(t), RunID: "crashed"}
			crashed, err := d.AcquireLease(ctx, "lock2", dead, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			l2, err := d.AcquireLease(ctx, "lock2", storage.CurrentHolder("after-crash"), time.Hour)
			if err != nil || l2.Replaced == nil || l2.Replaced.RunID != "crashed" {
				t.Fatalf("taking over a dead pid's lease: %v, %+v", err, l2)
			}
			if err := crashed.Refresh(ctx); !errors.Is(err, storage.ErrLeaseLost) {
				t.Errorf("Refresh of the replaced lease: %v, want ErrLeaseLost", err)
			}
			if err := crashed.Release(ctx); !errors.Is(err, storage.ErrLeaseLost) {
				t.Errorf("Release of the replaced lease: %v, want ErrLeaseLost", err)
			}
			if got, _ := d.ReadFile(ctx, "lock2"); !strings.Contains(string(got), "after-crash") {
				t.Errorf("lock2 = %s, want the new holder", got)
			}
		}},
		{"RetryOne503OnCopyAndRead", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			d = d.WithRetry(fast)
			if err := d.WriteFile(ctx, "src", []byte("data"), nil); err != nil {
				t.Fatal(err)
			}
			p.FailNext(1, http.StatusServiceUnavailable, copyRequest(d.Scheme()))
			if err := d.Copy(ctx, "dst", "src"); err != nil {
				t.Fatalf("Copy with one 503: %v", err)
			}
			p.FailNext(1, http.StatusServiceUnavailable, storagetest.Method("GET"))
			if got, err := d.ReadFile(ctx, "dst"); err != nil || string(got) != "data" {
				t.Fatalf("ReadFile with one 503: %q, %v", got, err)
			}
			if p.Pending() != 0 {
				t.Errorf("%d injections not consumed: the requests were not matched", p.Pending())
			}
		}},
		{"RetryOne503OnAnUploadChunk", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			// A shard-sized upload goes in chunks (GCS resumable upload, S3 multipart); a 503 on
			// one chunk is retried and the object is whole.
			d = d.WithRetry(fast)
			data := make([]byte, 40<<20)
			for i := range data {
				data[i] = byte(i * 7 / 3)
			}
			p.FailNext(1, http.StatusServiceUnavailable, uploadChunk)
			w, err := d.NewWriter(ctx, "chunked", nil)
			if err != nil {
				t.Fatal(err)
			}
			for rest := data; len(rest) > 0; rest = rest[min(len(rest), 1<<20):] {
				if _, err := w.Write(rest[:min(len(rest), 1<<20)]); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("upload with one 503 on a chunk: %v", err)
			}
			if p.Pending() != 0 {
				t.Errorf("the 503 was not injected: the upload went in one request or around the proxy")
			}
			if got, err := d.ReadFile(ctx, "chunked"); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back: %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
		}},
		{"UploadFailureSurfaces", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			// A chunk of an upload refused for good is the error of a later Write or of Close,
			// nothing appears, and a discarded upload leaves nothing.
			d = d.WithRetry(fast)
			p.FailNext(1000, http.StatusForbidden, uploadChunk)
			defer p.Clear()
			block := bytes.Repeat([]byte{7}, 1<<20)
			w, err := d.NewWriter(ctx, "refused", nil)
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for range 40 {
				if _, werr = w.Write(block); werr != nil {
					break
				}
			}
			if cerr := w.Close(); cerr == nil || werr == nil && !strings.Contains(cerr.Error(), "refused") {
				t.Errorf("Close of a refused upload: %v (last Write: %v), want an error naming the object", cerr, werr)
			}
			if _, err := d.Stat(ctx, "refused"); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat after a refused upload: %v, want ErrNotExist", err)
			}
			p.Clear()
			w, err = d.NewWriter(ctx, "discarded", nil)
			if err != nil {
				t.Fatal(err)
			}
			for range 20 {
				if _, err := w.Write(block); err != nil {
					t.Fatal(err)
				}
			}
			w.Abort()
			if _, err := d.Stat(ctx, "discarded"); !errors.Is(err, storage.ErrNotExist) {
				t.Errorf("Stat after Abort: %v, want ErrNotExist", err)
			}
		}},
		{"ResumeReadAfterReset", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			d = d.WithRetry(fast)
			data := bytes.Repeat([]byte("abcdefgh"), 32<<10)
			if err := d.WriteFile(ctx, "big", data, nil); err != nil {
				t.Fatal(err)
			}
			p.CutNext(1, 1000, storagetest.Method("GET")) // the connection drops after 1000 bytes
			r, err := d.NewReader(ctx, "big")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read across a reset: %d bytes, %v; want %d bytes", len(got), err, len(data))
			}
			if p.Pending() != 0 {
				t.Errorf("the cut was not injected")
			}
		}},
		{"NoRetryOfPermanentErrors", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			d = d.WithRetry(fast)
			if err := d.WriteFile(ctx, "x", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			p.FailNext(1, http.StatusForbidden, storagetest.Method("GET"))
			before := p.Requests()
			if _, err := d.ReadFile(ctx, "x"); err == nil || !strings.Contains(err.Error(), d.URLOf("x")) {
				t.Fatalf("403: got %v, want an error naming %s", err, d.URLOf("x"))
			}
			if n := p.Requests() - before; n != 1 {
				t.Errorf("a 403 was tried %d times, want 1", n)
			}
		}},
		{"BackoffBounded", true, func(t *testing.T, d *storage.Dir, p *storagetest.Proxy) {
			d = d.WithRetry(fast)
			if err := d.WriteFile(ctx, "x", []byte("x"), nil); err != nil {
				t.Fatal(err)
			}
			p.FailNext(100, http.StatusServiceUnavailable, storagetest.Method("GET"))
			defer p.Clear()
			before := p.Requests()
			_, err := d.ReadFile(ctx, "x")
			if !storage.IsTransient(err) || !strings.Contains(err.Error(), d.URLOf("x")) {
				t.Fatalf("got %v, want a transient error naming %s", err, d.URLOf("x"))
			}
			if n := p.Requests() - before; n != int64(fast.MaxAttempts) {
				t.Errorf("%d attempts, want MaxAttempts = %d", n, fast.MaxAttempts)
			}
		}},
	}
	for _, s := range stores(t) {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				if c.needProxy && s.proxy == nil {
					t.Skipf("%s has no network to fault", s.name)
				}
				c.run(t, s.open(t), s.proxy)
			})
		}
	}
}

// copyRequest matches a server-side copy: GCS rewriteTo/copyTo, S3 a PUT with x-amz-copy-source.
func copyRequest(scheme string) storagetest.Matcher {
	if scheme == "gs" {
		return func(r *http.Request) bool {
			return strings.Contains(r.URL.Path, "/rewriteTo/") || strings.Contains(r.URL.Path, "/copyTo/")
		}
	}
	return func(r *http.Request) bool { return r.Method == "PUT" && r.Header.Get("X-Amz-Copy-Source") != "" }
}

// uploadChunk matches the requests that carry a chunk of an upload begun earlier: a GCS resumable upload's
// (upload_id) or an S3 multipart upload's part (uploadId).
func uploadChunk(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("upload_id") || q.Has("uploadId")
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestLocalIsPlainOS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := storage.Open(ctx, "file://"+dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.NewWriter(ctx, "a/shard", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("x"))
	// While writing: a temporary beside the target, in the same directory, and no target yet.
	entries, _ := os.ReadDir(filepath.Join(dir, "a"))
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".shard.tmp-") {
		t.Errorf("while writing, a/ holds %v; want one .shard.tmp-*", entries)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// After: exactly the file, no sidecar, no temporary.
	entries, _ = os.ReadDir(filepath.Join(dir, "a"))
	if len(entries) != 1 || entries[0].Name() != "shard" {
		t.Errorf("after Close, a/ holds %v; want shard alone", entries)
	}
	// Rename is os.Rename: the same file, not a copy.
	before, _ := os.Stat(filepath.Join(dir, "a", "shard"))
	if err := d.Rename(ctx, "b/c/shard", "a/shard"); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(filepath.Join(dir, "b", "c", "shard"))
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("Rename did not move the same file: %v", err)
	}
	if d.URLOf("b/c/shard") != filepath.Join(dir, "b", "c", "shard") {
		t.Errorf("URLOf = %q, want the OS path", d.URLOf("b/c/shard"))
	}
}

// TestNoMetadataServer points the Google and AWS metadata endpoints at a recorder and checks that using
// the emulators never reaches it, so tests cannot hang on credential lookups.
func TestNoMetadataServer(t *testing.T) {
	var hits atomic.Int64
	rec := storagetestServer(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.WriteHeader(http.StatusNotFound) })
	gcs := storagetest.StartGCS(t, "bkt")
	s3 := storagetest.StartS3(t, "bkt")
	for _, loc := range []string{gcs.Location(t, "bkt", "p"), s3.Location(t, "bkt", "p")} {
		t.Setenv("GCE_METADATA_HOST", rec)
		t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+rec)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		d, err := storage.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WriteFile(ctx, "x", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		if _, err := d.ReadFile(ctx, "x"); err != nil {
			t.Fatal(err)
		}
		d.Close()
		cancel()
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests reached the metadata server", n)
	}
}

func TestRetryPolicyBounds(t *testing.T) {
	gcs := storagetest.StartGCS(t, "bkt")
	p := storagetest.NewProxy(t, gcs.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d, err := storage.Open(ctx, gcs.Via(p.Addr).Location(t, "bkt", "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteFile(ctx, "x", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	defer p.Clear()

	// MaxElapsed bounds the time: at 1ns no retry may start, whatever MaxAttempts says.
	p.FailNext(100, http.StatusServiceUnavailable, storagetest.Method("GET"))
	before := p.Requests()
	_, err = d.WithRetry(storage.RetryPolicy{MaxAttempts: 100, InitialBackoff: time.Millisecond, MaxElapsed: time.Nanosecond}).ReadFile(ctx, "x")
	if !storage.IsTransient(err) {
		t.Fatalf("got %v, want the 503", err)
	}
	if n := p.Requests() - before; n != 1 {
		t.Errorf("MaxElapsed 1ns: %d attempts, want 1", n)
	}
	p.Clear()

	// The context bounds the waits: cancelled during the first attempt, the hour-long backoff is not
	// waited (if it were, this test would time out).
	p.FailNext(100, http.StatusServiceUnavailable, func(r *http.Request) bool {
		if r.Method != "GET" {
			return false
		}
		cancel()
		return true
	})
	before = p.Requests()
	hour := storage.RetryPolicy{MaxAttempts: 100, InitialBackoff: time.Hour, MaxBackoff: time.Hour}
	if _, err := d.WithRetry(hour).ReadFile(ctx, "x"); err == nil {
		t.Fatal("read succeeded through a 503 and a cancelled context")
	}
	if n := p.Requests() - before; n != 1 {
		t.Errorf("after cancellation: %d attempts, want 1", n)
	}

	for _, c := range []struct {
		err  error
		want bool
	}{
		{&storage.Error{Op: "read", URL: "x", Err: context.Canceled}, false},
		{os.ErrNotExist, false},
		{fmt.Errorf("wrapped: %w", io.ErrUnexpectedEOF), true},
	} {
		if got := storage.IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func storagetestServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestJoinPath(t *testing.T) {
	tests := []struct{ root, rel, want string }{
		{"gs://b/out", "train-00000-of-00001.tfrecord", "gs://b/out/train-00000-of-00001.tfrecord"},
		{"gs://b/out/", "a/b", "gs://b/out/a/b"},
		{"s3://b/out?endpoint=http://127.0.0.1:9000&use_path_style=true", "x.idx", "s3://b/out/x.idx"},
		{"out/dir", "a/b", filepath.Join("out", "dir", "a", "b")},
	}
	for _, tt := range tests {
		if got := storage.JoinPath(tt.root, tt.rel); got != tt.want {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tt.root, tt.rel, got, tt.want)
		}
	}
}

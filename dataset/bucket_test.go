package dataset

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfprep/tfprep/internal/storagetest"
	objstore "github.com/tfprep/tfprep/storage"
	"github.com/tfprep/tfprep/tfrecord"
)

// TestBuckets writes writeSample's dataset to the GCS and the S3 emulator,
// reading its images from the same bucket, and checks that Open, Verify and
// Stats work there and that every file is byte for byte the local one.
func TestBuckets(t *testing.T) {
	ctx := context.Background()
	local, _ := writeSample(t, tfrecord.None, true)
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (out, images string)
	}{
		{"gs", func(t *testing.T) (string, string) {
			g := storagetest.StartGCS(t, "bucket")
			return g.Location(t, "bucket", "data/out"), g.Location(t, "bucket", "data/images")
		}},
		{"s3", func(t *testing.T) (string, string) {
			s := storagetest.StartS3(t, "bucket")
			return s.Location(t, "bucket", "data/out"), s.Location(t, "bucket", "data/images")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, images := tc.start(t)
			img, err := objstore.Open(ctx, images)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			for i := range 7 {
				if err := img.WriteFile(ctx, fmt.Sprintf("chip_%d.jpg", i), chipJPEG(i), nil); err != nil {
					t.Fatal(err)
				}
			}
			m := writeSampleAt(t, out, images, nil, tfrecord.None, true)
			if len(m.Splits) != 2 || m.Splits[0].Records != 4 {
				t.Fatalf("manifest splits %+v, want train with 4 records", m.Splits)
			}

			d, err := Open(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Verify(ctx, out, true)
			if err != nil {
				t.Fatal(err)
			}
			if !r.OK || !r.Complete || r.Records != 6 || r.Shards != 4 {
				t.Errorf("verify: got %+v, want ok and complete with 6 records in 4 shards", r)
			}
			st, err := Stats(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if st.Splits[0].Records != 4 || st.Splits[1].Records != 2 {
				t.Errorf("stats: got %d and %d records, want 4 and 2", st.Splits[0].Records, st.Splits[1].Records)
			}
			if _, err := Create(ctx, out, false); err == nil {
				t.Error("Create on a finished bucket dataset without overwrite: got no error")
			}

			dir, err := objstore.Open(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			defer dir.Close()
			entries, err := os.ReadDir(local)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				want, err := os.ReadFile(filepath.Join(local, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				got, err := dir.ReadFile(ctx, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				switch e.Name() {
				case ManifestName:
					continue // names its own location
				case ErrorsName: // names the missing image by its full path
					want := joinPath(images, "missing.jpg")
					if !bytes.Contains(got, []byte(want)) {
						t.Errorf("errors.csv does not name %s:\n%s", want, got)
					}
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the local conversion", e.Name())
				}
			}
			all, err := dir.ListAll(ctx, objstore.ListOptions{Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(entries) {
				t.Errorf("bucket holds %d objects, local %d: %v", len(all), len(entries), all)
			}
		})
	}
}

// TestCommitTransientErrors overwrites a dataset on each emulator behind a
// proxy that answers some of the commit's copies, writes and deletes with
// 503 once or twice: the commit retries them and completes, and the new
// dataset verifies with nothing left behind.
func TestCommitTransientErrors(t *testing.T) {
	ctx := context.Background()
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			var (
				p    *storagetest.Proxy
				dir  string
				copy storagetest.Matcher
			)
			if scheme == "gs" {
				g := storagetest.StartGCS(t, "bucket")
				p = storagetest.NewProxy(t, g.Addr)
				dir = g.Via(p.Addr).Location(t, "bucket", "transient/out")
				copy = func(r *http.Request) bool {
					return strings.Contains(r.URL.Path, "/rewriteTo/") || strings.Contains(r.URL.Path, "/copyTo/")
				}
			} else {
				s := storagetest.StartS3(t, "bucket")
				p = storagetest.NewProxy(t, s.Addr)
				dir = s.Via(p.Addr).Location(t, "bucket", "transient/out")
				copy = func(r *http.Request) bool { return r.Method == "PUT" && r.Header.Get("X-Amz-Copy-Source") != "" }
			}
			if _, err := sampleAssembly(t, dir, tfrecord.None, true, false, 2).Commit(ctx); err != nil {
				t.Fatal(err)
			}
			a := sampleAssembly(t, dir, tfrecord.None, true, true, 3)
			p.FailNext(3, http.StatusServiceUnavailable, copy)
			p.FailNext(2, http.StatusServiceUnavailable, storagetest.Method("DELETE"))
			p.FailNext(1, http.StatusInternalServerError, storagetest.PathContains(ManifestName))
			if _, err := a.Commit(ctx); err != nil {
				t.Fatalf("commit with transient errors: %v", err)
			}
			if p.Pending() != 0 {
				t.Errorf("%d injected faults were not met: the matchers miss the commit's requests", p.Pending())
			}
			verifyClean(t, dir, 3)
		})
	}
}

// TestVerifyChecksumsGCS checks that VerifyChecksums compares a GCS shard's
// stored CRC-32C without reading it (every read of a shard's bytes fails
// through the proxy, and Verify, which reads them, reports it), and that a
// replaced object of the same size is caught.
func TestVerifyChecksumsGCS(t *testing.T) {
	ctx := context.Background()
	local, _ := writeSample(t, tfrecord.None, false)
	g := storagetest.StartGCS(t, "bucket")
	p := storagetest.NewProxy(t, g.Addr)
	out := g.Via(p.Addr).Location(t, "bucket", "out")
	dir, err := objstore.Open(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	eachFile(t, local, func(name string, data []byte) error { return dir.WriteFile(ctx, name, data, nil) })
	// A download of a shard's bytes: a GET naming the shard that is not a
	// metadata request of the JSON API.
	shardRead := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, ".tfrecord") &&
			(r.URL.Query().Get("alt") == "media" || !strings.Contains(r.URL.Path, "/storage/v1/"))
	}
	p.FailNext(1000, http.StatusForbidden, shardRead)
	r, err := VerifyChecksums(ctx, out, true)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Shards != 4 || r.Records != 6 {
		t.Errorf("VerifyChecksums: got %+v, want ok with 4 shards of 6 records, no shard read", r)
	}
	if r, err := Verify(ctx, out, false); err != nil || r.OK {
		t.Errorf("Verify with every shard read failing: got %+v, %v; want a discrepancy", r, err)
	}
	p.Clear()

	name := "train-00000-of-00002.tfrecord"
	data, err := os.ReadFile(filepath.Join(local, name))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := dir.WriteFile(ctx, name, data, nil); err != nil {
		t.Fatal(err)
	}
	r, err = VerifyChecksums(ctx, out, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || len(r.Discrepancies) != 1 || r.Discrepancies[0].File != name || r.Discrepancies[0].Check != "crc32c" {
		t.Errorf("got %v, want one crc32c discrepancy in %s", r.Discrepancies, name)
	}
}

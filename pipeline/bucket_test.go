package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfprep/tfprep/dataset"
	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
)

// openDir opens the storage directory loc, closed when the test ends.
func openDir(t testing.TB, loc string) *storage.Dir {
	t.Helper()
	d, err := storage.Open(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// upload copies the files of the local directory src (not recursive) under
// name in loc.
func upload(t testing.TB, loc, name, src string) {
	t.Helper()
	ctx := context.Background()
	d := openDir(t, loc)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.WriteFile(ctx, strings.TrimPrefix(name+"/"+e.Name(), "./"), data, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// bucketLocation returns a function that starts the emulator of scheme and
// returns the location of prefix in its bucket "bucket".
func startBucket(t *testing.T, scheme string) func(prefix string) string {
	switch scheme {
	case "gs":
		g := storagetest.StartGCS(t, "bucket")
		return func(prefix string) string { return g.Location(t, "bucket", prefix) }
	default:
		s := storagetest.StartS3(t, "bucket")
		return func(prefix string) string { return s.Location(t, "bucket", prefix) }
	}
}

// TestConvertBuckets converts testdata from the GCS emulator to it, and
// from the S3 emulator (an S3-compatible store: custom endpoint, path-style
// addressing) to it, and checks that the shards and errors.csv are byte for
// byte those of a local conversion.
func TestConvertBuckets(t *testing.T) {
	ctx := context.Background()
	local := testConfig(t, "bad.csv")
	if _, err := Convert(ctx, local); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(local.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			loc := startBucket(t, scheme)
			in := loc("in")
			upload(t, in, "images", local.Images)
			upload(t, in, ".", "testdata")
			cfg := local
			cfg.CSV = []string{storagetest.Join(in, "bad.csv")}
			cfg.Images = storagetest.Join(in, "images")
			cfg.Out = loc("out")
			m, err := Convert(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if m == nil || m.Rows.Written == 0 {
				t.Fatalf("manifest %+v, want rows written", m)
			}
			out := openDir(t, cfg.Out)
			all, err := out.ListAll(ctx, storage.ListOptions{Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(entries) {
				t.Errorf("bucket holds %d objects, want the %d of the local conversion: %v", len(all), len(entries), all)
			}
			for _, e := range entries {
				if e.Name() == dataset.ManifestName || e.Name() == dataset.ErrorsName {
					continue // they name the inputs by their location
				}
				want, err := os.ReadFile(filepath.Join(local.Out, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				got, err := out.ReadFile(ctx, e.Name())
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the local conversion", e.Name())
				}
			}
			r, err := dataset.Verify(ctx, cfg.Out, true)
			if err != nil || !r.OK {
				t.Errorf("verify: %+v, %v", r, err)
			}
		})
	}
}

// TestPreflightBuckets checks that a missing CSV object and an images prefix
// with nothing under it fail before the job starts, naming themselves.
func TestPreflightBuckets(t *testing.T) {
	ctx := context.Background()
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			loc := startBucket(t, scheme)
			in := loc("in")
			upload(t, in, "images", filepath.Join("testdata", "images"))
			upload(t, in, ".", "testdata")

			cfg := testConfig(t, "good.csv")
			cfg.CSV = []string{storagetest.Join(in, "missing.csv")}
			cfg.Images = storagetest.Join(in, "images")
			_, err := Convert(ctx, cfg)
			if missing, _, _ := strings.Cut(cfg.CSV[0], "?"); !errors.Is(err, storage.ErrNotExist) || !strings.Contains(err.Error(), missing) {
				t.Errorf("missing CSV: got %v, want ErrNotExist naming %s", err, missing)
			}

			cfg.CSV = []string{storagetest.Join(in, "good.csv")}
			cfg.Images = storagetest.Join(in, "imgs")
			_, err = Convert(ctx, cfg)
			if imgs, _, _ := strings.Cut(cfg.Images, "?"); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), imgs) {
				t.Errorf("empty images prefix: got %v, want ErrConfig naming %s", err, imgs)
			}
			d := openDir(t, cfg.Out)
			if empty, err := d.Empty(ctx); err != nil || !empty {
				t.Errorf("a failed pre-flight wrote to --out %s (empty %v, %v)", cfg.Out, empty, err)
			}
		})
	}
}

// BenchmarkConvertLatency converts 400, 1,000 and 2,000 Planet-like chips
// from the GCS emulator to it, with the default flags, behind a proxy adding
// 0 or 50 ms to every request: the reads in flight must hide the latency.
// images/s is the whole conversion's rate; phase-images/s the rate from the
// first image read to the commit's first request (the shards written: the
// journal, or a large errors.csv staged before it). The
// rounds metric counts the requests waited for one after another outside
// the image phase (pre-flight, lease, commit), each paying the latency once.
//
//	go test ./pipeline -run '^$' -bench ConvertLatency -benchtime 3x
func BenchmarkConvertLatency(b *testing.B) {
	for _, n := range []int{400, 1000, 2000} {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) { benchmarkConvertLatency(b, n) })
	}
}

// commitStarts matches the first request of a commit: its journal, or a
// staged errors.csv (too large for the journal).
func commitStarts(r *http.Request) bool {
	return storagetest.PathContains(dataset.JournalName)(r) || storagetest.PathContains(dataset.ErrorsName)(r)
}

func benchmarkConvertLatency(b *testing.B, n int) {
	csvPath, images := datasetOf(b, n, nil)
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		b.Run(fmt.Sprintf("latency=%v", latency), func(b *testing.B) {
			g := storagetest.StartGCS(b, "bucket")
			in := g.Location(b, "bucket", "in")
			upload(b, in, "images", images)
			upload(b, in, "csv", filepath.Dir(csvPath))
			p := storagetest.NewProxy(b, g.Addr)
			gp := g.Via(p.Addr)
			gp.Location(b, "bucket", "in") // routes the clients through the proxy
			p.SetLatency(latency)
			i, rounds := 0, 0
			var phase time.Duration
			for b.Loop() {
				cfg := benchConfig(b, in+"/csv/"+filepath.Base(csvPath), in+"/images")
				cfg.Out = fmt.Sprintf("gs://bucket/out%d", i)
				i++
				p.Record()
				m, err := Convert(context.Background(), cfg)
				images := storagetest.PathContains("%2Fbench_") // the image reads
				rounds = storagetest.Rounds(p.Log(), images)
				phase += storagetest.Span(p.Log(), images, commitStarts)
				if err != nil {
					b.Fatal(err)
				}
				if m.Rows.Written != int64(n) {
					b.Fatalf("wrote %d, want %d", m.Rows.Written, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(n*b.N)/phase.Seconds(), "phase-images/s")
			b.ReportMetric(float64(p.PeakInFlight()), "peak-requests")
			b.ReportMetric(float64(rounds), "rounds")
		})
	}
}

// TestConvertBucketOverwriteKeepsOld: an --overwrite into a bucket that
// --max-errors refuses leaves the earlier dataset whole, its errors beside it
// as errors.failed.csv, and nothing else of the failed run.
func TestConvertBucketOverwriteKeepsOld(t *testing.T) {
	ctx := context.Background()
	for _, scheme := range []string{"gs", "s3"} {
		t.Run(scheme, func(t *testing.T) {
			loc := startBucket(t, scheme)
			cfg := testConfig(t, "good.csv")
			cfg.Out = loc("out")
			if _, err := Convert(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			bad := testConfig(t, "bad.csv")
			bad.Out, bad.Overwrite, bad.Shards = cfg.Out, true, 3
			bad.MaxErrors = ErrorLimit{Set: true, Count: 0}
			if _, err := Convert(ctx, bad); !errors.Is(err, ErrTooManyRejected) {
				t.Fatalf("got %v, want ErrTooManyRejected", err)
			}
			verifyOnly(t, cfg.Out, 2)
			d := openDir(t, cfg.Out)
			all, err := d.ListAll(ctx, storage.ListOptions{Recursive: true})
			if err != nil {
				t.Fatal(err)
			}
			failed := false
			for _, a := range all {
				failed = failed || a.Name == dataset.FailedErrorsName
				if strings.HasPrefix(a.Name, ".tfprep-") || strings.Contains(a.Name, "-of-00003") {
					t.Errorf("left behind by the failed run: %s", a.Name)
				}
			}
			if !failed {
				t.Errorf("no %s among %v", dataset.FailedErrorsName, all)
			}
		})
	}
}

// TestConvertFinishesCommitAfterJobFails: a job whose Finalize fails after
// the commit point (every copy of one shard refused, 403, not retried) is
// finished by the launcher's Abort, and Convert reports the dataset it then
// holds instead of the job's failure.
func TestConvertFinishesCommitAfterJobFails(t *testing.T) {
	ctx := context.Background()
	g := storagetest.StartGCS(t, "bucket")
	p := storagetest.NewProxy(t, g.Addr)
	cfg := testConfig(t, "good.csv")
	cfg.Out = g.Via(p.Addr).Location(t, "bucket", "out")
	p.FailNext(4, http.StatusForbidden, storagetest.All(storagetest.PathContains("rewriteTo"), storagetest.PathContains("train-00000")))
	m, err := Convert(ctx, cfg)
	if err != nil {
		t.Fatalf("Convert whose commit the launcher finished: %v", err)
	}
	if p.Pending() != 0 {
		t.Fatalf("%d refused copies left: the commit never met them", p.Pending())
	}
	if m == nil || m.Rows.Written == 0 {
		t.Fatalf("manifest %+v", m)
	}
	verifyOnly(t, cfg.Out, 2)
}

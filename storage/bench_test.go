package storage_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tfprep/tfprep/internal/storagetest"
	"github.com/tfprep/tfprep/storage"
)

// BenchmarkReadSmallObjects reads 64 objects of 16 KiB through the fault proxy at 0 and 50 ms per request,
// one at a time and with 8, 32 and 64 reads in flight, from the GCS and S3 emulators. It shows how many
// reads a worker needs in flight to hide the latency of a bucket (objects/s; compare each to its 0 ms run).
//
//	go test -run '^$' -bench ReadSmallObjects -benchtime 3x ./storage
func BenchmarkReadSmallObjects(b *testing.B) {
	const objects, size = 64, 16 << 10
	ctx := context.Background()
	for _, store := range benchStores(b) {
		d := store.dir
		names := make([]string, objects)
		data := make([]byte, size)
		for i := range names {
			names[i] = fmt.Sprintf("img/%05d.jpg", i)
			if err := d.WriteFile(ctx, names[i], data, nil); err != nil {
				b.Fatal(err)
			}
		}
		for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
			for _, inFlight := range []int{1, 8, 32, 64} {
				b.Run(fmt.Sprintf("%s/latency=%v/inflight=%d", store.name, latency, inFlight), func(b *testing.B) {
					store.proxy.SetLatency(latency)
					defer store.proxy.SetLatency(0)
					b.SetBytes(objects * size)
					start := time.Now()
					for b.Loop() {
						if err := readAll(ctx, d, names, inFlight); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*objects)/time.Since(start).Seconds(), "objects/s")
				})
			}
		}
		d.Close()
	}
}

// readAll reads every name with at most inFlight reads at a time.
func readAll(ctx context.Context, d *storage.Dir, names []string, inFlight int) error {
	sem := make(chan struct{}, inFlight)
	errs := make(chan error, len(names))
	for _, name := range names {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := d.ReadFile(ctx, name)
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkUploadPaced writes a 64 MiB object as a shard writer does, in 200 KB records produced at 64 MB/s (a
// second of decoding), to the GCS and S3 emulators behind the proxy at 0 and 50 ms per request. It shows
// whether the upload's chunks (16 MiB on GCS, parts on S3) stop the writer: ns/op minus close-ms is the time
// to hand over the records, a second when they do not.
//
//	go test -run '^$' -bench UploadPaced -benchtime 3x ./storage
func BenchmarkUploadPaced(b *testing.B) {
	const size, record = 64 << 20, 200_000
	const pace = time.Second * record / size // per record: 64 MiB in a second
	ctx := context.Background()
	data := make([]byte, record)
	for _, store := range benchStores(b) {
		d := store.dir
		for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/latency=%v", store.name, latency), func(b *testing.B) {
				store.proxy.SetLatency(latency)
				defer store.proxy.SetLatency(0)
				b.SetBytes(size)
				var closing time.Duration
				for b.Loop() {
					w, err := d.NewWriter(ctx, "shard", nil)
					if err != nil {
						b.Fatal(err)
					}
					next := time.Now()
					for written := 0; written < size; written += record {
						next = next.Add(pace)
						time.Sleep(time.Until(next)) // the decoding that produces the record
						if _, err := w.Write(data[:min(record, size-written)]); err != nil {
							b.Fatal(err)
						}
					}
					start := time.Now()
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
					closing += time.Since(start)
				}
				b.ReportMetric(closing.Seconds()*1000/float64(b.N), "close-ms")
			})
		}
	}
}

// benchStore is a bucket of an emulator reached through a fault proxy.
type benchStore struct {
	name  string
	dir   *storage.Dir
	proxy *storagetest.Proxy
}

// benchStores starts the GCS and S3 emulators, each behind a proxy, and opens gs://bkt/bench and s3://bkt/bench
// through them.
func benchStores(b *testing.B) []benchStore {
	open := func(loc string) *storage.Dir {
		d, err := storage.Open(context.Background(), loc)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	gcs, s3 := storagetest.StartGCS(b, "bkt"), storagetest.StartS3(b, "bkt")
	gcsProxy, s3Proxy := storagetest.NewProxy(b, gcs.Addr), storagetest.NewProxy(b, s3.Addr)
	return []benchStore{
		{"gcs", open(gcs.Via(gcsProxy.Addr).Location(b, "bkt", "bench")), gcsProxy},
		{"s3", open(s3.Via(s3Proxy.Addr).Location(b, "bkt", "bench")), s3Proxy},
	}
}

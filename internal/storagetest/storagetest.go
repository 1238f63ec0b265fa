// Package storagetest starts in-process object store emulators on 127.0.0.1 for tests of code that uses
// package storage, and a reverse proxy that puts latency and one-off server errors in front of them.
//
//	gcs := storagetest.StartGCS(t, "bucket")          // fake-gcs-server, stopped at cleanup
//	loc := gcs.Location(t, "bucket", "out")           // "gs://bucket/out", with STORAGE_EMULATOR_HOST set
//	s3 := storagetest.StartS3(t, "bucket")            // gofakes3, path-style
//	p := storagetest.NewProxy(t, gcs.Addr)            // then gcs.Via(p) routes the Location through it
//	p.SetLatency(50 * time.Millisecond)
//	p.FailNext(1, http.StatusServiceUnavailable, storagetest.Method("POST"))
//
// The helpers set environment variables with t.Setenv (so tests using them cannot be parallel) such that
// neither the Google nor the AWS SDK looks up credentials over the network or probes a metadata server.
package storagetest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Offline sets the environment so that the cloud SDKs stay off the network: static AWS credentials and
// region, no EC2 instance metadata, no shared AWS config files, no Google credentials file. GCS needs no
// more: with STORAGE_EMULATOR_HOST set its client uses no credentials at all.
func Offline(t testing.TB) {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":              "storagetest",
		"AWS_SECRET_ACCESS_KEY":          "storagetest",
		"AWS_SESSION_TOKEN":              "",
		"AWS_REGION":                     "us-east-1",
		"AWS_PROFILE":                    "",
		"AWS_EC2_METADATA_DISABLED":      "true",
		"AWS_CONFIG_FILE":                "/dev/null",
		"AWS_SHARED_CREDENTIALS_FILE":    "/dev/null",
		"AWS_ENDPOINT_URL":               "",
		"AWS_ENDPOINT_URL_S3":            "",
		"GOOGLE_APPLICATION_CREDENTIALS": "",
	} {
		t.Setenv(k, v)
	}
}

// endpoint is an emulator's address and the one clients should use (a proxy's, or the same).
type endpoint struct {
	Addr string // host:port on 127.0.0.1
	via  string
}

func (e endpoint) clientAddr() string {
	if e.via != "" {
		return e.via
	}
	return e.Addr
}

// GCS is a running fake-gcs-server.
type GCS struct {
	Server *fakestorage.Server
	endpoint
}

// StartGCS starts fake-gcs-server on a 127.0.0.1 port with the given buckets, and stops it at cleanup.
func StartGCS(t testing.TB, buckets ...string) *GCS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		NoListener:  true,
		Scheme:      "http",
		ExternalURL: "http://" + addr, // resumable upload sessions come back here
		PublicHost:  addr,
		Writer:      io.Discard,
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.HTTPHandler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); srv.Stop() })
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	return &GCS{Server: srv, endpoint: endpoint{Addr: addr}}
}

// Via returns a copy of g whose Location sends requests through addr (a Proxy's).
func (g *GCS) Via(addr string) *GCS {
	c := *g
	c.via = addr
	return &c
}

// Location points STORAGE_EMULATOR_HOST at the emulator (or its proxy), makes the environment Offline,
// and returns gs://bucket/prefix.
func (g *GCS) Location(t testing.TB, bucket, prefix string) string {
	t.Helper()
	Offline(t)
	t.Setenv("STORAGE_EMULATOR_HOST", g.clientAddr())
	return strings.TrimSuffix("gs://"+bucket+"/"+prefix, "/")
}

// S3 is a running gofakes3 server.
type S3 struct {
	Backend *s3mem.Backend
	endpoint
}

// StartS3 starts gofakes3 (in memory, path-style) on a 127.0.0.1 port with the given buckets, and stops it
// at cleanup.
func StartS3(t testing.TB, buckets ...string) *S3 {
	t.Helper()
	backend := s3mem.New()
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(faker.Server()) // httptest listens on 127.0.0.1
	t.Cleanup(srv.Close)
	for _, b := range buckets {
		if err := backend.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	return &S3{Backend: backend, endpoint: endpoint{Addr: strings.TrimPrefix(srv.URL, "http://")}}
}

// Via returns a copy of s whose Location sends requests through addr (a Proxy's).
func (s *S3) Via(addr string) *S3 {
	c := *s
	c.via = addr
	return &c
}

// Location makes the environment Offline and returns
// s3://bucket/prefix?endpoint=http://ADDR&use_path_style=true, the form an S3-compatible store needs.
func (s *S3) Location(t testing.TB, bucket, prefix string) string {
	t.Helper()
	Offline(t)
	return fmt.Sprintf("%s?endpoint=http://%s&use_path_style=true", strings.TrimSuffix("s3://"+bucket+"/"+prefix, "/"), s.clientAddr())
}

// Join names name under loc, a location Location returned: after its path,
// before its query (an S3 location's endpoint), which the URL must keep.
func Join(loc, name string) string {
	path, query, ok := strings.Cut(loc, "?")
	if ok {
		return path + "/" + name + "?" + query
	}
	return path + "/" + name
}

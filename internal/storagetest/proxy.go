package storagetest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Matcher selects requests for a fault.
type Matcher func(*http.Request) bool

// Any matches every request.
func Any(*http.Request) bool { return true }

// Method matches requests with the HTTP method m.
func Method(m string) Matcher { return func(r *http.Request) bool { return r.Method == m } }

// PathContains matches requests whose escaped path or query contains s (an object name, "copyTo",
// "rewriteTo", "uploadType").
func PathContains(s string) Matcher {
	return func(r *http.Request) bool { return strings.Contains(r.URL.EscapedPath()+"?"+r.URL.RawQuery, s) }
}

// All matches requests that every m matches.
func All(m ...Matcher) Matcher {
	return func(r *http.Request) bool {
		for _, f := range m {
			if !f(r) {
				return false
			}
		}
		return true
	}
}

type fault struct {
	left   int
	match  Matcher
	status int   // > 0: answer with this status instead of forwarding
	cut    int64 // status == 0: forward, but break the response body after cut bytes
}

// Proxy is a reverse proxy on 127.0.0.1 that adds latency to every request and injects faults into
// chosen ones. It is safe for concurrent use; faults are consumed in the order they were added.
type Proxy struct {
	Addr string // host:port clients should use

	latency  atomic.Int64 // nanoseconds before each request is forwarded
	requests atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	injected atomic.Int64

	mu     sync.Mutex
	faults []*fault
	log    []Logged // nil unless Record was called
}

// Logged is one request the proxy served while recording: when it arrived
// and was answered, its method, and its path and query.
type Logged struct {
	Start, End time.Time
	Method     string
	Target     string
}

// Record starts (or restarts) a log of every request the proxy serves.
func (p *Proxy) Record() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.log = []Logged{}
}

// Log returns the requests served since Record, in the order they ended.
func (p *Proxy) Log() []Logged {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.log)
}

func (p *Proxy) logged(l Logged) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.log != nil {
		p.log = append(p.log, l)
	}
}

// NewProxy starts a proxy to target (host:port) and stops it at cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	u, err := url.Parse("http://" + target)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{}
	// SetURL also sets the Host header to target's, as the emulators route by it (fake-gcs-server serves
	// media downloads only on its public host).
	// Connections to the emulator are kept for reuse, as many as requests in flight (http.DefaultTransport
	// keeps 2: with a hundred reads in flight, the others would each open a connection and close it).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 512
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) }, Transport: transport}
	rp.ModifyResponse = func(resp *http.Response) error {
		// A resumable upload's session URL (fake-gcs-server's Location) names the emulator: it is
		// rewritten to name the proxy, so that the upload's chunks get the latency and the faults too.
		if loc, err := resp.Location(); err == nil && loc.Host == u.Host {
			loc.Host = p.Addr
			resp.Header.Set("Location", loc.String())
		}
		if cut, ok := resp.Request.Context().Value(cutKey{}).(int64); ok {
			resp.Body = &cutBody{ReadCloser: resp.Body, left: cut}
		}
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		w.WriteHeader(http.StatusBadGateway)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		start := time.Now()
		defer func() {
			p.logged(Logged{Start: start, End: time.Now(), Method: r.Method, Target: r.URL.RequestURI()})
		}()
		n := p.inFlight.Add(1)
		defer p.inFlight.Add(-1)
		for {
			old := p.peak.Load()
			if n <= old || p.peak.CompareAndSwap(old, n) {
				break
			}
		}
		if d := time.Duration(p.latency.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if f := p.take(r); f != nil {
			p.injected.Add(1)
			if f.status > 0 {
				// Drain the body so that the client is not cut off mid-upload and sees the status.
				io.Copy(io.Discard, r.Body)
				http.Error(w, "storagetest: injected "+http.StatusText(f.status), f.status)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), cutKey{}, f.cut))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	p.Addr = strings.TrimPrefix(srv.URL, "http://")
	return p
}

type cutKey struct{}

// cutBody returns an error after left bytes, which makes the reverse proxy abort the response: the client
// sees its connection closed mid-body.
type cutBody struct {
	io.ReadCloser
	left int64
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("storagetest: body cut")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func (p *Proxy) take(r *http.Request) *fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.faults {
		if f.match(r) {
			f.left--
			if f.left <= 0 {
				p.faults = append(p.faults[:i], p.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// SetLatency delays every request by d before it is forwarded (0: none).
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// FailNext answers the next n requests that match (nil: Any) with status, without forwarding them.
func (p *Proxy) FailNext(n, status int, match Matcher) {
	p.add(&fault{left: n, match: match, status: status})
}

// CutNext forwards the next n requests that match, but closes the connection after bytes bytes of each
// response body: a connection reset in the middle of a download.
func (p *Proxy) CutNext(n int, bytes int64, match Matcher) {
	p.add(&fault{left: n, match: match, cut: bytes})
}

func (p *Proxy) add(f *fault) {
	if f.match == nil {
		f.match = Any
	}
	p.mu.Lock()
	p.faults = append(p.faults, f)
	p.mu.Unlock()
}

// Clear drops every injection not yet consumed.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.faults = nil
	p.mu.Unlock()
}

// Pending returns the number of injections not yet consumed.
func (p *Proxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.faults {
		n += f.left
	}
	return n
}

// Requests returns the number of requests received so far.
func (p *Proxy) Requests() int64 { return p.requests.Load() }

// Injected returns the number of faults injected so far.
func (p *Proxy) Injected() int64 { return p.injected.Load() }

// PeakInFlight returns the most requests ever in the proxy at once.
func (p *Proxy) PeakInFlight() int64 { return p.peak.Load() }

// Span returns the time from the start of the first request in log that
// from matches to the start of the first one after it that to matches (0
// when there is none).
func Span(log []Logged, from, to Matcher) time.Duration {
	var start time.Time
	for _, l := range byStart(log) {
		r := l.request()
		switch {
		case r == nil:
		case start.IsZero() && from(r):
			start = l.Start
		case !start.IsZero() && to(r):
			return l.Start.Sub(start)
		}
	}
	return 0
}

// byStart returns a copy of log in the order the requests arrived.
func byStart(log []Logged) []Logged {
	log = slices.Clone(log)
	slices.SortFunc(log, func(a, b Logged) int { return a.Start.Compare(b.Start) })
	return log
}

// request returns l as a request a Matcher takes (nil when its target does
// not parse).
func (l Logged) request() *http.Request {
	u, err := url.ParseRequestURI(l.Target)
	if err != nil {
		return nil
	}
	return &http.Request{Method: l.Method, URL: u}
}

// Rounds counts the rounds of requests in log that no request matching
// busy overlaps: the groups of requests in flight together (each starting
// before the group's last one ended), each group waited for before the
// next began. With latency added to every request, it is the number of
// latencies a client paid one after another outside the busy phases.
func Rounds(log []Logged, busy Matcher) int {
	log = byStart(log)
	rounds := 0
	for i := 0; i < len(log); {
		end, quiet := log[i].End, true
		j := i
		for ; j < len(log) && !log[j].Start.After(end); j++ {
			if log[j].End.After(end) {
				end = log[j].End
			}
			r := log[j].request()
			quiet = quiet && (r == nil || !busy(r))
		}
		if quiet {
			rounds++
		}
		i = j
	}
	return rounds
}

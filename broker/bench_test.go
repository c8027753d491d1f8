package broker

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedBackend answers every request in memory, so the benchmark measures
// the proxies, not loopback TCP.
type fixedBackend struct{}

func (fixedBackend) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		r.Body.Close()
	}
	return &http.Response{StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2, Request: r}, nil
}

// BenchmarkProxy: fedgate's proxied request (session cookie, a
// network+group policy, identity headers) against a bare ReverseProxy with
// the same in-memory backend, in the same run. Compare ns/op.
func BenchmarkProxy(b *testing.B) {
	target, _ := url.Parse("http://backend.invalid")
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: fixedBackend{}, BufferPool: testBufferPool{}}

	cfg := strings.Replace(testConfig, "apps:\n", `apps:
  - { id: wiki, type: proxy, host: app.example, to: ["http://backend.invalid"], policy: netstaff,
      headers: { X-Remote-User: username, X-Remote-Groups: groups } }
`, 1)
	e := newEnvWith(b, cfg, nil)
	e.srv.transports[""] = fixedBackend{}
	if err := e.srv.Swap(e.srv.Current()); err != nil {
		b.Fatal(err)
	}
	h := e.srv.Handler()
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff", "all-users"}))
	s.Host = "app.example"
	rec := &headerRecorder{h: http.Header{}}
	if err := snap.sealer.seal(rec, appSessionCookie, s, time.Hour, http.SameSiteLaxMode); err != nil {
		b.Fatal(err)
	}
	cookie := strings.Split(rec.h.Get("Set-Cookie"), ";")[0]
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "http://app.example/", nil)
			req.RemoteAddr = "10.1.2.3:5555"
			req.Header.Set("Cookie", cookie+"; app=1")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare) })
	b.Run("fedgate", func(b *testing.B) { run(b, h) })
	// A cookie the snapshot's cache does not hold (one of 10,000 users, the
	// cache holding a few hundred): opened on every request.
	b.Run("fedgate-uncached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			snap.sessions.mu.Lock()
			clear(snap.sessions.m)
			snap.sessions.bytes = 0
			snap.sessions.mu.Unlock()
			req := httptest.NewRequest("GET", "http://app.example/", nil)
			req.RemoteAddr = "10.1.2.3:5555"
			req.Header.Set("Cookie", cookie+"; app=1")
			w := httptest.NewRecorder()
			b.StartTimer()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}

type testBufferPool struct{}

var testBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (testBufferPool) Get() []byte  { return *testBuffers.Get().(*[]byte) }
func (testBufferPool) Put(b []byte) { testBuffers.Put(&b) }

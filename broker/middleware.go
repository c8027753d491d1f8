package broker

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/fedgate/fedgate/config"
)

type ctxKey struct{}

// reqState is what the middleware attaches to a request. It is itself the
// request's context (the parent's, plus itself as the ctxKey{} value), so a
// request costs one allocation for it instead of two.
type reqState struct {
	context.Context
	id   string
	snap *Snapshot
	// idHeader backs the X-Request-Id response header's value slice.
	idHeader [1]string
	// after holds store writes the request must see done before it
	// answers, but that need not hold up its other work (finishAlongside).
	after sync.WaitGroup
	rec   statusRecorder // here, not allocated on its own
	// idBuf holds id's bytes, and session the request's session as read
	// from the session cache (sessionMemo.session): no allocation of
	// their own on every proxied request. The session slot is taken once.
	idBuf       [24]byte
	session     Session
	sessionUsed atomic.Bool
}

// Value answers ctxKey{} with the request's state, anything else from the
// parent context.
func (st *reqState) Value(key any) any {
	if key == (ctxKey{}) {
		return st
	}
	return st.Context.Value(key)
}

// finishAlongside runs f beside the rest of the request, which answers only
// once f is done (the middleware waits): its store writes then share a
// group commit with the request's own instead of waiting one after the
// other. Outside the middleware f runs at once.
func finishAlongside(ctx context.Context, f func()) {
	if st, ok := ctx.Value(ctxKey{}).(*reqState); ok {
		st.after.Go(f)
		return
	}
	f()
}

// snapOf is the config snapshot the request started with.
func snapOf(r *http.Request) *Snapshot {
	return r.Context().Value(ctxKey{}).(*reqState).snap
}

// requestID is the correlation id of the request: in logs, audit events,
// error pages and the X-Request-Id header of every response fedgate writes
// itself (a proxied app's responses are its own: forwarding).
func requestID(ctx context.Context) string {
	if st, ok := ctx.Value(ctxKey{}).(*reqState); ok {
		return st.id
	}
	return ""
}

// Correlation ids need to be unique, not secret: a random per-process
// prefix and a counter (cheaper than crypto/rand on every request).
var (
	idPrefix  = newIDPrefix()
	idCounter atomic.Uint64
)

func newIDPrefix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.EncodeToString(b))
}

// setRequestID gives st a new correlation id, spelled in st.idBuf (the
// prefix's 8 characters and at most 13 of a base-36 uint64 fit).
func (st *reqState) setRequestID() {
	b := strconv.AppendUint(append(st.idBuf[:0], idPrefix...), idCounter.Add(1), 36)
	st.id = unsafe.String(&b[0], len(b))
}

// tag puts the correlation id on the response fedgate writes (no
// allocation: st.idHeader backs the value).
func (st *reqState) tag(h http.Header) {
	st.idHeader[0] = st.id
	h["X-Request-Id"] = st.idHeader[:]
}

// forwarding marks a response on an app host as the backend's own: it
// takes fedgate's id off (it names nothing the app logged, and costs bytes
// on every proxied response). An answer fedgate writes instead calls
// ownAnswer.
func (st *reqState) forwarding(w http.ResponseWriter) {
	delete(w.Header(), "X-Request-Id")
}

// ownAnswer undoes forwarding: what is written next is fedgate's page in
// place of the backend's answer (the backend down, a panic).
func (st *reqState) ownAnswer(w http.ResponseWriter) { st.tag(w.Header()) }

// statusRecorder remembers the status code for metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	// An informational answer (a backend's 100 Continue or 103) is not the
	// response's status; 101 (a WebSocket) is its last one.
	if s.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// maxFormBytes bounds every request body the broker reads itself.
const maxFormBytes = 64 << 10

// wrap adds, around every route of fedgate's own: a correlation id, security
// headers, a body limit, panic recovery (a generic page, the stack only in
// the log) and metrics.
func (b *Server) wrap(route string, h http.HandlerFunc) *wrapped {
	return &wrapped{b: b, route: route, h: h, own: true, metrics: b.Metrics.route(route)}
}

// wrapProxied is wrap for app hosts: bodies stream to the backend unlimited,
// and the backend's responses keep their own headers.
func (b *Server) wrapProxied(h http.HandlerFunc) *wrapped {
	return &wrapped{b: b, route: "proxy", h: h, metrics: b.Metrics.route("proxy")}
}

// wrapped is a route inside the middleware. Its ServeHTTP answers with the
// snapshot in force; serve with the one a caller already routed by, so that
// a reload in between cannot hand a request to a route the new snapshot
// lacks (an app host whose app was just removed).
type wrapped struct {
	b       *Server
	route   string
	h       http.HandlerFunc
	own     bool // fedgate's own pages, not an app host
	metrics *routeMetrics
}

func (x *wrapped) ServeHTTP(w http.ResponseWriter, r *http.Request) { x.serve(w, r, x.b.snap.Load()) }

func (x *wrapped) serve(w http.ResponseWriter, r *http.Request, snap *Snapshot) {
	start := time.Now()
	st := &reqState{Context: r.Context(), snap: snap}
	st.setRequestID()
	r = r.WithContext(st)
	rec := &st.rec
	rec.ResponseWriter = w
	st.tag(w.Header())
	if x.own {
		setPageHeaders(w.Header(), snap, "")
		if snap.sealer.secure {
			w.Header().Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, maxFormBytes)
		}
	}
	defer func() {
		st.after.Wait()
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			x.b.Logger.ErrorContext(r.Context(), "panic", "route", x.route, "panic", p, "stack", string(debug.Stack()), "request_id", st.id)
			if rec.code == 0 {
				st.ownAnswer(rec)
				x.b.fail(rec, r, snap, http.StatusInternalServerError, "err.internal", nil)
			}
		}
		x.metrics.observe(max(rec.code, http.StatusOK), time.Since(start))
	}()
	x.h(rec, r)
}

// setReadDeadline bounds a request's body by timeouts.read before anything
// reads it (the mux's own redirects and 400s too), on every host. Writes
// are bounded by progress on every connection (stalls.go), not by a
// deadline: an absolute one would cut a long download, a stream or a
// WebSocket. A backend that never answers is bounded by the proxy's
// transport (proxy.NewTransport). The server itself bounds only headers
// and idle connections: its deadlines would cost timers on every proxied
// GET.
func setReadDeadline(w http.ResponseWriter, r *http.Request, t config.Timeouts) {
	if r.ContentLength != 0 {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(t.Read))
	}
}

// setPageHeaders are the headers of every page fedgate renders; asset is the
// origin its style sheets come from when the page is served on an app host.
// form-action lists the app origins too: browsers apply it to the redirect
// that follows a sign-in form's POST.
func setPageHeaders(h http.Header, snap *Snapshot, asset string) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' "+asset+"; img-src 'self' data: "+asset+
		"; form-action 'self' "+snap.formOrigins+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

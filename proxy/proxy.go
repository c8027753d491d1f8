package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Authorizer decides each request; the broker implements it. On allow it
// returns the identity headers to inject; otherwise it has written the
// answer itself (a redirect to sign in, 401, or the deny page) and returns
// false.
type Authorizer interface {
	Authorize(w http.ResponseWriter, r *http.Request, route *Route) (http.Header, bool)
}

// Options are the proxy's collaborators and knobs.
type Options struct {
	Authorizer Authorizer
	Trust      Trust
	// StripCookie reports the cookies of fedgate itself, removed from what
	// the backend receives.
	StripCookie func(name string) bool
	// ErrorPage renders the generic error page (the backend is down).
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int)
	Logger    *slog.Logger
	Transport http.RoundTripper // nil: NewTransport(nil)
}

// Proxy routes requests for configured hosts to their backends.
type Proxy struct {
	opts    Options
	routes  []*Route
	table   *routeTable
	proxies map[*Route]*httputil.ReverseProxy
	strip   map[*Route]headerNames // identity headers no client may send
	inject  map[*Route][]string    // the canonical names the Authorizer may set
	next    atomic.Uint64          // round-robin over a route's targets
}

// New builds the proxy for routes.
func New(routes []*Route, opts Options) (*Proxy, error) {
	if opts.Authorizer == nil || opts.ErrorPage == nil {
		return nil, errors.New("proxy: Authorizer and ErrorPage are required")
	}
	if opts.Transport == nil {
		opts.Transport = NewTransport(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.StripCookie == nil {
		opts.StripCookie = func(string) bool { return false }
	}
	p := &Proxy{opts: opts, routes: routes, table: newRouteTable(routes), proxies: map[*Route]*httputil.ReverseProxy{},
		strip: identitySets(routes), inject: map[*Route][]string{}}
	for _, rt := range routes {
		if rt.ForwardAuth {
			continue
		}
		if len(rt.Targets) == 0 {
			return nil, fmt.Errorf("proxy: app %s has no target", rt.App)
		}
		for _, name := range append([]string{rt.AssertionHeader}, rt.IdentityHeaders...) {
			if name != "" {
				p.inject[rt] = append(p.inject[rt], http.CanonicalHeaderKey(name))
			}
		}
		p.proxies[rt] = &httputil.ReverseProxy{
			Rewrite:      func(pr *httputil.ProxyRequest) { p.rewrite(pr, rt) },
			Transport:    opts.Transport,
			BufferPool:   bufferPool{},
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { p.backendError(w, r, rt, err) },
		}
	}
	return p, nil
}

// HasHost reports whether host is served by the proxy.
func (p *Proxy) HasHost(host string) bool { return p.table.has(host) }

// Routes are the proxy's routes, forward-auth ones included.
func (p *Proxy) Routes() []*Route { return p.routes }

// Route returns the route a request maps to, or nil; ok is false when the
// path must be refused (see routeTable.route).
func (p *Proxy) Route(r *http.Request) (rt *Route, ok bool) {
	return p.table.route(r.Host, r.URL)
}

// ServeHTTP authorizes and forwards one request for a proxied host.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := p.Route(r)
	if !ok {
		p.opts.ErrorPage(w, r, http.StatusBadRequest)
		return
	}
	if rt == nil || rt.ForwardAuth {
		p.opts.ErrorPage(w, r, http.StatusNotFound)
		return
	}
	hdr, allowed := p.opts.Authorizer.Authorize(w, r, rt)
	if !allowed {
		return
	}
	// The identity headers travel in the inbound request's header, which
	// the outbound one is cloned from (carrying them in a context would copy
	// the request once more): every spelling a client sent goes first.
	p.strip[rt].strip(r.Header)
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	if r.Body != nil && r.ContentLength != 0 {
		b := &clientBody{ReadCloser: r.Body}
		r = r.WithContext(context.WithValue(r.Context(), clientBodyKey{}, b))
		r.Body = b
	}
	p.proxies[rt].ServeHTTP(w, r)
}

// clientBody is the inbound request's body as the transport reads it: it
// records whether reading from the client failed, so that an upload that
// stalled or was cut is not taken for a backend's failure (over HTTP/2 a
// stream's read deadline cancels nothing: the transport sees only an
// error while sending the body on). The error handler finds it in the
// request's context (ReverseProxy hands it the outbound request, whose
// body wraps this one).
type clientBody struct {
	io.ReadCloser
	failed atomic.Int32 // 0, or the status it earns: 408 stalled, 400 cut
}

type clientBodyKey struct{}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	// A read after close is the transport's doing (it closes the body when
	// the round trip fails, while its writer may read once more).
	if err != nil && err != io.EOF && !errors.Is(err, http.ErrBodyReadAfterClose) {
		status := int32(http.StatusBadRequest)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			status = http.StatusRequestTimeout
		}
		b.failed.CompareAndSwap(0, status)
	}
	return n, err
}

// rewrite builds the outbound request, cloned from the inbound one after
// ServeHTTP set the identity headers (and only the authorizer's: clients'
// were stripped in every spelling). Hop-by-hop removal has run since and
// may have taken one that a client named in Connection:, so the
// authorizer's values are put back.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest, rt *Route) {
	t := rt.Targets[0]
	if n := len(rt.Targets); n > 1 {
		t = rt.Targets[p.next.Add(1)%uint64(n)]
	}
	pr.SetURL(t)
	for _, k := range p.inject[rt] {
		if vs, ok := pr.In.Header[k]; ok {
			pr.Out.Header[k] = vs
		}
	}
	p.setForwarded(pr)
	stripCookies(pr.Out.Header, p.opts.StripCookie)
	switch {
	case rt.HostHeader != "":
		pr.Out.Host = rt.HostHeader
	case rt.PreserveHost:
		pr.Out.Host = pr.In.Host
	}
}

// setForwarded sets X-Forwarded-For/Host/Proto, which is all a backend is
// told about the connection. A chain (and https) is taken only from a
// trusted proxy, and only from the header it writes.
func (p *Proxy) setForwarded(pr *httputil.ProxyRequest) {
	h := pr.Out.Header
	peer := parseAddr(pr.In.RemoteAddr)
	trusted := isTrusted(peer, p.opts.Trust.Proxies)
	chain := ""
	if trusted {
		notFromTrusted.strip(h) // X-Forwarded-* are set below, in every spelling
		hops := forwardedHops(pr.In.Header, p.opts.Trust.Header)
		for i, hop := range hops {
			if a := parseAddr(hop); a.IsValid() {
				hops[i] = a.String() // RFC 7239's "[v6]:port" as X-Forwarded-For writes it
			}
		}
		chain = strings.Join(hops, ", ")
	} else {
		notFromUntrusted.strip(h)
	}
	if chain != "" {
		chain += ", "
	}
	proto := "http"
	if pr.In.TLS != nil || trusted && forwardedProto(pr.In.Header, p.opts.Trust.Header) == "https" {
		proto = "https"
	}
	// One backing array for the three values (canonical keys, set
	// directly): they run on every proxied request.
	v := make([]string, 3)
	v[0], v[1], v[2] = chain+addrText(pr.In.RemoteAddr, peer), pr.In.Host, proto
	h["X-Forwarded-For"], h["X-Forwarded-Host"], h["X-Forwarded-Proto"] = v[0:1:1], v[1:2:2], v[2:3:3]
}

// addrText is a's text, taken from the peer address remote it was parsed
// from when that already spells it canonically (the usual "1.2.3.4:port"),
// so no new string is made.
func addrText(remote string, a netip.Addr) string {
	var buf [64]byte
	if host, _, err := net.SplitHostPort(remote); err == nil && a.IsValid() && string(a.AppendTo(buf[:0])) == host {
		return host
	}
	return a.String()
}

func (p *Proxy) backendError(w http.ResponseWriter, r *http.Request, rt *Route, err error) {
	// The request is incomplete, not the backend's fault, when its body
	// stalled past timeouts.read or was cut. The client may still be there
	// to be told so (no answer would be an empty 200).
	if b, ok := r.Context().Value(clientBodyKey{}).(*clientBody); ok {
		if status := b.failed.Load(); status != 0 {
			p.opts.ErrorPage(w, r, int(status))
			return
		}
	}
	if r.Context().Err() != nil || errors.Is(err, context.Canceled) {
		// HTTP/1 cancels a request when reading from its client fails,
		// which may come before the body reports it: with a body, that
		// is the body stalling; without, the client went away.
		if r.ContentLength != 0 {
			p.opts.ErrorPage(w, r, http.StatusRequestTimeout)
		}
		return
	}
	p.opts.Logger.ErrorContext(r.Context(), "backend unavailable", "app", rt.App, "err", err)
	status := http.StatusBadGateway
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		status = http.StatusGatewayTimeout
	}
	p.opts.ErrorPage(w, r, status)
}

// NewTransport is the proxy's way to its backends, tuned for a reverse
// proxy: large idle pools (the default of 2 idle connections per host
// throttles a busy proxy), bounded dials and handshakes, HTTP/2 where a
// TLS backend offers it, and rootCAs (nil: the system's) for TLS backends.
// A backend that takes a request and sends no answer for 60 s fails it
// with 504. Plain HTTP/1 requests without a body (most of a proxy's) are
// watched for that on their connections (backendwatch.go); the others get
// the transport's own response header timeout, a timer per request: TLS
// backends (whose connections may carry HTTP/2, where a client writes
// flow-control updates while it waits), uploads (a backend may read a body
// slowly, or answer before it has read it all) and upgrades (a WebSocket's
// backend may stay silent).
func NewTransport(rootCAs *x509.CertPool) *Transport { return newTransport(rootCAs, backends) }

func newTransport(rootCAs *x509.CertPool, watch *backendWatch) *Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tuned := func() *http.Transport {
		return &http.Transport{
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          2048,
			MaxIdleConnsPerHost:   512,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{RootCAs: rootCAs, MinVersion: tls.VersionTLS12},
		}
	}
	plain, timed := tuned(), tuned()
	plain.DialContext = watch.dial(dialer.DialContext)
	timed.ResponseHeaderTimeout = watch.limit
	return &Transport{plain: plain, timed: timed}
}

// Transport sends plain HTTP/1 requests without a body on watched
// connections, the rest with a response header timeout (NewTransport).
type Transport struct{ plain, timed *http.Transport }

func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, upgrade := r.Header["Upgrade"]; upgrade || r.URL.Scheme != "http" || (r.Body != nil && r.Body != http.NoBody) {
		return t.timed.RoundTrip(r)
	}
	return t.plain.RoundTrip(r)
}

// CloseIdleConnections closes both pools' idle connections.
func (t *Transport) CloseIdleConnections() {
	t.plain.CloseIdleConnections()
	t.timed.CloseIdleConnections()
}

// bufferPool reuses 32 KiB copy buffers across requests.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

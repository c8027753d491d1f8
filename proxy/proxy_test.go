package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// allowAll is an Authorizer that allows everything as alice, or denies
// paths under /deny/.
type allowAll struct{ calls atomic.Int64 }

func (a *allowAll) Authorize(w http.ResponseWriter, r *http.Request, rt *Route) (http.Header, bool) {
	a.calls.Add(1)
	if strings.HasPrefix(r.URL.Path, "/deny/") {
		http.Error(w, "denied", http.StatusForbidden)
		return nil, false
	}
	return http.Header{"X-Remote-User": {"alice"}, "X-Remote-Groups": {EncodeValue("staff,営業")}}, true
}

// testProxy serves routes for host "app.example" in front of backend.
func testProxy(t *testing.T, backend http.Handler, routes ...*Route) (*httptest.Server, *allowAll) {
	t.Helper()
	return testProxyTrust(t, backend, Trust{}, routes...)
}

// testProxyTrust is testProxy believing the forwarding headers of trust.
func testProxyTrust(t *testing.T, backend http.Handler, trust Trust, routes ...*Route) (*httptest.Server, *allowAll) {
	t.Helper()
	be := httptest.NewServer(backend)
	t.Cleanup(be.Close)
	target, _ := url.Parse(be.URL)
	if len(routes) == 0 {
		routes = []*Route{{App: "app", Host: "app.example", PathPrefix: "/"}}
	}
	for _, r := range routes {
		if r.Targets == nil {
			r.Targets = []*url.URL{target}
		}
		if r.IdentityHeaders == nil {
			r.IdentityHeaders = []string{"X-Remote-User", "X-Remote-Groups"}
		}
	}
	auth := &allowAll{}
	p, err := New(routes, Options{
		Authorizer:  auth,
		Trust:       trust,
		StripCookie: func(n string) bool { return strings.HasPrefix(strings.TrimPrefix(n, "__Host-"), "fedgate") },
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) {
			http.Error(w, "fedgate error page", status)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv, auth
}

// dump is a backend that answers with the headers it received.
var dump = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	for k, vs := range r.Header {
		for _, v := range vs {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
})

// raw sends a request byte for byte (so header spellings Go's client would
// normalise arrive as written) and returns the response.
func raw(t *testing.T, srv *httptest.Server, req string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestSpoofedIdentityHeadersNeverReachTheBackend(t *testing.T) {
	srv, _ := testProxy(t, dump)
	spoofs := []string{
		"X-Remote-User: mallory",
		"x-remote-user: mallory",
		"X-REMOTE-USER: mallory",
		"X_Remote_User: mallory",
		"x_remote_user: mallory",
		"X-Remote_User: mallory",
		"X-Remote-User: mallory\r\nX-Remote-User: mallory2",
		"X-Remote-Groups: admins",
		"X_REMOTE_GROUPS: admins",
		// Naming our own header in Connection must not make the proxy drop
		// the value it sets (and the client's copy is gone anyway).
		"Connection: X-Remote-User, X-Remote-Groups\r\nX-Remote-User: mallory",
		"Connection: close, X_Remote_User\r\nX_Remote_User: mallory",
	}
	for _, spoof := range spoofs {
		t.Run(strings.ReplaceAll(spoof, "\r\n", " | "), func(t *testing.T) {
			code, body := raw(t, srv, "GET / HTTP/1.1\r\nHost: app.example\r\n"+spoof+"\r\nCookie: fedgate_app=secret; theirs=1; __Host-fedgate=s2\r\n\r\n")
			if code != 200 {
				t.Fatalf("status %d", code)
			}
			if strings.Contains(body, "mallory") || strings.Contains(body, "admins") || strings.Contains(strings.ToLower(body), "x_remote") {
				t.Fatalf("spoofed header reached the backend:\n%s", body)
			}
			if !strings.Contains(body, "X-Remote-User: alice\n") || !strings.Contains(body, "X-Remote-Groups: =?UTF-8?b?") {
				t.Fatalf("identity headers missing:\n%s", body)
			}
			if strings.Contains(body, "secret") || strings.Contains(body, "s2") || !strings.Contains(body, "Cookie: theirs=1\n") {
				t.Fatalf("cookies not filtered:\n%s", body)
			}
		})
	}
}

func TestForwardedHeaders(t *testing.T) {
	srv, _ := testProxy(t, dump)
	_, body := raw(t, srv, "GET / HTTP/1.1\r\nHost: app.example\r\nX-Forwarded-For: 10.9.9.9\r\nX-Forwarded-Proto: https\r\nForwarded: for=10.9.9.9\r\n"+
		"X-Real-IP: 10.9.9.9\r\nTrue-Client-IP: 10.9.9.9\r\nX-Original-URL: /admin\r\nX-Forwarded-Prefix: /admin\r\n\r\n")
	for _, want := range []string{"X-Forwarded-For: 127.0.0.1\n", "X-Forwarded-Host: app.example\n", "X-Forwarded-Proto: http\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("backend lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "10.9.9.9") || strings.Contains(body, "/admin") {
		t.Errorf("an untrusted client's forwarding headers reached the backend:\n%s", body)
	}
}

// TestPathTricks: a path-scoped route must not be bypassed by paths the
// backend would resolve elsewhere. /public/ is allowed; /deny/ is not.
func TestPathTricks(t *testing.T) {
	var adminHits atomic.Int64
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "deny") || strings.Contains(r.URL.RawPath, "deny") {
			adminHits.Add(1)
		}
	})
	srv, _ := testProxy(t, backend)
	for _, p := range []string{
		"/public/../deny/x", "/public/%2e%2e/deny/x", "/public/%2E%2E/deny/x", "/public/..%2fdeny/x",
		"/public/..%2Fdeny/x", "/public%2f..%2fdeny/x", "/public/..;/deny/x", "/public/.;/../deny/x",
		"/public//../deny/x", "//deny/x", "/public/..%5cdeny/x", "/public/.%2e/deny/x", "/./deny/x",
	} {
		t.Run(p, func(t *testing.T) {
			code, _ := raw(t, srv, "GET "+p+" HTTP/1.1\r\nHost: app.example\r\n\r\n")
			if code != http.StatusBadRequest && code != http.StatusForbidden {
				t.Fatalf("status %d, want 400 or 403", code)
			}
		})
	}
	if n := adminHits.Load(); n != 0 {
		t.Fatalf("the denied path reached the backend %d times", n)
	}
	if code, _ := raw(t, srv, "GET /public/ok HTTP/1.1\r\nHost: app.example\r\n\r\n"); code != 200 {
		t.Fatalf("plain path = %d", code)
	}
}

func TestLongestPrefixAndHostRouting(t *testing.T) {
	mk := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.URL.Path) })
	}
	beA := httptest.NewServer(mk("root"))
	beB := httptest.NewServer(mk("admin"))
	t.Cleanup(beA.Close)
	t.Cleanup(beB.Close)
	ua, _ := url.Parse(beA.URL)
	ub, _ := url.Parse(beB.URL)
	srv, _ := testProxy(t, nil,
		&Route{App: "root", Host: "App.Example", PathPrefix: "/", Targets: []*url.URL{ua}},
		&Route{App: "admin", Host: "app.example", PathPrefix: "/admin/", Targets: []*url.URL{ub}})
	for path, want := range map[string]string{"/x": "root /x", "/admin/y": "admin /admin/y", "/admin": "admin /admin", "/administrator": "root /administrator"} {
		if _, body := raw(t, srv, "GET "+path+" HTTP/1.1\r\nHost: APP.example\r\n\r\n"); body != want {
			t.Errorf("%s went to %q, want %q", path, body, want)
		}
	}
	if code, _ := raw(t, srv, "GET / HTTP/1.1\r\nHost: other.example\r\n\r\n"); code != 404 {
		t.Errorf("unknown host = %d", code)
	}
}

func TestBackendDown(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead, _ := url.Parse("http://" + ln.Addr().String())
	ln.Close() // nothing listens there now
	srv, _ := testProxy(t, dump, &Route{App: "app", Host: "app.example", PathPrefix: "/", Targets: []*url.URL{dead}})
	start := time.Now()
	code, body := raw(t, srv, "GET / HTTP/1.1\r\nHost: app.example\r\n\r\n")
	if code != http.StatusBadGateway || !strings.Contains(body, "fedgate error page") || time.Since(start) > 6*time.Second {
		t.Fatalf("backend down: %d %q after %s", code, body, time.Since(start))
	}
}

func TestWebSocketThroughProxy(t *testing.T) {
	// A minimal upgrade-and-echo backend: the proxy must pass the 101 and
	// then relay bytes both ways.
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Remote-User") != "alice" {
			http.Error(w, "want an authenticated upgrade", 400)
			return
		}
		c, rw, ok := switchToWebSocket(w)
		if !ok {
			return
		}
		defer c.Close()
		io.Copy(c, rw) // echo
	})
	srv, _ := testProxy(t, backend)
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: app.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Remote-User: mallory\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	for _, msg := range []string{"hello", "こんにちは", strings.Repeat("x", 100000)} {
		fmt.Fprint(c, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %v", len(msg), err)
		}
	}
}

// switchToWebSocket is a backend's side of an upgrade: the connection,
// once it has answered 101.
func switchToWebSocket(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter, bool) {
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if err := rw.Flush(); err != nil {
		c.Close()
		return nil, nil, false
	}
	return c, rw, true
}

// TestLargeUploadStreams: 1 GiB goes through without the proxy holding it:
// the heap stays flat (a buffered body would need a gigabyte).
func TestLargeUploadStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	var received atomic.Int64
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
	})
	srv, _ := testProxy(t, backend)
	const size = 1 << 30
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	req, _ := http.NewRequest("PUT", srv.URL+"/upload", io.LimitReader(zeros{}, size))
	req.Host = "app.example"
	req.ContentLength = size
	resp, err := http.DefaultClient.Do(req)
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || received.Load() != size {
		t.Fatalf("status %d, backend got %d bytes", resp.StatusCode, received.Load())
	}
	if p := peak.Load(); p > 64<<20 {
		t.Fatalf("heap peaked at %d MiB while streaming 1 GiB", p>>20)
	}
	t.Logf("1 GiB streamed; heap peak %d MiB", peak.Load()>>20)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestEncodeValue(t *testing.T) {
	for in, want := range map[string]string{
		"alice":          "alice",
		"Alice Example":  "Alice Example",
		"山田 太郎":          "=?UTF-8?b?5bGx55SwIOWkqumDjg==?=",
		"evil\r\nX-A: b": "=?UTF-8?b?ZXZpbA0KWC1BOiBi?=",
		// what a backend would decode or trim into another value
		"=?utf-8?q?admin?=":        "=?UTF-8?b?PT91dGYtOD9xP2FkbWluPz0=?=",
		"x =?UTF-8?B?YWRtaW4=?= y": "=?UTF-8?b?eCA9P1VURi04P0I/WVdSdGFXND0/PSB5?=",
		" alice":                   "=?UTF-8?b?IGFsaWNl?=",
		"alice ":                   "=?UTF-8?b?YWxpY2Ug?=",
		"a\tb":                     "=?UTF-8?b?YQli?=",
		"50% = ?":                  "50% = ?",
		strings.Repeat("山", 16):    "=?UTF-8?b?5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx5bGx?= =?UTF-8?b?5bGx?=",
	} {
		got := EncodeValue(in)
		if got != want {
			t.Errorf("EncodeValue(%q) = %q, want %q", in, got, want)
		}
		if dec, err := new(mime.WordDecoder).DecodeHeader(got); err != nil || dec != in {
			t.Errorf("%q decodes to %q (%v)", got, dec, err)
		}
		if mime.BEncoding.Encode("UTF-8", in) != in && mime.BEncoding.Encode("UTF-8", in) != got {
			t.Errorf("EncodeValue(%q) = %q, mime.BEncoding says %q", in, got, mime.BEncoding.Encode("UTF-8", in))
		}
	}
}

// TestEncodeList: a group name holding the separator stays one group, and
// the backend gets every name back by splitting, then percent-decoding.
func TestEncodeList(t *testing.T) {
	for _, tt := range []struct {
		items []string
		sep   string
		want  string
	}{
		{[]string{"staff", "admins"}, ",", "staff,admins"},
		{[]string{"staff,admins"}, ",", "staff%2Cadmins"},
		{[]string{"50%", "%2C"}, ",", "50%25,%252C"},
		{[]string{"Domain Users", "a;b"}, "; ", "Domain%20Users; a%3Bb"},
		{[]string{"営業、本社", "開発"}, "、", "営業%E3%80%81本社、開発"},
		{[]string{"a::", ":b"}, "::", "a%3A%3A::%3Ab"},
		{[]string{"bad\x85byte"}, ",", "bad\x85byte"},
		{nil, ",", ""},
	} {
		got := EncodeList(tt.items, tt.sep)
		if got != tt.want {
			t.Errorf("EncodeList(%q, %q) = %q, want %q", tt.items, tt.sep, got, tt.want)
		}
		var back []string
		for _, it := range strings.Split(got, tt.sep) {
			if it == "" && len(tt.items) == 0 {
				continue
			}
			d, err := url.PathUnescape(it)
			if err != nil {
				t.Fatalf("%q: %v", it, err)
			}
			back = append(back, d)
		}
		if fmt.Sprint(back) != fmt.Sprint(tt.items) || len(back) != len(tt.items) {
			t.Errorf("%q reads back as %q", got, back)
		}
	}
}

// TestPathScopedRouteBypass: a stricter route under a prefix cannot be
// reached through a laxer one with path parameters or another case.
func TestPathScopedRouteBypass(t *testing.T) {
	var admin atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(be.Close)
	u, _ := url.Parse(be.URL)
	beAdmin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { admin.Add(1) }))
	t.Cleanup(beAdmin.Close)
	ua, _ := url.Parse(beAdmin.URL)
	srv, _ := testProxy(t, nil,
		&Route{App: "wiki", Host: "app.example", PathPrefix: "/", Targets: []*url.URL{u}},
		&Route{App: "admin", Host: "app.example", PathPrefix: "/admin/", Targets: []*url.URL{ua}})
	// The admin route's backend counts what reaches it through the admin
	// route; through the wiki route, /admin paths must be refused.
	for _, p := range []string{"/admin;x=1/settings", "/admin;/settings", "/x;y/../admin/"} {
		if code, _ := raw(t, srv, "GET "+p+" HTTP/1.1\r\nHost: app.example\r\n\r\n"); code != http.StatusBadRequest {
			t.Errorf("%s = %d, want 400", p, code)
		}
	}
	for _, p := range []string{"/ADMIN/settings", "/Admin/x"} {
		if code, _ := raw(t, srv, "GET "+p+" HTTP/1.1\r\nHost: app.example\r\n\r\n"); code != 200 {
			t.Errorf("%s = %d", p, code)
		}
	}
	if admin.Load() != 2 {
		t.Fatalf("case variants went to the laxer route: admin backend saw %d of 2", admin.Load())
	}
}

func TestHostHeaderToBackend(t *testing.T) {
	host := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Host) })
	for _, tt := range []struct {
		name  string
		route Route
		want  string // "" = the backend's own address
	}{
		{"backend's host by default", Route{}, ""},
		{"preserved", Route{PreserveHost: true}, "app.example"},
		{"overridden", Route{HostHeader: "legacy.internal"}, "legacy.internal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rt := tt.route
			rt.App, rt.Host, rt.PathPrefix = "app", "app.example", "/"
			srv, _ := testProxy(t, host, &rt)
			_, body := raw(t, srv, "GET / HTTP/1.1\r\nHost: app.example\r\n\r\n")
			want := tt.want
			if want == "" {
				want = rt.Targets[0].Host
			}
			if body != want {
				t.Fatalf("backend saw Host %q, want %q", body, want)
			}
		})
	}
}

// blameCheck fails the test on a log line that blames the backend.
type blameCheck struct {
	slog.Handler
	t *testing.T
}

func (blameCheck) Enabled(context.Context, slog.Level) bool { return true }

func (h blameCheck) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "backend unavailable" {
		h.t.Errorf("a client's fault blamed on the backend: %s", r.Message)
	}
	return nil
}

// TestStalledBody: a body that stalls past the server's read deadline is
// answered 408 with fedgate's page, over HTTP/1 and HTTP/2 alike, and one
// cut short 400, never an empty 200 nor a 502 that blames the backend (no
// such log line); a request without a body whose client went away gets no
// page.
func TestStalledBody(t *testing.T) {
	slow := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			<-slow
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "short body", http.StatusBadRequest)
		}
	}))
	t.Cleanup(be.Close)
	t.Cleanup(func() { close(slow) })
	target, _ := url.Parse(be.URL)
	var pages atomic.Int32
	p, err := New([]*Route{{App: "app", Host: "app.example", PathPrefix: "/", Targets: []*url.URL{target}}}, Options{
		Authorizer: &allowAll{},
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) {
			pages.Add(1)
			http.Error(w, "fedgate error page", status)
		},
		Logger: slog.New(blameCheck{slog.DiscardHandler, t}),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ReadTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	for range 5 {
		code, body := raw(t, srv, "POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 100\r\n\r\nonly ten b")
		if code != http.StatusRequestTimeout || !strings.Contains(body, "fedgate error page") {
			t.Fatalf("stalled body: %d %q", code, body)
		}
	}

	// Cut: the client sends 10 of 100 bytes and shuts its side.
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: app.example\r\nContent-Length: 100\r\n\r\nonly ten b")
	_ = c.(*net.TCPConn).CloseWrite()
	// 400, or 408 when HTTP/1's cancellation outruns the body's error.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || (resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestTimeout) {
		t.Fatalf("a body cut short: %v %v", resp, err)
	}
	c.Close()

	// HTTP/2, where a stream's read deadline cancels nothing.
	h2 := httptest.NewUnstartedServer(p)
	h2.Config.ReadTimeout = 200 * time.Millisecond
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	for range 3 {
		pr, pw := io.Pipe()
		go func() { _, _ = io.WriteString(pw, "only ten b") }() // and no more
		req, _ := http.NewRequest("POST", h2.URL+"/upload", pr)
		req.Host, req.ContentLength = "app.example", 100
		resp, err := h2.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pw.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "fedgate error page") {
			t.Fatalf("stalled body over HTTP/%d: %d %q", resp.ProtoMajor, resp.StatusCode, body)
		}
	}
	pages.Store(0)
	c, err = net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: app.example\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.Close() // the client goes away while the backend works
	time.Sleep(300 * time.Millisecond)
	if n := pages.Load(); n != 0 {
		t.Fatalf("%d error pages for a client that went away", n)
	}
}

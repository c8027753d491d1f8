package broker

import (
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
)

// TestProxyIdentityHeadersStrippedPerHost: the /admin/ app's header, sent by
// the client on the / app of the same host, never reaches a backend.
func TestProxyIdentityHeadersStrippedPerHost(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ","))
		}
	}))
	t.Cleanup(be.Close)
	cfg := strings.Replace(testConfig, "apps:\n", fmt.Sprintf(`apps:
  - { id: wiki, type: proxy, host: app.example, to: ["%[1]s"], policy: staff, headers: { X-Remote-User: username } }
  - { id: admin, type: proxy, host: app.example, path_prefix: /admin/, to: ["%[1]s"], policy: staff,
      headers: { X-Admin-App: username, X-Admin-Groups: groups } }
`, be.URL), 1)
	e := newEnvWith(t, cfg, nil)
	ck := &http.Cookie{Name: appSessionCookie, Value: e.mint("proxy", "app", e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"})))}
	get := func(path string) string {
		req, _ := http.NewRequest("GET", e.http.URL+path, nil)
		req.Host = "app.example"
		req.AddCookie(ck)
		req.Header.Set("X-Admin-App", "mallory")
		req.Header["X_Admin_Groups"] = []string{"admins"}
		r := e.do(e.newClient(), req)
		if r.code != 200 {
			t.Fatalf("%s: status %d", path, r.code)
		}
		return r.body
	}
	if body := get("/page"); strings.Contains(body, "mallory") || strings.Contains(body, "admins") || !strings.Contains(body, "X-Remote-User: alice\n") {
		t.Fatalf("the wiki's backend saw:\n%s", body)
	}
	if body := get("/admin/x"); !strings.Contains(body, "X-Admin-App: alice\n") || strings.Contains(body, "mallory") || strings.Contains(body, "admins") {
		t.Fatalf("the admin backend saw:\n%s", body)
	}
}

// TestForwardAuthPathAmbiguity: nginx asks about a path that some backend
// reads as /admin/...; alice may use / but not /admin/ (netstaff: office
// network only). Only plain paths under / are answered 200.
func TestForwardAuthPathAmbiguity(t *testing.T) {
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  trusted_proxies: [127.0.0.1/32]\n", 1)
	cfg = strings.Replace(cfg, "apps:\n", `apps:
  - { id: wiki, type: forward_auth, host: app.example, policy: staff, headers: { X-Remote-User: username } }
  - { id: admin, type: forward_auth, host: app.example, path_prefix: /admin/, policy: netstaff }
`, 1)
	e := newEnvWith(t, cfg, nil)
	ck := &http.Cookie{Name: appSessionCookie, Value: e.mint("proxy", "app", e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"})))}
	for uri, want := range map[string]int{
		"/x": 200, "/admin/x": 403, "/ADMIN/x": 403,
		"/admin./x": 0, "/admin%20/x": 0, "/admin%09/x": 0, "/admin%2f/x": 0, "/admin;x/": 0, "//admin/x": 0,
		"/./admin/x": 0, "/x/../admin/y": 0, "/admin::$INDEX_ALLOCATION/x": 0, "/admin.json": 0,
		"/admin%c2%a0/x": 0, "/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E/x": 0, "/admin%252e/x": 0,
	} {
		req, _ := http.NewRequest("GET", e.http.URL+"/auth/verify", nil)
		req.Host = "127.0.0.1:8080"
		req.AddCookie(ck)
		req.Header.Set("X-Forwarded-Host", "app.example")
		req.Header.Set("X-Original-URI", uri)
		r := e.do(e.newClient(), req)
		if want == 0 && r.code == http.StatusOK || want != 0 && r.code != want {
			t.Errorf("verify %s = %d, want %d (0: anything but 200)", uri, r.code, want)
		}
	}
}

// TestIdentityHeaderValues: a group name holding the separator stays one
// group (percent-encoded), and a name that looks like an RFC 2047 encoded
// word is encoded, so a backend decoding it gets the name, not "admin".
func TestIdentityHeaderValues(t *testing.T) {
	app := &config.App{ID: "wiki", GroupsSeparator: ",", Headers: map[string]string{"X-Groups": "groups", "X-Name": "name", "X-User": "username"}}
	id := protocols.Identity{Username: "alice", DisplayName: "=?utf-8?q?admin?=", Groups: []string{"staff,admins", "50%", "営業"}}
	h := identityHeaders(app, newHeaderPlan(app), id)
	dec := func(v string) string {
		d, err := new(mime.WordDecoder).DecodeHeader(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		return d
	}
	if g := dec(h.Get("X-Groups")); g != "staff%2Cadmins,50%25,営業" {
		t.Errorf("X-Groups %q decodes to %q", h.Get("X-Groups"), g)
	}
	if n := h.Get("X-Name"); dec(n) != id.DisplayName || !strings.HasPrefix(n, "=?UTF-8?b?") {
		t.Errorf("X-Name = %q, decodes to %q", n, dec(n))
	}
	if u := h.Get("X-User"); u != "alice" {
		t.Errorf("X-User = %q", u)
	}
}

// TestProxyCorrelationID: what fedgate writes on an app host carries its
// correlation id (the sign-in redirect, the page for a backend that is
// down, with the id as its reference); what the app answers does not get
// fedgate's id added.
func TestProxyCorrelationID(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app page") }))
	t.Cleanup(be.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg := strings.Replace(testConfig, "apps:\n", fmt.Sprintf(`apps:
  - { id: wiki, type: proxy, host: app.example, to: ["%s"], policy: staff }
  - { id: gone, type: proxy, host: gone.example, to: ["%s"], policy: staff }
`, be.URL, down.URL), 1)
	e := newEnvWith(t, cfg, nil)
	s := e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"}))
	get := func(host string, signedIn bool) resp {
		req, _ := http.NewRequest("GET", e.http.URL+"/page", nil)
		req.Host = host
		req.Header.Set("Accept", "text/html")
		if signedIn {
			req.AddCookie(&http.Cookie{Name: appSessionCookie, Value: e.mint("proxy", strings.TrimSuffix(host, ".example"), s)})
		}
		return e.do(e.newClient(), req)
	}
	if r := get("app.example", false); r.code != http.StatusSeeOther || r.header.Get("X-Request-Id") == "" {
		t.Fatalf("sign-in redirect: %d, X-Request-Id %q", r.code, r.header.Get("X-Request-Id"))
	}
	if r := get("app.example", true); r.code != http.StatusOK || r.body != "app page" || r.header.Values("X-Request-Id") != nil {
		t.Fatalf("the app's answer: %d %q, X-Request-Id %q", r.code, r.body, r.header.Values("X-Request-Id"))
	}
	r := get("gone.example", true)
	if id := r.header.Get("X-Request-Id"); r.code != http.StatusBadGateway || id == "" || !strings.Contains(r.body, id) {
		t.Fatalf("backend down: %d, X-Request-Id %q, page:\n%s", r.code, id, r.body)
	}
}

// panicTransport fails the way a bug would, after the request was passed on.
type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }

// TestProxyPanicAfterForwarding: a panic once the request is the
// backend's is answered with fedgate's 500 page, which carries the
// correlation id in its header as in its body.
func TestProxyPanicAfterForwarding(t *testing.T) {
	cfg := strings.Replace(testConfig, "apps:\n", `apps:
  - { id: wiki, type: proxy, host: wiki.example, to: ["http://backend.invalid"], policy: staff }
`, 1)
	e := newEnvWith(t, cfg, nil)
	e.srv.transports[""] = panicTransport{}
	if err := e.srv.Swap(e.srv.Current()); err != nil {
		t.Fatal(err)
	}
	s := e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"}))
	req, _ := http.NewRequest("GET", e.http.URL+"/page", nil)
	req.Host = "wiki.example"
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: appSessionCookie, Value: e.mint("proxy", "wiki", s)})
	r := e.do(e.newClient(), req)
	if id := r.header.Get("X-Request-Id"); r.code != http.StatusInternalServerError || id == "" || !strings.Contains(r.body, id) {
		t.Fatalf("panic after forwarding: %d, X-Request-Id %q, page:\n%s", r.code, id, r.body)
	}
}

// TestStatusRecorderSkipsInformational: a backend's 100 Continue or 103 is
// not the response's status (metrics, and whether fedgate may still answer
// with a page); 101 is.
func TestStatusRecorderSkipsInformational(t *testing.T) {
	for _, c := range []struct {
		codes []int
		want  int
	}{{[]int{100, 413}, 413}, {[]int{103, 200}, 200}, {[]int{101}, 101}, {[]int{204}, 204}} {
		rec := &statusRecorder{ResponseWriter: httptest.NewRecorder()}
		for _, code := range c.codes {
			rec.WriteHeader(code)
		}
		if rec.code != c.want {
			t.Errorf("%v: recorded %d, want %d", c.codes, rec.code, c.want)
		}
	}
}

// reloadingWriter swaps in a new snapshot when a read deadline is put on
// it: between the handler routing a request with a body and answering it
// (setDeadlines runs there).
type reloadingWriter struct {
	*httptest.ResponseRecorder
	swap func()
}

func (w reloadingWriter) SetReadDeadline(time.Time) error {
	w.swap()
	return nil
}

// TestReloadMidRequest: a request is answered with the snapshot it was
// routed by. A reload that removes an app between routing a request to
// its host and answering it must not hand the request to the new
// snapshot, which has no proxy (a panic and a 500 page before).
func TestReloadMidRequest(t *testing.T) {
	withApp := strings.Replace(testConfig, "apps:\n", `apps:
  - { id: wiki, type: proxy, host: wiki.example, to: ["http://backend.invalid"], policy: staff }
`, 1)
	e := newEnvWith(t, withApp, nil)
	var ups []protocols.Upstream
	for _, u := range e.srv.Current().upstreams {
		ups = append(ups, u.Upstream)
	}
	without, err := NewSnapshot(loadTestConfig(t, testConfig, defaultPolicies), e.keys[:1], ups)
	if err != nil {
		t.Fatal(err)
	}
	w := reloadingWriter{httptest.NewRecorder(), func() {
		if err := e.srv.Swap(without); err != nil {
			t.Fatal(err)
		}
	}}
	e.srv.Handler().ServeHTTP(w, httptest.NewRequest("POST", "http://wiki.example/upload", strings.NewReader("x=1")))
	if e.srv.Current() != without {
		t.Fatal("the reload did not happen mid-request")
	}
	if w.Code >= 500 {
		t.Fatalf("a request during a reload: %d\n%s", w.Code, w.Body)
	}
}

package broker

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzForwardAuthHeaders: whatever a (trusted) reverse proxy forwards as the
// original request — host, URI, method, client address, cookies — the
// forward-auth endpoints answer without a 5xx or a panic.
func FuzzForwardAuthHeaders(f *testing.F) {
	f.Add("fa.example", "/page?y=2", "GET", "203.0.113.9", "")
	f.Add("fa.example", "http://evil.example/x", "POST", "203.0.113.9, 10.0.0.1", "fedgate_app=garbage; __Host-fedgate=x")
	f.Add("FA.EXAMPLE:443", "//x/../.fedgate/start", "", "::1", "fedgate_app=")
	f.Add("app.example", "%zz", "TRACE", "not-an-ip", ";;;")
	e := forwardAuthEnv(f, "192.0.2.0/24")
	h := e.srv.Handler()
	// ask sends the forwarded headers to fedgate's own host (/auth/verify)
	// or to the app's host (/.fedgate/start).
	ask := func(path, ownHost, host, uri, method, xff, cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Host = ownHost
		for k, v := range map[string]string{"X-Forwarded-Host": host, "X-Original-URI": uri, "X-Forwarded-Uri": uri,
			"X-Original-Method": method, "X-Forwarded-For": xff, "Cookie": cookie} {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// The targets are reached: no session is a 401, and start redirects.
	if w := ask("/auth/verify", "127.0.0.1:8080", "fa.example", "/page", "GET", "", ""); w.Code != http.StatusUnauthorized {
		f.Fatalf("verify without a session: %d, want 401", w.Code)
	}
	if w := ask("/.fedgate/start", "fa.example", "fa.example", "/page", "GET", "", ""); w.Code != http.StatusSeeOther {
		f.Fatalf("start: %d, want 303", w.Code)
	}
	f.Fuzz(func(t *testing.T, host, uri, method, xff, cookie string) {
		for _, c := range []struct{ path, own string }{{"/auth/verify", "127.0.0.1:8080"}, {"/auth/verify?rd=1", "127.0.0.1:8080"}, {"/.fedgate/start", host}} {
			if w := ask(c.path, c.own, host, uri, method, xff, cookie); w.Code >= 500 {
				t.Fatalf("%s host %q uri %q: %d %s", c.path, host, uri, w.Code, w.Body)
			}
		}
	})
}

package broker

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// forwardAuthEnv: a forward_auth app on host fa.example (everything) and a
// proxy app on host app.example; trust names who may speak for the client.
func forwardAuthEnv(t testing.TB, trust string) *testEnv {
	t.Helper()
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  trusted_proxies: ["+trust+"]\n", 1)
	cfg = strings.Replace(cfg, "apps:\n", `apps:
  - { id: fa, type: forward_auth, host: fa.example, policy: staff, headers: { X-Remote-User: username, X-Remote-Email: email } }
  - { id: px, type: proxy, host: app.example, to: ["http://127.0.0.1:9"], policy: staff }
`, 1)
	return newEnvWith(t, cfg, nil)
}

// TestForwardAuthStart: nginx's 401 goes to /.fedgate/start, which sends the
// browser to sign in and back to the original URI, encoded, only for a
// forward_auth host and only when a trusted proxy says what that URI was.
func TestForwardAuthStart(t *testing.T) {
	trusted := forwardAuthEnv(t, "127.0.0.1/32")
	untrusted := forwardAuthEnv(t, "10.0.0.0/8")
	for _, tc := range []struct {
		name, host, orig string
		env              *testEnv
		code             int
		ret              string // the return= fedgate's sign-in gets
	}{
		{"query kept whole", "fa.example", "/page?y=2&z=3", trusted, 303, "http://fa.example/page?y=2&z=3"},
		{"encoded kept", "fa.example", "/a%20b/?q=%26x%3D1", trusted, 303, "http://fa.example/a%20b/?q=%26x%3D1"},
		{"no original URI", "fa.example", "", trusted, 303, "http://fa.example/"},
		{"own paths do not loop", "fa.example", "/.fedgate/start?x=1", trusted, 303, "http://fa.example/"},
		{"own paths in any case", "fa.example", "/.FedGate/signout", trusted, 303, "http://fa.example/"},
		{"absolute-form URI stays on this host", "fa.example", "http://evil.example/x", trusted, 303, "http://fa.example/x"},
		{"untrusted caller", "fa.example", "/page", untrusted, 403, ""},
		{"proxy host has no start", "app.example", "/page", trusted, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.env.onHost(tc.env.newClient(), tc.host, "/.fedgate/start", "X-Original-URI", tc.orig)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d (%s)", r.code, tc.code, r.location)
			}
			if tc.code != 303 {
				return
			}
			u, err := url.Parse(r.location)
			if err != nil || u.Scheme+"://"+u.Host+u.Path != "http://127.0.0.1:8080/login" || u.Query().Get("app") != "fa" || u.Query().Get("return") != tc.ret {
				t.Fatalf("Location %q, want sign-in for fa returning to %q", r.location, tc.ret)
			}
		})
	}
}

// TestVerifyKeptCookies: /auth/verify's 200 names the cookies the backend
// may have, without fedgate's (the reverse proxy sets Cookie from it), and
// an identity header without a value is there, empty (alice has no email).
func TestVerifyKeptCookies(t *testing.T) {
	e := forwardAuthEnv(t, "127.0.0.1/32")
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff"}))
	s.Host = "fa.example"
	sealed, err := snap.sealer.sealValue(appSessionCookie, s)
	if err != nil {
		t.Fatal(err)
	}
	app := appSessionCookie + "=" + sealed
	for _, tc := range []struct{ name, cookie, kept string }{
		{"alone", app, ""},
		{"middle", "theme=dark; " + app + "; sid=abc", "theme=dark; sid=abc"},
		{"duplicated and prefixed", app + "; theme=dark; __Host-" + app + "; fedgate_bind=b; sid=abc; " + app, "theme=dark; sid=abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.http.URL+"/auth/verify", nil)
			req.Header.Set("X-Forwarded-Host", "fa.example")
			req.Header.Set("X-Original-URI", "/x")
			req.Header.Set("Cookie", tc.cookie)
			r := e.do(&http.Client{}, req)
			kept, email := r.header.Values(keptCookieHeader), r.header.Values("X-Remote-Email")
			if r.code != 200 || r.header.Get("X-Remote-User") != "alice" || len(kept) != 1 || kept[0] != tc.kept || len(email) != 1 || email[0] != "" {
				t.Fatalf("verify: %d user %q kept %q email %q, want 200 alice [%q] [\"\"]", r.code, r.header.Get("X-Remote-User"), kept, email, tc.kept)
			}
		})
	}
}

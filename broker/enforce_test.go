package broker

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// The one access decision, seen from every kind of app: the same session
// gets the same outcome and the same audit reason whether the app is a
// page of fedgate's, a proxied or forward-auth host, or is answered by a
// downstream protocol (the broker's side of OIDC, SAML and WS-Fed is the
// same SessionProvider.Session; fakeProtocol drives it).

var appKinds = []string{"whoami", "proxy", "forward_auth", "oidc", "saml", "wsfed"}

func enforceEnv(t *testing.T) *testEnv {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend") }))
	t.Cleanup(be.Close)
	var apps strings.Builder
	for _, kind := range appKinds {
		for _, pol := range []string{"staff", "needs-mfa", "capped"} {
			id := kind + "-" + pol
			fmt.Fprintf(&apps, "  - { id: %s, type: %s, policy: %s, upstreams: [local, idp-a]", id, kind, pol)
			switch kind {
			case "proxy":
				fmt.Fprintf(&apps, ", host: %s.example, to: [%q]", id, be.URL)
			case "forward_auth":
				fmt.Fprintf(&apps, ", host: %s.example", id)
			case "oidc", "saml", "wsfed":
				fmt.Fprintf(&apps, ", %s: { client_id: %s }", kind, id)
			}
			apps.WriteString(" }\n")
		}
	}
	cfg := `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true, trusted_proxies: [127.0.0.1/32] }
keys: { cookie: [unused.key] }
store: { memory: true }
session: { idle: 1m }
upstreams:
  - { id: local, type: local }
  - { id: partner, type: local }
  - { id: idp-a, type: fake }
apps:
` + apps.String() + "policies: [policies/*.yaml]\n"
	idp := &fakeIdP{id: "idp-a"}
	e := newEnvWith(t, cfg, []protocols.Upstream{idp})
	idp.now = e.clock.Now
	snap := e.srv.Current()
	snap.AddDownstream(fakeProtocol{})
	if err := e.srv.Swap(snap); err != nil {
		t.Fatal(err)
	}
	return e
}

// useApp makes one request of app (of kind) with the session cookie value,
// as that kind of app is used, and returns the response.
func (e *testEnv) useApp(kind, app, cookie string) resp {
	e.t.Helper()
	name := sessionCookie
	if kind == "proxy" || kind == "forward_auth" {
		name = appSessionCookie
	}
	var req *http.Request
	switch kind {
	case "whoami":
		req, _ = http.NewRequest("GET", "/apps/"+app+"/", nil)
	case "proxy":
		req, _ = http.NewRequest("GET", "/page", nil)
		req.Host = app + ".example"
	case "forward_auth":
		req, _ = http.NewRequest("GET", "/auth/verify", nil)
		req.Header.Set("X-Forwarded-Host", app+".example")
		req.Header.Set("X-Original-URI", "/page")
	default:
		req, _ = http.NewRequest("GET", "/fake/sso?app="+app, nil)
	}
	req.Header.Set("Accept", "text/html")
	if cookie != "" {
		req.Header.Set("Cookie", name+"="+cookie)
	}
	return e.do(e.newClient(), req)
}

// mint seals s as the cookie kind's apps read (an app host's is bound to
// its host).
func (e *testEnv) mint(kind, app string, s *Session) string {
	e.t.Helper()
	name := sessionCookie
	if kind == "proxy" || kind == "forward_auth" {
		name, s.Host = appSessionCookie, app+".example"
	}
	v, err := e.srv.Current().sealer.sealValue(name, s)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// lastAccess is the newest access audit event for app, if any since mark.
func (e *testEnv) lastAccess(t *testing.T, app string, mark int) (AuditEvent, bool) {
	evs := e.audit.events(t)
	for i := len(evs) - 1; i >= mark; i-- {
		if evs[i].Event == "access" && evs[i].App == app {
			return evs[i], true
		}
	}
	return AuditEvent{}, false
}

func allowed(r resp) bool {
	return r.code == http.StatusOK && !strings.HasPrefix(r.body, "error")
}

func TestOneDecisionForEveryAppKind(t *testing.T) {
	e := enforceEnv(t)
	type session struct {
		upstream, user string
		groups         []string
		age            time.Duration // since the session began
		mfaAsked       bool
	}
	cases := []struct {
		name    string
		policy  string
		s       session
		outcome string // the audited outcome ("" = allowed, not necessarily audited)
		reason  string
	}{
		{"allowed", "staff", session{upstream: "local", user: "alice", groups: []string{"staff"}}, "", ""},
		{"wrong upstream", "staff", session{upstream: "partner", user: "pat", groups: []string{"staff"}}, "signin", "upstream-not-allowed"},
		{"denied by policy", "staff", session{upstream: "local", user: "eve"}, "deny", "no-rule-matched"},
		{"step-up needed", "needs-mfa", session{upstream: "idp-a", user: "alice", groups: []string{"staff"}}, "step-up", "mfa-required"},
		{"step-up unavailable", "needs-mfa", session{upstream: "local", user: "alice", groups: []string{"staff"}}, "deny", "mfa-required-unavailable"},
		{"step-up returned without MFA", "needs-mfa", session{upstream: "idp-a", user: "alice", groups: []string{"staff"}, mfaAsked: true}, "deny", "mfa-not-proven"},
		{"session capped", "capped", session{upstream: "local", user: "alice", groups: []string{"staff"}, age: 31 * time.Minute}, "signin", "session-capped"},
	}
	for _, kind := range appKinds {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				app := kind + "-" + c.policy
				now := e.clock.Now()
				id := protocols.Identity{Subject: c.s.user, Upstream: c.s.upstream, Username: c.s.user, Groups: c.s.groups,
					AMR: []string{"pwd"}, AuthTime: now.Add(-c.s.age)}
				s := &Session{ID: randomID(), Identity: id, Created: now.Add(-c.s.age), LastSeen: now, Expires: now.Add(12 * time.Hour),
					MFAAsked: c.s.mfaAsked}
				mark := len(e.audit.events(t))
				r := e.useApp(kind, app, e.mint(kind, app, s))
				ev, audited := e.lastAccess(t, app, mark)
				if c.outcome == "" {
					if !allowed(r) || (audited && ev.Outcome != "allow") {
						t.Fatalf("want allowed: %d %q %q, audit %+v", r.code, r.location, r.body, ev)
					}
					return
				}
				if allowed(r) {
					t.Fatalf("allowed (%d %q), want %s", r.code, r.body, c.outcome)
				}
				if !audited || ev.Outcome != c.outcome || ev.Reason != c.reason {
					t.Fatalf("audit %+v (audited %v), want outcome %s reason %s", ev, audited, c.outcome, c.reason)
				}
				wantCode := map[string][]int{"signin": {303, 401}, "step-up": {303, 401}, "deny": {403, 200}}[c.outcome]
				if r.code != wantCode[0] && r.code != wantCode[1] {
					t.Fatalf("status %d for %s", r.code, c.outcome)
				}
			})
		}
	}
}

// The idle timeout slides on every path that uses the session, and ends
// it after disuse: with idle 1m, a request every 20 s keeps it for 3
// minutes and more; 61 s of silence ends it.
func TestIdleTimeoutSlidesOnEveryPath(t *testing.T) {
	e := enforceEnv(t)
	for _, kind := range appKinds {
		t.Run(kind, func(t *testing.T) {
			app := kind + "-staff"
			now := e.clock.Now()
			s := &Session{ID: randomID(), Identity: protoIdentity("alice", []string{"staff"}), Created: now, LastSeen: now,
				Expires: now.Add(12 * time.Hour)}
			cookie := e.mint(kind, app, s)
			for i := range 10 {
				e.clock.Advance(20 * time.Second)
				r := e.useApp(kind, app, cookie)
				if !allowed(r) {
					t.Fatalf("request %d after %ds of use: %d %q", i, (i+1)*20, r.code, r.location)
				}
				for _, sc := range r.header.Values("Set-Cookie") {
					if ck, err := http.ParseSetCookie(sc); err == nil && (ck.Name == sessionCookie || ck.Name == appSessionCookie) && ck.Value != "" {
						cookie = ck.Value
					}
				}
			}
			e.clock.Advance(61 * time.Second)
			mark := len(e.audit.events(t))
			if r := e.useApp(kind, app, cookie); allowed(r) {
				t.Fatalf("used after 61 s idle: %d", r.code)
			}
			if ev, ok := e.lastAccess(t, app, mark); !ok || ev.Outcome != "signin" || ev.Reason != "idle-timeout" {
				t.Fatalf("audit %+v, want signin idle-timeout", ev)
			}
		})
	}
}

// An app host's session cookie is good only on its own host: carried to
// another app host (proxied or forward-auth), it is refused.
func TestAppHostCookieBoundToHost(t *testing.T) {
	e := enforceEnv(t)
	now := e.clock.Now()
	s := &Session{ID: randomID(), Identity: protoIdentity("alice", []string{"staff"}), Created: now, LastSeen: now, Expires: now.Add(time.Hour)}
	cookie := e.mint("proxy", "proxy-staff", s)
	if r := e.useApp("proxy", "proxy-staff", cookie); !allowed(r) {
		t.Fatalf("own host: %d", r.code)
	}
	for _, c := range []struct{ kind, app string }{{"proxy", "proxy-capped"}, {"forward_auth", "forward_auth-staff"}} {
		mark := len(e.audit.events(t))
		if r := e.useApp(c.kind, c.app, cookie); allowed(r) {
			t.Fatalf("%s accepted another host's cookie", c.app)
		}
		if ev, ok := e.lastAccess(t, c.app, mark); !ok || ev.Reason != "wrong-host" {
			t.Fatalf("%s: audit %+v, want wrong-host", c.app, ev)
		}
	}
}

// A path-scoped app on a shared host keeps its own upstreams: the host's
// cookie from a partner session reaches the open route, not /admin/.
func TestUpstreamsHoldPerRoute(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend") }))
	t.Cleanup(be.Close)
	cfg := strings.Replace(testConfig, "apps:\n", fmt.Sprintf(`apps:
  - { id: site, type: proxy, host: mixed.example, to: [%q], policy: staff }
  - { id: admin, type: proxy, host: mixed.example, path_prefix: /admin/, to: [%q], policy: staff, upstreams: [local] }
`, be.URL, be.URL), 1)
	e := newEnvWith(t, cfg, nil)
	now := e.clock.Now()
	pat := protocols.Identity{Subject: "pat", Upstream: "partner", Username: "pat", Groups: []string{"staff"}, AuthTime: now}
	cookie := e.mint("proxy", "mixed", &Session{ID: randomID(), Identity: pat, Created: now, LastSeen: now, Expires: now.Add(time.Hour)})
	get := func(path string) resp {
		req, _ := http.NewRequest("GET", path, nil)
		req.Host = "mixed.example"
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Cookie", appSessionCookie+"="+cookie)
		return e.do(e.newClient(), req)
	}
	if r := get("/page"); r.code != 200 || r.body != "backend" {
		t.Fatalf("open route: %d %q", r.code, r.body)
	}
	mark := len(e.audit.events(t))
	r := get("/admin/x")
	if r.code != http.StatusSeeOther || !strings.Contains(r.location, "/login?app=admin") {
		t.Fatalf("partner session on /admin/: %d %q", r.code, r.location)
	}
	if ev, ok := e.lastAccess(t, "admin", mark); !ok || ev.Reason != "upstream-not-allowed" {
		t.Fatalf("audit %+v", ev)
	}
}

// Signed in through partner, a user who opens an app that accepts only
// local is asked to sign in there, and then reaches it as the local user.
func TestExistingSessionSentToAllowedUpstream(t *testing.T) {
	e := newEnv(t)
	r := e.get(e.client, "/apps/multi/")
	form := e.get(e.client, r.location+"&upstream=partner")
	if s := e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"partner"}, "username": {"pat"}, "password": {"pat-pw"}}); s.code != http.StatusSeeOther {
		t.Fatalf("partner sign-in: %d", s.code)
	}
	if ok := e.get(e.client, "/apps/multi/"); ok.code != 200 {
		t.Fatalf("partner on multi: %d", ok.code)
	}
	r = e.get(e.client, "/apps/demo/")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?l=") {
		t.Fatalf("partner session on demo: %d %q", r.code, r.location)
	}
	page := e.get(e.client, r.location)
	if !strings.Contains(page.body, `name="upstream" value="local"`) || strings.Contains(page.body, "Partner users") {
		t.Fatalf("sign-in for demo offers:\n%s", page.body)
	}
	s := e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, page.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	if s.code != http.StatusSeeOther || s.location != "/apps/demo/" {
		t.Fatalf("local sign-in: %d %q", s.code, s.location)
	}
	if got := e.get(e.client, "/apps/demo/"); got.code != 200 || !strings.Contains(got.body, "alice") {
		t.Fatalf("demo after local sign-in: %d", got.code)
	}
}

// The step-up loop guard is about the step-up that just returned: a
// session that came from a step-up long ago is asked again, also when it
// reaches the app through /login (single sign-on from an app host).
func TestStepUpGuardOnlyForRecentStepUp(t *testing.T) {
	e := enforceEnv(t)
	now := e.clock.Now()
	s := &Session{ID: randomID(), Identity: protocols.Identity{Subject: "alice", Upstream: "idp-a", Username: "alice",
		Groups: []string{"staff"}, AMR: []string{"pwd"}, AuthTime: now}, Created: now, LastSeen: now, Expires: now.Add(12 * time.Hour), MFAAsked: true}
	e.clock.Advance(20 * time.Minute)
	s.LastSeen = e.clock.Now()
	cookie := e.mint("whoami", "whoami-needs-mfa", s)
	for _, path := range []string{"/apps/whoami-needs-mfa/", "/login?app=whoami-needs-mfa"} {
		req, _ := http.NewRequest("GET", path, nil)
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Cookie", sessionCookie+"="+cookie)
		if r := e.do(e.newClient(), req); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "https://idp.example/") {
			t.Fatalf("%s: %d %q, want a step-up at the IdP", path, r.code, r.location)
		}
	}
}

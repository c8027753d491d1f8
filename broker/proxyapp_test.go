package broker

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// proxyEnv: fedgate at 127.0.0.1:8080 (public URL) and a proxy app on host
// app.example in front of a backend that echoes the headers it got.
func proxyEnv(t *testing.T) (*testEnv, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ","))
		}
	}))
	t.Cleanup(be.Close)
	cfg := strings.Replace(testConfig, "apps:\n", fmt.Sprintf(`apps:
  - id: wiki
    type: proxy
    host: app.example
    to: [%s]
    policy: staff
    upstreams: [local]
    headers: { X-Remote-User: username, X-Remote-Groups: groups }
`, be.URL), 1)
	return newEnvWith(t, cfg, nil), &hits
}

// onHost sends a request to the test server as if for host.
func (e *testEnv) onHost(c *http.Client, host, target string, hdr ...string) resp {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+target, nil)
	req.Host = host
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(c, req)
}

// hostJar keeps cookies per Host header (the test server has one address).
type hostJar struct{ m map[string][]*http.Cookie }

func (j *hostJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		kept := j.m[u.Host][:0]
		for _, o := range j.m[u.Host] {
			if o.Name != c.Name {
				kept = append(kept, o)
			}
		}
		if c.MaxAge >= 0 {
			kept = append(kept, c)
		}
		j.m[u.Host] = kept
	}
}

func (j *hostJar) Cookies(u *url.URL) []*http.Cookie { return j.m[u.Host] }

// follow runs a browser through redirects across the two hosts, mapping
// every URL onto the test server while keeping the Host header.
func (e *testEnv) follow(c *http.Client, host, target string, maxHops int) (resp, string) {
	e.t.Helper()
	for range maxHops {
		r := e.onHost(c, host, target)
		if r.code != http.StatusSeeOther {
			return r, host + target
		}
		u, _ := url.Parse(r.location)
		if u.Host != "" {
			host = u.Host
		}
		target = u.RequestURI()
		if strings.HasPrefix(target, "/login?l=") {
			return r, host + target // stop at the sign-in form
		}
	}
	e.t.Fatal("too many redirects")
	return resp{}, ""
}

func hostClient() *http.Client {
	return &http.Client{Jar: &hostJar{m: map[string][]*http.Cookie{}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestProxyAppSignInAndHeaders(t *testing.T) {
	e, hits := proxyEnv(t)
	c := hostClient()
	// No session on the app host: to fedgate's sign-in, with the way back.
	// The browser is bound to its app host from the start.
	r := e.onHost(c, "app.example", "/page?x=1")
	lu, _ := url.Parse(r.location)
	if r.code != http.StatusSeeOther || lu.Host != "127.0.0.1:8080" || lu.Path != "/login" || lu.Query().Get("app") != "wiki" ||
		lu.Query().Get("return") != "http://app.example/page?x=1" || lu.Query().Get("bind") == "" ||
		!strings.Contains(r.header.Get("Set-Cookie"), bindCookie+"=") {
		t.Fatalf("no session: %d %q", r.code, r.location)
	}
	if bc, err := http.ParseSetCookie(r.header.Get("Set-Cookie")); err != nil || !bc.HttpOnly || bc.SameSite != http.SameSiteLaxMode || bc.Path != "/" {
		t.Fatalf("binding cookie attributes: %q", r.header.Get("Set-Cookie"))
	}
	_, at := e.follow(c, "app.example", "/page?x=1", 5)
	form := e.onHost(c, "127.0.0.1:8080", strings.TrimPrefix(at, "127.0.0.1:8080"))
	post := url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}
	req, _ := http.NewRequest("POST", e.http.URL+strings.TrimPrefix(at, "127.0.0.1:8080"), strings.NewReader(post.Encode()))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signed := e.do(c, req)
	if signed.code != http.StatusSeeOther || !strings.HasPrefix(signed.location, "http://app.example/.fedgate/callback?t=") {
		t.Fatalf("after sign-in: %d %q", signed.code, signed.location)
	}
	// The ticket is bound to this browser's app host: redeemed at once.
	cb2, _ := url.Parse(signed.location)
	back := e.onHost(c, "app.example", cb2.RequestURI())
	if back.code != http.StatusSeeOther || back.location != "/page?x=1" {
		t.Fatalf("ticket redemption: %d %q", back.code, back.location)
	}
	page := e.onHost(c, "app.example", "/page?x=1", "X-Remote-User", "mallory", "X_Remote_Groups", "admins")
	if page.code != 200 || !strings.Contains(page.body, "X-Remote-User: alice\n") || !strings.Contains(page.body, "X-Remote-Groups: staff\n") {
		t.Fatalf("backend saw:\n%s", page.body)
	}
	if strings.Contains(page.body, "mallory") || strings.Contains(page.body, "admins") || strings.Contains(page.body, "fedgate") {
		t.Fatalf("spoofed header or fedgate cookie reached the backend:\n%s", page.body)
	}
	// The ticket is single-use, even with its binding cookie put back.
	c.Jar.SetCookies(&url.URL{Host: "app.example"}, []*http.Cookie{{Name: bindCookie, Value: lu.Query().Get("bind")}})
	if replay := e.onHost(c, "app.example", cb2.RequestURI()); replay.code != http.StatusBadRequest {
		t.Fatalf("replayed ticket = %d", replay.code)
	}
	// Someone else's ticket pushed at a browser (login CSRF) is not
	// redeemed there: no session is set, the browser is sent for its own,
	// and the ticket is spent, so its owner cannot use it either.
	fresh := e.onHost(c, "127.0.0.1:8080", "/login?"+url.Values{"app": {"wiki"}, "return": {"http://app.example/x"}}.Encode())
	tu, _ := url.Parse(fresh.location)
	victim := hostClient()
	pushed := e.onHost(victim, "app.example", tu.RequestURI())
	if pushed.code != http.StatusSeeOther || !strings.Contains(pushed.location, "bind=") || strings.Contains(pushed.header.Get("Set-Cookie"), "fedgate_app=") {
		t.Fatalf("pushed ticket: %d %q %q", pushed.code, pushed.location, pushed.header.Get("Set-Cookie"))
	}
	if r := e.onHost(c, "app.example", tu.RequestURI()); r.code != http.StatusBadRequest {
		t.Fatalf("a ticket that reached another browser was still redeemed: %d", r.code)
	}
	// A ticket for app.example is no good on another app host... or on fedgate's own.
	before := hits.Load()
	// Signing out at fedgate ends the app host's copy of the session too.
	who := e.onHost(c, "127.0.0.1:8080", "/")
	lo, _ := http.NewRequest("POST", e.http.URL+"/logout", strings.NewReader(url.Values{"csrf": {csrfOf(t, who.body)}}.Encode()))
	lo.Host = "127.0.0.1:8080"
	lo.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := e.do(c, lo); r.code != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.code)
	}
	if r := e.onHost(c, "app.example", "/page"); r.code != http.StatusSeeOther {
		t.Fatalf("app host after sign-out at fedgate = %d, want a redirect to sign in", r.code)
	}
	// Per-app sign-out ends the app host's session.
	out := e.onHost(c, "app.example", "/.fedgate/signout")
	if out.code != http.StatusSeeOther || out.location != "http://127.0.0.1:8080/logout" {
		t.Fatalf("sign-out: %d %q", out.code, out.location)
	}
	if r := e.onHost(c, "app.example", "/page"); r.code != http.StatusSeeOther {
		t.Fatalf("after sign-out the app answered %d", r.code)
	}
	if hits.Load() != before {
		t.Fatal("backend reached after sign-out")
	}
}

func TestProxyAppAPIClientGets401(t *testing.T) {
	e, hits := proxyEnv(t)
	r := e.onHost(e.newClient(), "app.example", "/api/x", "Accept", "application/json", "X-Remote-User", "admin")
	if r.code != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" || hits.Load() != 0 {
		t.Fatalf("API without session: %d %q, backend hits %d", r.code, r.header.Get("WWW-Authenticate"), hits.Load())
	}
}

func TestProxyAppPolicyPerRequest(t *testing.T) {
	e, hits := proxyEnv(t)
	c := hostClient()
	snap := e.srv.Current()
	// Forge nothing: mint a valid app-host session for eve (no groups) the way
	// a ticket would, then ask: the policy runs on this request and denies.
	s := e.srv.newSession(snap, protoIdentity("eve", nil))
	s.Host = "app.example"
	rec := &headerRecorder{h: http.Header{}}
	if err := snap.sealer.seal(rec, appSessionCookie, s, time.Hour, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	ck, _ := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
	c.Jar.SetCookies(&url.URL{Host: "app.example"}, []*http.Cookie{ck})
	r := e.onHost(c, "app.example", "/")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "Staff only.") || hits.Load() != 0 {
		t.Fatalf("eve: %d, backend hits %d\n%s", r.code, hits.Load(), r.body)
	}
	// Its page pulls fedgate's style sheet from fedgate's own origin.
	if !strings.Contains(r.body, `href="http://127.0.0.1:8080/static/style.css"`) {
		t.Fatalf("deny page on the app host has no reachable style sheet:\n%s", r.body)
	}
}

func TestOpenRedirectCorpus(t *testing.T) {
	e, _ := proxyEnv(t)
	bad := []string{
		"//evil.example", "/\\evil.example", "https:evil.example", "%09//evil.example", "\t//evil.example",
		"a@b@evil.example", "http://evil.example/", "http://app.example.evil.example/", "http://evilapp.example/",
		"http://app.example@evil.example/", "http://evil.example\\@app.example/", "http://evil.example#@app.example/",
		"/..;/evil", "http://app.example/..;/x", "http://app.example//evil.example", "http://app.example/%2F%2Fevil.example",
		"javascript:alert(1)", "data:text/html,x", "http:/evil.example", "///evil.example", "/%5Cevil.example",
		"https://app.example/", // another scheme than fedgate's: a ticket must not change transport
		"http://app.example:80@evil.example", "ftp://app.example/", "http://APP.example.evil/",
	}
	for _, ret := range bad {
		t.Run(ret, func(t *testing.T) {
			r := e.get(e.client, "/login?app=wiki&return="+url.QueryEscape(ret))
			if r.code != http.StatusBadRequest {
				t.Fatalf("return %q accepted: %d %q", ret, r.code, r.location)
			}
		})
	}
	for _, ok := range []string{"/", "/apps/demo/", "http://app.example/", "http://APP.example/a?b=c"} {
		if r := e.get(e.client, "/login?app=wiki&return="+url.QueryEscape(ok)); r.code != http.StatusSeeOther {
			t.Errorf("return %q refused: %d", ok, r.code)
		}
	}
}

func TestTicketChecks(t *testing.T) {
	e, _ := proxyEnv(t)
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff"}))
	seal := func(tk ticket) string {
		v, err := snap.sealer.sealValue(ticketName, tk)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	mint := func(tk ticket) string { return "/.fedgate/callback?t=" + url.QueryEscape(seal(tk)) }
	flip := func(v string) string {
		b := []byte(v)
		b[len(b)/2] ^= 0x01
		return "/.fedgate/callback?t=" + url.QueryEscape(string(b))
	}
	now := e.clock.Now()
	tests := map[string]string{
		"other host": mint(ticket{ID: randomID(), Exp: now.Add(time.Minute), Host: "other.example", Return: "/", Session: *s}),
		"expired":    mint(ticket{ID: randomID(), Exp: now.Add(-time.Second), Host: "app.example", Return: "/", Session: *s}),
		"garbage":    "/.fedgate/callback?t=abc",
		"missing":    "/.fedgate/callback",
		"tampered":   flip(seal(ticket{ID: randomID(), Exp: now.Add(time.Minute), Host: "app.example", Session: *s})),
	}
	for name, target := range tests {
		t.Run(name, func(t *testing.T) {
			r := e.onHost(e.newClient(), "app.example", target)
			if r.code != http.StatusBadRequest || r.header.Get("Set-Cookie") != "" {
				t.Fatalf("%d, set-cookie %q", r.code, r.header.Get("Set-Cookie"))
			}
		})
	}
	// A good ticket's return path is local to the app host only.
	c := hostClient()
	c.Jar.SetCookies(&url.URL{Host: "app.example"}, []*http.Cookie{{Name: bindCookie, Value: "bound"}})
	r := e.onHost(c, "app.example", mint(ticket{ID: randomID(), Exp: now.Add(time.Minute), Host: "app.example", Bind: "bound", Return: "//evil.example/", Session: *s}))
	if r.code != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("ticket with a foreign return: %d %q", r.code, r.location)
	}
}

// TestProxyAppStepUpAndSessionCap: MFA and session caps demanded by a proxy
// app's policy are handled on fedgate's host, without loops.
func TestProxyAppStepUpAndSessionCap(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "backend") }))
	defer be.Close()
	idp := &fakeIdP{id: "idp-a", honorMFA: true}
	cfg := strings.Replace(redirectConfig, "apps:\n", fmt.Sprintf(`apps:
  - { id: vault, type: proxy, host: vault.example, to: ["%s"], policy: needs-mfa, upstreams: [idp-a] }
  - { id: short, type: proxy, host: short.example, to: ["%s"], policy: capped, upstreams: [idp-a] }
`, be.URL, be.URL), 1)
	e := newEnvWith(t, cfg, []protocols.Upstream{idp, &fakeIdP{id: "idp-b"}})
	idp.now = e.clock.Now
	c := hostClient()
	// walk follows redirects across hosts, answering the IdP itself, and
	// returns the final response and the hosts visited.
	walk := func(host, target string) (resp, []string) {
		var hosts []string
		for range 12 {
			r := e.onHost(c, host, target)
			hosts = append(hosts, host)
			if r.code != http.StatusSeeOther {
				return r, hosts
			}
			u, _ := url.Parse(r.location)
			if u.Host == "idp.example" {
				st := u.Query().Get("state")
				host, target = "127.0.0.1:8080", "/callback/idp-a?code=ok-"+st+"&state="+st
				continue
			}
			if u.Host != "" {
				host = u.Host
			}
			target = u.RequestURI()
		}
		t.Fatalf("redirect loop through %v", hosts)
		return resp{}, nil
	}
	r, _ := walk("vault.example", "/secret")
	if r.code != 200 || r.body != "backend" {
		t.Fatalf("vault after step-up: %d %q", r.code, r.body)
	}
	if req := idp.begun[len(idp.begun)-1]; req.MFA == nil {
		t.Fatal("the IdP was not asked for MFA")
	}
	// A capped session: fine at first, then refused at the cap and renewed.
	if r, _ := walk("short.example", "/"); r.code != 200 {
		t.Fatalf("short app: %d", r.code)
	}
	before := len(idp.begun)
	e.clock.Advance(31 * time.Minute)
	if r, _ := walk("short.example", "/"); r.code != 200 || len(idp.begun) == before {
		t.Fatalf("after the cap: %d, IdP asked again: %v", r.code, len(idp.begun) > before)
	}
}

// A binding named in a link is not a binding: a signed-in victim sent to
// /login?...&bind=<attacker's value> gets a ticket that the attacker's
// cookie cannot redeem, and a sealed binding is good only for its host.
func TestTicketBindingNotFromLink(t *testing.T) {
	e, _ := proxyEnv(t)
	victim := hostClient()
	snap := e.srv.Current()
	s := e.srv.newSession(snap, protoIdentity("alice", []string{"staff"}))
	v, err := snap.sealer.sealValue(sessionCookie, s)
	if err != nil {
		t.Fatal(err)
	}
	victim.Jar.SetCookies(&url.URL{Host: "127.0.0.1:8080"}, []*http.Cookie{{Name: sessionCookie, Value: v}})
	const chosen = "AAAAAAAAAAAAAAAAAAAAAA"
	mint := func(bind string) string {
		q := url.Values{"app": {"wiki"}, "return": {"http://app.example/x"}, "bind": {bind}}
		r := e.onHost(victim, "127.0.0.1:8080", "/login?"+q.Encode())
		u, _ := url.Parse(r.location)
		if r.code != http.StatusSeeOther || u.Path != callbackPath {
			t.Fatalf("mint: %d %q", r.code, r.location)
		}
		return u.RequestURI()
	}
	attacker := hostClient()
	attacker.Jar.SetCookies(&url.URL{Host: "app.example"}, []*http.Cookie{{Name: bindCookie, Value: chosen}})
	r := e.onHost(attacker, "app.example", mint(chosen))
	if strings.Contains(r.header.Get("Set-Cookie"), appSessionCookie+"=") || !strings.Contains(r.location, "/login?") {
		t.Fatalf("a ticket bound by a link value was redeemed: %d %q", r.code, r.location)
	}
	// A sealed binding made for another host is not taken either.
	other, _ := snap.sealer.sealValue(bindRequestName, bindRequest{Nonce: chosen, Host: "other.example", Exp: e.clock.Now().Add(time.Minute)})
	r = e.onHost(attacker, "app.example", mint(other))
	if strings.Contains(r.header.Get("Set-Cookie"), appSessionCookie+"=") {
		t.Fatalf("a binding sealed for another host was honoured: %d %q", r.code, r.location)
	}
}

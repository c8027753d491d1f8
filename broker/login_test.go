package broker

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestSignInLandsOnApp(t *testing.T) {
	e := newEnv(t)
	r := e.signIn(e.client, "alice", "alice-pw")
	if r.code != http.StatusSeeOther || r.location != "/apps/demo/" {
		t.Fatalf("sign-in = %d %q, want 303 /apps/demo/", r.code, r.location)
	}
	page := e.get(e.client, "/apps/demo/")
	if page.code != http.StatusOK || !strings.Contains(page.body, `<dd id="who-name">Alice</dd>`) || !strings.Contains(page.body, "<li>staff</li>") {
		t.Fatalf("app page = %d\n%s", page.code, page.body)
	}
	var signin, access bool
	for _, ev := range e.audit.events(t) {
		signin = signin || (ev.Event == "signin" && ev.Outcome == "success" && ev.User == "alice" && ev.Upstream == "local" && ev.CorrelationID != "")
		access = access || (ev.Event == "access" && ev.Outcome == "allow" && ev.Rule == "staff" && ev.Policy == "staff")
	}
	if !signin || !access {
		t.Fatalf("audit lacks signin/access events:\n%s", e.audit)
	}
	if strings.Contains(e.audit.String(), "alice-pw") {
		t.Fatal("password in audit log")
	}
}

func TestWrongPasswordShowsErrorAndAudits(t *testing.T) {
	e := newEnv(t)
	r := e.signIn(e.client, "alice", "nope")
	if r.code != http.StatusUnauthorized || !strings.Contains(r.body, "The user name or password is incorrect.") {
		t.Fatalf("wrong password = %d\n%s", r.code, r.body)
	}
	if strings.Contains(r.body, "nope") {
		t.Fatal("the wrong password is echoed back in the page")
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Outcome != "failure" || last.Reason != "invalid-credentials" || last.User != "alice" {
		t.Fatalf("audit = %+v", last)
	}
}

func TestDenyByDefaultAndAuditedRule(t *testing.T) {
	e := newEnv(t)
	r := e.signIn(e.client, "eve", "eve-pw") // no groups: no rule matches
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "Staff only.") || !strings.Contains(r.body, `id="correlation-id"`) {
		t.Fatalf("eve = %d\n%s", r.code, r.body)
	}
	// The session exists, but every request to the app is checked again.
	if again := e.get(e.client, "/apps/demo/"); again.code != http.StatusForbidden {
		t.Fatalf("second request = %d, want 403", again.code)
	}
	evs := e.audit.events(t)
	last := evs[len(evs)-1]
	if last.Event != "access" || last.Outcome != "deny" || last.Reason != "no-rule-matched" || last.Policy != "staff" {
		t.Fatalf("audit = %+v", last)
	}
}

func TestStepUpWithoutMFAMethodIsDenied(t *testing.T) {
	e := newEnv(t)
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "multi-factor") {
		t.Fatalf("step-up = %d\n%s", r.code, r.body)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Outcome != "deny" || last.Reason != "mfa-required-unavailable" {
		t.Fatalf("audit = %+v", last)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	formURL, csrf := e.beginLogin(e.client, "/apps/demo/")
	other, otherCSRF := e.beginLogin(e.client, "/apps/demo/") // a parallel tab
	good := url.Values{"upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}
	tests := []struct {
		name  string
		token string
	}{
		{"missing", ""},
		{"wrong", "AAAA"},
		{"token of another login", otherCSRF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{"csrf": {tt.token}}
			for k, v := range good {
				f[k] = v
			}
			if r := e.post(e.client, formURL, f); r.code != http.StatusForbidden {
				t.Fatalf("POST = %d, want 403", r.code)
			}
		})
	}
	// Both tabs still work with their own tokens: parallel logins do not clash.
	f := url.Values{"csrf": {otherCSRF}}
	for k, v := range good {
		f[k] = v
	}
	if r := e.post(e.client, other, f); r.code != http.StatusSeeOther {
		t.Fatalf("second tab sign-in = %d", r.code)
	}
	f.Set("csrf", csrf)
	if r := e.post(e.client, formURL, f); r.code != http.StatusSeeOther {
		t.Fatalf("first tab sign-in = %d", r.code)
	}

	// Sign-out needs the session's token; without it the session survives.
	if r := e.post(e.client, "/logout", url.Values{"csrf": {"forged"}}); r.code != http.StatusForbidden {
		t.Fatalf("logout with forged token = %d", r.code)
	}
	if r := e.get(e.client, "/apps/demo/"); r.code != http.StatusOK {
		t.Fatalf("session lost after forged logout: %d", r.code)
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t)
	e.signIn(e.client, "alice", "alice-pw")
	page := e.get(e.client, "/apps/demo/")
	if r := e.get(e.client, "/logout"); r.code != http.StatusOK {
		t.Fatalf("GET /logout = %d (must confirm, not sign out)", r.code)
	}
	if r := e.get(e.client, "/apps/demo/"); r.code != http.StatusOK {
		t.Fatal("GET /logout signed the user out")
	}
	r := e.post(e.client, "/logout", url.Values{"csrf": {csrfOf(t, page.body)}})
	if r.code != http.StatusSeeOther || r.location != "/signed-out" {
		t.Fatalf("logout = %d %q", r.code, r.location)
	}
	if r := e.get(e.client, "/apps/demo/"); r.code != http.StatusSeeOther {
		t.Fatalf("after logout app = %d, want redirect to sign-in", r.code)
	}
}

func TestThrottle(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		if r := e.signIn(e.client, "alice", "wrong"); r.code != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d", i, r.code)
		}
	}
	// Locked: even the right password is refused, with a clear wait.
	r := e.signIn(e.client, "alice", "alice-pw")
	// Retry-After is in whole seconds (RFC 9110), as the page says.
	if r.code != http.StatusTooManyRequests || !strings.Contains(r.body, "Try again in 300 seconds") || r.header.Get("Retry-After") != "300" {
		t.Fatalf("locked attempt = %d %q\n%s", r.code, r.header.Get("Retry-After"), r.body)
	}
	e.clock.Advance(5*time.Minute + time.Second)
	if r := e.signIn(e.client, "alice", "alice-pw"); r.code != http.StatusSeeOther {
		t.Fatalf("after the window = %d", r.code)
	}
}

func TestThrottlePerIP(t *testing.T) {
	e := newEnv(t)
	// A spray over many user names from one address locks the address.
	for i := range 20 {
		if r := e.signIn(e.client, "user"+strings.Repeat("x", i), "wrong"); r.code != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d", i, r.code)
		}
	}
	if r := e.signIn(e.client, "alice", "alice-pw"); r.code != http.StatusTooManyRequests {
		t.Fatalf("after a spray = %d, want 429", r.code)
	}
}

func TestHomeRealmDiscovery(t *testing.T) {
	e := newEnv(t)
	// App "multi" allows both upstreams and has no default: the chooser.
	r := e.get(e.client, "/apps/multi/")
	chooser := e.get(e.client, r.location)
	if !strings.Contains(chooser.body, "Choose how to sign in") || !strings.Contains(chooser.body, "Partner users") {
		t.Fatalf("chooser:\n%s", chooser.body)
	}
	l := strings.TrimPrefix(r.location, "/login?l=")
	csrf := csrfOf(t, chooser.body)
	// An unknown domain stays on the chooser with an error.
	if d := e.post(e.client, "/login/discover?l="+l, url.Values{"csrf": {csrf}, "email": {"x@nowhere.example"}}); !strings.Contains(d.body, "No sign-in method") {
		t.Fatalf("unknown domain:\n%s", d.body)
	}
	// An address longer than any real one is refused, not carried into the login cookie.
	if d := e.post(e.client, "/login/discover?l="+l, url.Values{"csrf": {csrf}, "email": {strings.Repeat("a", 4000) + "@partner.example"}}); d.code != http.StatusBadRequest {
		t.Fatalf("4 KB email: %d", d.code)
	}
	// The partner's domain routes to the partner upstream, user pre-filled.
	d := e.post(e.client, "/login/discover?l="+l, url.Values{"csrf": {csrf}, "email": {"pat@Partner.example"}})
	form := e.get(e.client, d.location)
	if !strings.Contains(form.body, `name="upstream" value="partner"`) || !strings.Contains(form.body, `value="pat@Partner.example"`) {
		t.Fatalf("routed form:\n%s", form.body)
	}
	s := e.post(e.client, d.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"partner"}, "username": {"pat"}, "password": {"pat-pw"}})
	if s.code != http.StatusSeeOther {
		t.Fatalf("partner sign-in = %d\n%s", s.code, s.body)
	}
	// The choice is remembered: the next login skips the chooser.
	c2 := e.client
	c2.Jar.SetCookies(mustURL(e.http.URL), []*http.Cookie{{Name: sessionCookie, Value: "", MaxAge: -1}})
	r = e.get(c2, "/login?app=multi")
	next := e.get(c2, r.location)
	if !strings.Contains(next.body, `name="upstream" value="partner"`) {
		t.Fatalf("remembered upstream not used:\n%s", next.body)
	}
	// An app restricted to one upstream refuses another, even if asked.
	r = e.get(e.client, "/apps/demo/")
	if bad := e.get(e.client, r.location+"&upstream=partner"); bad.code != http.StatusBadRequest {
		t.Fatalf("foreign upstream = %d", bad.code)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestLanguageLinksStayOnSite: the language switch of any page (here the
// 404 page, whose path is the attacker's) is a query-only link, whatever
// the path decodes to.
func TestLanguageLinksStayOnSite(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/%2fevil.example/x", "/%5Cevil", "/%5C%5Cevil.example/x", "/%09/evil", "/%2F%2Fevil.example", "/x/%2f%2fevil"} {
		r := e.get(e.client, path)
		links := langHref.FindAllStringSubmatch(r.body, -1)
		if len(links) == 0 {
			t.Fatalf("%s: %d, no language link\n%s", path, r.code, r.body)
		}
		for _, m := range links {
			if !strings.HasPrefix(m[1], "?") {
				t.Errorf("%s: language link %q", path, m[1])
			}
		}
	}
	// A raw tab (browsers drop it: /\t/evil is //evil) never reaches a link.
	req := httptest.NewRequest("GET", "/x?a=1", nil)
	req.URL.Path = "/\t/evil"
	if got := withLang(req.URL, "ja"); got != "?a=1&lang=ja" {
		t.Errorf("withLang = %q", got)
	}
}

var langHref = regexp.MustCompile(`<a href="([^"]*)" hreflang=`)

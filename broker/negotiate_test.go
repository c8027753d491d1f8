package broker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/protocols"
)

// fakeNegotiator is a Negotiate upstream: "Negotiate good" signs in alice,
// "Negotiate once" too but only once (through the broker's claim, as the
// Kerberos replay check), "Negotiate TlRMTVNT..." is declined as NTLM.
type fakeNegotiator struct {
	offer bool
	calls int
	now   func() time.Time
}

func (f *fakeNegotiator) ID() string                  { return "windows" }
func (f *fakeNegotiator) Ready(context.Context) error { return nil }
func (f *fakeNegotiator) OffersTo(a netip.Addr, ua string) bool {
	return f.offer && a.IsLoopback() && !strings.Contains(ua, "curl-outside")
}

var _ protocols.NegotiateAuthenticator = (*fakeNegotiator)(nil)

func (f *fakeNegotiator) Negotiate(ctx context.Context, r *http.Request, claim protocols.ClaimFunc) (protocols.Identity, string, error) {
	f.calls++
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Negotiate ")
	if tok == "once" {
		first, err := claim(ctx, tok, f.now().Add(10*time.Minute))
		switch {
		case err != nil:
			return protocols.Identity{}, "", &protocols.NegotiateError{Reason: "replay-check", Err: err}
		case !first:
			return protocols.Identity{}, "", &protocols.NegotiateError{Reason: "replay", Err: errors.New("used")}
		}
		tok = "good"
	}
	switch {
	case tok == "":
		return protocols.Identity{}, "", protocols.ErrNoCredentials
	case tok == "good":
		return protocols.Identity{Subject: "alice@CORP.EXAMPLE", Upstream: "windows", Username: "alice@corp.example",
			Groups: []string{"staff"}, AMR: []string{"wia", "kerberos"}, AuthTime: f.now()}, "cmVzcG9uc2U=", nil
	default:
		return protocols.Identity{}, "", &protocols.NegotiateError{Reason: "ntlm", Err: errors.New("an NTLM token")}
	}
}

const negotiateConfig = brokerHead + `  - { id: windows, type: fake, domains: [corp.example] }
apps:
  - { id: demo, type: whoami, policy: staff, upstreams: [windows, local] }
  - { id: winonly, type: whoami, policy: staff, upstreams: [windows] }
  - { id: winmfa, type: whoami, policy: needs-mfa, upstreams: [windows, local] }
  - { id: portal, type: oidc, policy: staff, upstreams: [windows, local], oidc: { client_id: portal } }
policies: [policies/*.yaml]
`

func TestNegotiate(t *testing.T) {
	type step struct {
		auth     string // Authorization header sent
		code     int
		wwwAuth  string // WWW-Authenticate expected ("" none)
		inBody   string
		redirect bool // a 303 on to where the login was going
	}
	challenge := step{code: http.StatusUnauthorized, wwwAuth: "Negotiate", inBody: `http-equiv="refresh"`}
	form := step{code: http.StatusOK, inBody: `name="password"`}
	tests := []struct {
		name   string
		app    string
		offer  bool
		steps  []step
		reason string // audit reason of the failed sign-in, if any
		calls  int
	}{
		{"browser answers the challenge", "demo", true, []step{challenge,
			{auth: "Negotiate good", code: http.StatusSeeOther, wwwAuth: "Negotiate cmVzcG9uc2U=", redirect: true}}, "", 2},
		{"browser does not answer: the password form, asked once", "demo", true, []step{challenge, form, form}, "", 3},
		{"an NTLM token falls back to the form and is audited", "demo", true, []step{challenge,
			{auth: "Negotiate TlRMTVNTUAABAAAA", code: http.StatusOK, inBody: `name="password"`},
			{auth: "Negotiate TlRMTVNTUAABAAAA", code: http.StatusOK, inBody: `name="password"`}}, "negotiate-ntlm", 2},
		{"not offered: never a challenge", "demo", false, []step{form, {auth: "Negotiate good", code: http.StatusOK, inBody: `name="password"`}}, "", 0},
		{"no other way: a constant page, no 500", "winonly", true, []step{challenge,
			{auth: "Negotiate TlRMTVNTUAABAAAA", code: http.StatusUnauthorized, inBody: "signs you in with Windows"}}, "negotiate-ntlm", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeNegotiator{offer: tt.offer}
			e := newEnvWith(t, negotiateConfig, []protocols.Upstream{f})
			f.now = e.clock.Now
			login := e.get(e.client, "/apps/"+tt.app+"/").location
			for i, s := range tt.steps {
				req, _ := http.NewRequest("GET", login, nil)
				if s.auth != "" {
					req.Header.Set("Authorization", s.auth)
				}
				r := e.do(e.client, req)
				if r.code != s.code || r.header.Get("WWW-Authenticate") != s.wwwAuth || !strings.Contains(r.body, s.inBody) {
					t.Fatalf("step %d: got %d WWW-Authenticate %q, want %d %q and %q in:\n%s",
						i, r.code, r.header.Get("WWW-Authenticate"), s.code, s.wwwAuth, s.inBody, r.body)
				}
				if s.redirect && r.location != "/apps/"+tt.app+"/" {
					t.Fatalf("step %d: signed in, then to %q", i, r.location)
				}
			}
			if f.calls != tt.calls {
				t.Errorf("Negotiate called %d times, want %d", f.calls, tt.calls)
			}
			if reason := lastFailure(t, e); reason != tt.reason {
				t.Errorf("audit reason %q, want %q", reason, tt.reason)
			}
		})
	}
}

// TestNegotiateSession: a Windows sign-in reaches the app as the user.
func TestNegotiateSession(t *testing.T) {
	f := &fakeNegotiator{offer: true}
	e := newEnvWith(t, negotiateConfig, []protocols.Upstream{f})
	f.now = e.clock.Now
	login := e.get(e.client, "/apps/demo/").location
	e.get(e.client, login)
	req, _ := http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Negotiate good")
	r := e.do(e.client, req)
	r = e.get(e.client, r.location)
	if r.code != http.StatusOK || !strings.Contains(r.body, "alice@corp.example") {
		t.Fatalf("app after Windows sign-in: %d\n%s", r.code, r.body)
	}
}

// TestNegotiateMFADenied: Windows sign-in cannot give MFA. For an app
// that will certainly want MFA it is not tried (the login goes on to a way
// that can), and a Windows session from elsewhere is denied there with a
// clear reason, never allowed.
func TestNegotiateMFADenied(t *testing.T) {
	f := &fakeNegotiator{offer: true}
	e := newEnvWith(t, negotiateConfig, []protocols.Upstream{f})
	f.now = e.clock.Now
	login := e.get(e.client, "/apps/winmfa/").location
	req, _ := http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Negotiate good")
	r := e.do(e.client, req)
	if r.code != http.StatusOK || strings.Contains(r.header.Get("WWW-Authenticate"), "Negotiate") || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("MFA app: want the password form, not Windows sign-in: %d %q\n%s", r.code, r.header.Get("WWW-Authenticate"), r.body)
	}
	login = e.get(e.client, "/apps/demo/").location
	req, _ = http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Negotiate good")
	if r = e.do(e.client, req); r.code != http.StatusSeeOther {
		t.Fatalf("Windows sign-in for demo: %d", r.code)
	}
	if r = e.get(e.client, "/apps/winmfa/"); r.code != http.StatusForbidden || !strings.Contains(r.body, translate("en", "err.mfa")) {
		t.Fatalf("MFA app with a Windows session: %d\n%s", r.code, r.body)
	}
}

// TestNegotiateProtocolApp: a protocol app (OIDC, SAML, WS-Fed all ask
// SessionProvider) gets the Windows user like any other.
func TestNegotiateProtocolApp(t *testing.T) {
	f := &fakeNegotiator{offer: true}
	e := newEnvWith(t, negotiateConfig, []protocols.Upstream{f})
	f.now = e.clock.Now
	snap := e.srv.Current()
	snap.AddDownstream(fakeProtocol{})
	if err := e.srv.Swap(snap); err != nil {
		t.Fatal(err)
	}
	login := e.get(e.client, "/fake/sso?app=portal").location
	if r := e.get(e.client, login); r.code != http.StatusUnauthorized {
		t.Fatalf("no challenge: %d", r.code)
	}
	req, _ := http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Negotiate good")
	r := e.do(e.client, req)
	if r.code != http.StatusSeeOther || r.location != "/fake/sso?app=portal" {
		t.Fatalf("after Windows sign-in: %d %q", r.code, r.location)
	}
	if r := e.get(e.client, r.location); r.body != "ok alice@corp.example" {
		t.Fatalf("the protocol got %q", r.body)
	}
}

// replica is another broker on e's config and upstreams with the store st,
// as a second replica behind the load balancer.
func replica(e *testEnv, st store.Store) *testEnv {
	e.t.Helper()
	audit := &syncBuffer{}
	srv, err := NewServer(Deps{Logger: e.srv.Logger, Audit: NewAuditor(audit), Metrics: NewMetrics(), Store: st, Now: e.clock.Now}, e.srv.Current())
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e.t.Cleanup(hs.Close)
	r := &testEnv{t: e.t, srv: srv, http: hs, clock: e.clock, keys: e.keys, audit: audit}
	r.client = r.newClient()
	return r
}

// negotiateAt signs in at e's demo app with the Negotiate token tok.
func negotiateAt(e *testEnv, tok string) resp {
	e.t.Helper()
	login := e.get(e.client, "/apps/demo/").location
	req, _ := http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Negotiate "+tok)
	return e.do(e.client, req)
}

// lastFailure is the reason of e's last failed sign-in in the audit log.
func lastFailure(t *testing.T, e *testEnv) string {
	var reason string
	for _, ev := range e.audit.events(t) {
		if ev.Event == "signin" && ev.Outcome == "failure" {
			reason = ev.Reason
		}
	}
	return reason
}

// TestNegotiateReplayAcrossReplicas: the replay check a Negotiate upstream
// is given is the shared store's. A token accepted at replica A is
// declined at replica B on the same store (audited, the password form
// instead); on a store that errors the sign-in is declined, never
// accepted.
func TestNegotiateReplayAcrossReplicas(t *testing.T) {
	f := &fakeNegotiator{offer: true}
	a := newEnvWith(t, negotiateConfig, []protocols.Upstream{f})
	f.now = a.clock.Now
	if r := negotiateAt(a, "once"); r.code != http.StatusSeeOther {
		t.Fatalf("at A: %d, want signed in\n%s", r.code, r.body)
	}
	b := replica(a, a.srv.Store)
	if r := negotiateAt(b, "once"); r.code != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("the same token at B: %d, want the password form\n%s", r.code, r.body)
	}
	if got := lastFailure(t, b); got != "negotiate-replay" {
		t.Errorf("audit at B: %q, want negotiate-replay", got)
	}
	down := replica(a, &claimDown{Memory: store.NewMemory(a.clock.Now)})
	if r := negotiateAt(down, "once"); r.code != http.StatusOK || !strings.Contains(r.body, `name="password"`) {
		t.Fatalf("store down: %d, want the password form\n%s", r.code, r.body)
	}
	if got := lastFailure(t, down); got != "negotiate-replay-check" {
		t.Errorf("audit with the store down: %q, want negotiate-replay-check", got)
	}
}

// claimDown is a memory store whose Claim fails.
type claimDown struct{ *store.Memory }

func (claimDown) Claim(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("connection refused")
}

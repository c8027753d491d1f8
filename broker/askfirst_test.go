package broker

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/oidc"
	"github.com/fedgate/fedgate/protocols/oidc/oidctest"
)

const askConfig = `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true, trusted_proxies: [127.0.0.1/32] }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: local, type: local }
  - { id: partner, type: local }
  - { id: idp-a, type: fake, domains: [corp.example] }
policies: [policies/*.yaml]
`

const askApps = `
apps:
  - { id: mfa, type: whoami, policy: needs-mfa, upstreams: [idp-a] }
  - { id: mfa-any, type: whoami, policy: mfa-any-time, upstreams: [idp-a] }
  - { id: office, type: whoami, policy: office-or-mfa, upstreams: [idp-a] }
  - { id: admins, type: whoami, policy: admins-or-mfa, upstreams: [idp-a] }
  - { id: portal, type: oidc, policy: staff, upstreams: [idp-a], oidc: { client_id: portal } }
  - { id: admins-portal, type: oidc, policy: admins-or-mfa, upstreams: [idp-a], oidc: { client_id: admins-portal } }
  - { id: local-mfa, type: whoami, policy: mfa-any-time, upstreams: [local] }
`

var askPolicies = map[string]string{
	"mfa-any-time.yaml": `policy: mfa-any-time
rules:
  - name: staff with MFA
    when: { groups: [staff] }
    allow: { mfa: {} }
`,
	"office.yaml": `policy: office-or-mfa
rules:
  - name: office network
    when: { networks: [10.0.0.0/8] }
    allow: {}
  - name: remote staff with MFA
    when: { groups: [staff] }
    allow: { mfa: {} }
`,
	"admins.yaml": `policy: admins-or-mfa
rules:
  - name: admins
    when: { groups: [admins] }
    allow: {}
  - name: staff with MFA
    when: { groups: [staff] }
    allow: { mfa: {} }
`,
}

// askEnv is a broker on askConfig and askApps whose upstream idp-a is up,
// with askPolicies next to the default ones and the fake protocol mounted.
func askEnv(t *testing.T, up protocols.Upstream) *testEnv {
	t.Helper()
	e := newEnvWith(t, askConfig, []protocols.Upstream{up})
	e.reconfigure(askConfig+askApps, askPolicies)
	return e
}

// reconfigure swaps in cfgYAML, with policies beside the default ones, on
// the same upstreams, and mounts the fake protocol.
func (e *testEnv) reconfigure(cfgYAML string, policies map[string]string) {
	e.t.Helper()
	pols := maps.Clone(defaultPolicies)
	maps.Copy(pols, policies)
	var built []protocols.Upstream
	for _, u := range e.srv.Current().upstreams {
		built = append(built, u.Upstream)
	}
	snap, err := NewSnapshot(loadTestConfig(e.t, cfgYAML, pols), e.keys[:1], built)
	if err != nil {
		e.t.Fatal(err)
	}
	snap.AddDownstream(fakeProtocol{})
	if err := e.srv.Swap(snap); err != nil {
		e.t.Fatal(err)
	}
}

// from is a client whose requests come through the trusted proxy 127.0.0.1
// on behalf of addr.
func (e *testEnv) from(addr string) *http.Client {
	c := e.newClient()
	c.Transport = forwardedFor{addr}
	return c
}

type forwardedFor struct{ addr string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// toUpstream follows path's redirects to the upstream and returns where it
// was sent.
func toUpstream(t *testing.T, e *testEnv, c *http.Client, path string) *url.URL {
	t.Helper()
	r := e.get(c, path)
	for i := 0; i < 3 && r.code == http.StatusSeeOther && strings.HasPrefix(r.location, "/"); i++ {
		r = e.get(c, r.location)
	}
	u, err := url.Parse(r.location)
	if r.code != http.StatusSeeOther || err != nil || u.Host == "" {
		t.Fatalf("GET %s: want a redirect to the upstream, got %d %q\n%s", path, r.code, r.location, r.body)
	}
	return u
}

// fakeCallback answers the fake IdP's redirect u, and returns the response.
func fakeCallback(e *testEnv, c *http.Client, u *url.URL) resp {
	s := u.Query().Get("state")
	return e.get(c, "/callback/idp-a?code=ok-"+s+"&state="+s)
}

// TestAskOnceADFS: an app whose every allow needs MFA sends the user to
// ADFS with the MFA request (amr_values) in the first redirect, and the
// user is in after one round trip. prompt=login goes with it only when the
// MFA has a max_age, as a step-up's would.
func TestAskOnceADFS(t *testing.T) {
	for _, tc := range []struct {
		app    string
		prompt bool
	}{{"mfa-any", false}, {"mfa", true}} {
		t.Run(tc.app, func(t *testing.T) {
			op := oidctest.New("/adfs")
			t.Cleanup(op.Close)
			var e *testEnv
			up, err := oidc.Open(oidc.Config{ID: "idp-a", Type: "oidc", Preset: oidc.PresetADFS, Issuer: op.Issuer,
				ClientID: "fedgate", ClientSecret: protocols.NewSecret("s3cret")},
				oidc.Deps{HTTPClient: op.Client(), Now: func() time.Time { return e.clock.Now() }})
			if err != nil {
				t.Fatal(err)
			}
			e = askEnv(t, up)
			to := toUpstream(t, e, e.client, "/apps/"+tc.app+"/")
			q := to.Query()
			if !strings.HasPrefix(to.String(), op.Issuer+"/authorize?") || q.Get("amr_values") != "ngcmfa" ||
				(q.Get("prompt") == "login") != tc.prompt {
				t.Fatalf("first redirect = %s", to)
			}
			now := e.clock.Now()
			idt := op.Sign(map[string]any{"iss": op.Issuer, "aud": "fedgate", "sub": "sub-alice", "nonce": q.Get("nonce"),
				"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "upn": "alice@corp.example",
				"auth_time": now.Unix(), "group": []any{"staff"},
				"amr": []any{"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
					"http://schemas.microsoft.com/claims/multipleauthn"}})
			back := url.Values{"code": {op.Code(q.Get("code_challenge"), idt, "")}, "state": {q.Get("state")}, "iss": {op.Issuer}}
			r := e.get(e.client, "/callback/idp-a?"+back.Encode())
			if r.code != http.StatusSeeOther || r.location != "/apps/"+tc.app+"/" {
				t.Fatalf("callback = %d %q (one round trip expected)\n%s", r.code, r.location, r.body)
			}
			if page := e.get(e.client, r.location); page.code != http.StatusOK || !strings.Contains(page.body, "alice@corp.example") {
				t.Fatalf("app = %d", page.code)
			}
		})
	}
}

// TestAskFirstByNetwork: office-network users need no MFA, so only a
// request from outside the office is asked for it in the first redirect;
// both are in after one round trip.
func TestAskFirstByNetwork(t *testing.T) {
	for _, tc := range []struct {
		from string
		mfa  bool
	}{{"203.0.113.9", true}, {"10.1.2.3", false}} {
		t.Run(tc.from, func(t *testing.T) {
			a := &fakeIdP{id: "idp-a", honorMFA: true}
			e := askEnv(t, a)
			a.now = e.clock.Now
			c := e.from(tc.from)
			to := toUpstream(t, e, c, "/apps/office/")
			if got := a.begun[0]; (got.MFA != nil) != tc.mfa || got.ForceLogin {
				t.Fatalf("first redirect: MFA %+v force %v, want MFA asked = %v", got.MFA, got.ForceLogin, tc.mfa)
			}
			if r := fakeCallback(e, c, to); r.code != http.StatusSeeOther || r.location != "/apps/office/" {
				t.Fatalf("callback = %d %q\n%s", r.code, r.location, r.body)
			}
			if page := e.get(c, "/apps/office/"); page.code != http.StatusOK || len(a.begun) != 1 {
				t.Fatalf("app = %d after %d redirects to the IdP", page.code, len(a.begun))
			}
		})
	}
}

// TestAskFirstAppMFA: an app's own MFA demand (acr_values) is asked in the
// first redirect too; an upstream that cannot be asked is not.
func TestAskFirstAppMFA(t *testing.T) {
	a := &fakeIdP{id: "idp-a", honorMFA: true}
	e := askEnv(t, a)
	a.now = e.clock.Now
	to := toUpstream(t, e, e.client, "/fake/sso?app=portal&mfa=1")
	if got := a.begun[0]; got.MFA == nil || got.ForceLogin {
		t.Fatalf("first redirect: MFA %+v force %v", got.MFA, got.ForceLogin)
	}
	r := fakeCallback(e, e.client, to)
	if r.code != http.StatusSeeOther {
		t.Fatalf("callback = %d %q", r.code, r.location)
	}
	if r = e.get(e.client, r.location); r.body != "ok alice@corp.example" || len(a.begun) != 1 {
		t.Fatalf("resumed = %q after %d redirects to the IdP", r.body, len(a.begun))
	}
	// Without the app's demand, staff need no MFA: none is asked.
	toUpstream(t, e, e.newClient(), "/fake/sso?app=portal")
	if got := a.begun[1]; got.MFA != nil {
		t.Fatalf("MFA asked without a demand: %+v", got.MFA)
	}
	// A password upstream cannot be asked: its form is shown as before.
	formURL, _ := e.beginLogin(e.newClient(), "/apps/local-mfa/")
	if !strings.HasPrefix(formURL, "/login?l=") || len(a.begun) != 2 {
		t.Fatalf("local: %q", formURL)
	}
}

// TestAskFirstNotHonored: the upstream was asked first but came back
// without MFA: one step-up with fresh credentials follows (as before), and
// without MFA then, the user is denied, never allowed.
func TestAskFirstNotHonored(t *testing.T) {
	a := &fakeIdP{id: "idp-a"}
	e := askEnv(t, a)
	a.now = e.clock.Now
	r := fakeCallback(e, e.client, toUpstream(t, e, e.client, "/apps/mfa-any/"))
	u, _ := url.Parse(r.location)
	if r.code != http.StatusSeeOther || u.Host != "idp.example" || len(a.begun) != 2 {
		t.Fatalf("after the first answer: %d %q", r.code, r.location)
	}
	if got := a.begun[1]; got.MFA == nil || !got.ForceLogin {
		t.Fatalf("step-up: MFA %+v force %v", got.MFA, got.ForceLogin)
	}
	if r = fakeCallback(e, e.client, u); r.code != http.StatusForbidden || !strings.Contains(r.body, "did not confirm") {
		t.Fatalf("unproven MFA = %d\n%s", r.code, r.body)
	}
	if page := e.get(e.client, "/apps/mfa-any/"); page.code == http.StatusOK {
		t.Fatal("allowed without MFA")
	}
}

// TestStepUpRightAfterSignIn: when the policy could allow without MFA (an
// admin), nothing is asked first; a staff member then steps up at once,
// and is asked for MFA only, not for the password typed a moment ago.
func TestStepUpRightAfterSignIn(t *testing.T) {
	a := &fakeIdP{id: "idp-a", honorMFA: true}
	e := askEnv(t, a)
	a.now = e.clock.Now
	to := toUpstream(t, e, e.client, "/apps/admins/")
	if a.begun[0].MFA != nil {
		t.Fatalf("MFA asked first though an admin needs none: %+v", a.begun[0].MFA)
	}
	r := fakeCallback(e, e.client, to)
	u, _ := url.Parse(r.location)
	if r.code != http.StatusSeeOther || u.Host != "idp.example" || len(a.begun) != 2 {
		t.Fatalf("step-up = %d %q", r.code, r.location)
	}
	if got := a.begun[1]; got.MFA == nil || got.ForceLogin {
		t.Fatalf("step-up right after sign-in: MFA %+v force %v, want MFA only", got.MFA, got.ForceLogin)
	}
	if r = fakeCallback(e, e.client, u); r.code != http.StatusSeeOther || r.location != "/apps/admins/" {
		t.Fatalf("after MFA = %d %q", r.code, r.location)
	}
	if page := e.get(e.client, "/apps/admins/"); page.code != http.StatusOK {
		t.Fatalf("app = %d", page.code)
	}
}

// The same for an app answered by a protocol: the step-up starts where
// the sign-in finished, asks for MFA alone, and the protocol resumes.
func TestStepUpRightAfterSignInProtocolApp(t *testing.T) {
	a := &fakeIdP{id: "idp-a", honorMFA: true}
	e := askEnv(t, a)
	a.now = e.clock.Now
	const app = "/fake/sso?app=admins-portal"
	r := fakeCallback(e, e.client, toUpstream(t, e, e.client, app))
	u, _ := url.Parse(r.location)
	if r.code != http.StatusSeeOther || u.Host != "idp.example" || len(a.begun) != 2 {
		t.Fatalf("step-up = %d %q", r.code, r.location)
	}
	if got := a.begun[1]; got.MFA == nil || got.ForceLogin {
		t.Fatalf("step-up right after sign-in: MFA %+v force %v, want MFA only", got.MFA, got.ForceLogin)
	}
	if r = fakeCallback(e, e.client, u); r.code != http.StatusSeeOther || r.location != app {
		t.Fatalf("after MFA = %d %q", r.code, r.location)
	}
	if got := e.get(e.client, app); got.body != "ok alice@corp.example" {
		t.Fatalf("protocol resumed: %q", got.body)
	}
}

func TestStepUpForce(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	sess := func(authAgo time.Duration) *Session {
		s := &Session{Identity: protocols.Identity{Upstream: "idp-a"}, Created: now}
		if authAgo >= 0 {
			s.Identity.AuthTime = now.Add(-authAgo)
		}
		return s
	}
	after := &Pending{Upstream: "idp-a", Created: now.Add(-time.Minute)}
	anyAge, hour := &protocols.MFARequest{Methods: []string{"mfa"}}, &protocols.MFARequest{Methods: []string{"mfa"}, MaxAge: time.Hour}
	for _, tc := range []struct {
		name  string
		after *Pending
		s     *Session
		m     *protocols.MFARequest
		want  bool
	}{
		{"a session from before", nil, sess(0), anyAge, true},
		{"just signed in at another upstream", &Pending{Upstream: "idp-b"}, sess(0), anyAge, true},
		{"an older session answered a new login", &Pending{Upstream: "idp-a", Created: now.Add(time.Second)}, sess(0), anyAge, true},
		{"just signed in, MFA asked already", &Pending{Upstream: "idp-a", MFA: anyAge, AskedFirst: true}, sess(0), anyAge, true},
		{"just signed in, no max_age", after, sess(-1), anyAge, false},
		{"just signed in, auth time reported", after, sess(time.Minute), hour, false},
		{"just signed in, auth time unknown", after, sess(-1), hour, true},
		{"just signed in, forced: the auth time may be inferred", &Pending{Upstream: "idp-a", Force: true}, sess(0), hour, true},
		{"auth time too old to last the step-up", after, sess(time.Hour - pendingTTL + time.Second), hour, true},
		{"auth time just lasts", after, sess(time.Hour - pendingTTL), hour, false},
	} {
		if got := stepUpForce(tc.after, tc.s, tc.m, now); got != tc.want {
			t.Errorf("%s: force = %v, want %v", tc.name, got, tc.want)
		}
	}
}

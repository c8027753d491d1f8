package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// fakeIdP is a redirect upstream for broker logic tests (the real OIDC
// upstream is tested against oidc-provider). Its "code" is "ok-"+state.
type fakeIdP struct {
	id       string
	honorMFA bool // gives AMR mfa when asked
	begun    []protocols.AuthRequest
	now      func() time.Time
}

func (f *fakeIdP) ID() string                  { return f.id }
func (f *fakeIdP) Ready(context.Context) error { return nil }
func (f *fakeIdP) CanRequestMFA() bool         { return true }

func (f *fakeIdP) Begin(_ context.Context, a protocols.AuthRequest) (string, error) {
	f.begun = append(f.begun, a)
	return "https://idp.example/authorize?state=" + url.QueryEscape(a.State), nil
}

func (f *fakeIdP) Finish(_ context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	if r.URL.Query().Get("code") != "ok-"+a.State {
		return protocols.Identity{}, fmt.Errorf("bad code: %w", protocols.ErrRejected)
	}
	id := protocols.Identity{Subject: "sso-alice", Upstream: f.id, Username: "alice@corp.example", Groups: []string{"staff"},
		AMR: []string{"pwd"}, AuthTime: f.now()}
	if a.MFA != nil && f.honorMFA {
		id.AMR = append(id.AMR, "mfa")
	}
	return id, nil
}

const redirectConfig = brokerHead + `  - { id: idp-a, type: fake }
  - { id: idp-b, type: fake }
apps:
  - { id: demo, type: whoami, policy: staff, upstreams: [idp-a] }
  - { id: mfa, type: whoami, policy: needs-mfa, upstreams: [idp-a] }
  - { id: bapp, type: whoami, policy: staff, upstreams: [idp-b] }
policies: [policies/*.yaml]
`

func newRedirectEnv(t *testing.T, honorMFA bool) (*testEnv, *fakeIdP, *fakeIdP) {
	a, b := &fakeIdP{id: "idp-a", honorMFA: honorMFA}, &fakeIdP{id: "idp-b"}
	e := newEnvWith(t, redirectConfig, []protocols.Upstream{a, b})
	a.now, b.now = e.clock.Now, e.clock.Now
	return e, a, b
}

// toIdP follows the app's redirects to the IdP and returns the state sent.
func toIdP(t *testing.T, e *testEnv, app string) string {
	t.Helper()
	r := e.get(e.client, "/apps/"+app+"/")
	r = e.get(e.client, r.location)
	u, err := url.Parse(r.location)
	if r.code != http.StatusSeeOther || err != nil || u.Host != "idp.example" {
		t.Fatalf("want redirect to the IdP, got %d %q", r.code, r.location)
	}
	return u.Query().Get("state")
}

func TestRedirectSignIn(t *testing.T) {
	e, a, _ := newRedirectEnv(t, true)
	state := toIdP(t, e, "demo")
	req := a.begun[0]
	if req.CallbackURL != "http://127.0.0.1:8080/callback/idp-a" || len(req.PKCEVerifier) != 43 || req.Nonce == "" || req.Nonce == state {
		t.Fatalf("auth request = %+v", req)
	}
	r := e.get(e.client, "/callback/idp-a?code=ok-"+state+"&state="+state)
	if r.code != http.StatusSeeOther || r.location != "/apps/demo/" {
		t.Fatalf("callback = %d %q\n%s", r.code, r.location, r.body)
	}
	if page := e.get(e.client, "/apps/demo/"); page.code != http.StatusOK || !strings.Contains(page.body, "alice@corp.example") {
		t.Fatalf("app = %d", page.code)
	}
	// The login is single-use: replaying the callback finds no state.
	if again := e.get(e.client, "/callback/idp-a?code=ok-"+state+"&state="+state); again.code != http.StatusBadRequest {
		t.Fatalf("replayed callback = %d", again.code)
	}
}

func TestRedirectNegative(t *testing.T) {
	tests := []struct {
		name   string
		path   func(state string) string
		fresh  bool // a client without the login cookie
		code   int
		reason string
	}{
		{"state returned to another upstream (mix-up)", func(s string) string { return "/callback/idp-b?code=ok-" + s + "&state=" + s }, false, 400, "state-upstream-mismatch"},
		{"missing state cookie", func(s string) string { return "/callback/idp-a?code=ok-" + s + "&state=" + s }, true, 400, "no-login-state"},
		{"wrong state", func(s string) string { return "/callback/idp-a?code=ok-x&state=" + strings.Repeat("A", 22) }, false, 400, "no-login-state"},
		{"answer fails the upstream's checks", func(s string) string { return "/callback/idp-a?code=forged&state=" + s }, false, 400, "upstream-answer-rejected"},
		{"unknown upstream", func(s string) string { return "/callback/ghost?state=" + s }, false, 400, "state-upstream-mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, _ := newRedirectEnv(t, true)
			state := toIdP(t, e, "demo")
			c := e.client
			if tt.fresh {
				c = e.newClient()
			}
			r := e.get(c, tt.path(state))
			if r.code != tt.code {
				t.Fatalf("status %d, want %d", r.code, tt.code)
			}
			evs := e.audit.events(t)
			if last := evs[len(evs)-1]; last.Outcome != "failure" || last.Reason != tt.reason {
				t.Fatalf("audit = %+v, want reason %s", last, tt.reason)
			}
		})
	}
}

func TestStepUpThroughUpstream(t *testing.T) {
	for _, honor := range []bool{true, false} {
		t.Run(fmt.Sprintf("idp gives mfa=%v", honor), func(t *testing.T) {
			e, a, _ := newRedirectEnv(t, honor)
			state := toIdP(t, e, "demo") // sign in without MFA first
			e.get(e.client, "/callback/idp-a?code=ok-"+state+"&state="+state)
			// The MFA app asks the same upstream again, demanding MFA and fresh credentials.
			r := e.get(e.client, "/apps/mfa/")
			u, _ := url.Parse(r.location)
			if r.code != http.StatusSeeOther || u.Host != "idp.example" {
				t.Fatalf("step-up = %d %q", r.code, r.location)
			}
			req := a.begun[len(a.begun)-1]
			if req.MFA == nil || !slices.Contains(req.MFA.Methods, "mfa") || !req.ForceLogin {
				t.Fatalf("step-up request = %+v", req)
			}
			s := u.Query().Get("state")
			r = e.get(e.client, "/callback/idp-a?code=ok-"+s+"&state="+s)
			if honor {
				if r.code != http.StatusSeeOther || r.location != "/apps/mfa/" {
					t.Fatalf("after MFA = %d %q", r.code, r.location)
				}
				if page := e.get(e.client, "/apps/mfa/"); page.code != http.StatusOK {
					t.Fatalf("mfa app = %d", page.code)
				}
				return
			}
			// Asked, but no proof came back: denied, not looped, never allowed.
			if r.code != http.StatusForbidden || !strings.Contains(r.body, "did not confirm") {
				t.Fatalf("unproven MFA = %d\n%s", r.code, r.body)
			}
			evs := e.audit.events(t)
			if last := evs[len(evs)-1]; last.Reason != "mfa-not-proven" || last.Outcome != "deny" {
				t.Fatalf("audit = %+v", last)
			}
		})
	}
}

package broker

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
)

func TestOwnNames(t *testing.T) {
	three := []upstreamEntry{
		{Upstream: &fakeIdP{id: "corp"}, domains: []string{"corp.example", "Corp-Brand.example"}},
		{Upstream: &fakeIdP{id: "partner"}, domains: []string{"partner.example"}},
		{Upstream: &fakeIdP{id: "social"}},
	}
	tests := []struct {
		name      string
		upstreams []upstreamEntry
		owner     string     // user_names.default_owner
		shared    [][]string // user_names.shared
		in        protocols.Identity
		user      string // the username passed on
		upn       string // the upn claim passed on
		err       string // or the refusal, naming the field
	}{
		{name: "owner's name in its domain", upstreams: three, owner: "corp",
			in: protocols.Identity{Upstream: "corp", Username: "alice@corp.example", Email: "alice@corp.example"}, user: "alice@corp.example"},
		{name: "owner's name, domain in another case", upstreams: three,
			in: protocols.Identity{Upstream: "corp", Username: "alice@CORP-brand.EXAMPLE"}, user: "alice@CORP-brand.EXAMPLE"},
		{name: "another upstream's domain is refused", upstreams: three, owner: "partner",
			in: protocols.Identity{Upstream: "partner", Username: "alice@corp.example"}, err: `username "alice@corp.example" is in a domain of upstream "corp"`},
		{name: "case does not hide the owner", upstreams: three,
			in: protocols.Identity{Upstream: "partner", Username: "Alice@Corp.Example"}, err: `upstream "corp"`},
		{name: "the last @ decides", upstreams: three,
			in: protocols.Identity{Upstream: "social", Username: "x@partner.example@corp.example"}, err: `upstream "corp"`},
		{name: "upn claim in another upstream's domain is refused", upstreams: three,
			in:  protocols.Identity{Upstream: "partner", Username: "pat@partner.example", Claims: map[string]string{"upn": "alice@corp.example"}},
			err: `upn "alice@corp.example"`},
		{name: "verified email in another upstream's domain is refused", upstreams: three,
			in:  protocols.Identity{Upstream: "social", Username: "bob@gmail.com", Email: "alice@corp.example"},
			err: `email "alice@corp.example"`},
		{name: "email in a domain nobody lists passes as it is", upstreams: three,
			in: protocols.Identity{Upstream: "social", Username: "bob@gmail.com", Email: "bob@gmail.com"}, user: "bob@gmail.com@social"},
		{name: "bare name of the default owner", upstreams: three, owner: "corp",
			in: protocols.Identity{Upstream: "corp", Username: "alice", Claims: map[string]string{"upn": `CORP\alice`}}, user: "alice", upn: `CORP\alice`},
		{name: "bare name of another upstream is qualified", upstreams: three, owner: "corp",
			in: protocols.Identity{Upstream: "partner", Username: "alice", Claims: map[string]string{"upn": `CORP\alice`}}, user: "alice@partner", upn: `CORP\alice@partner`},
		{name: "no default owner: every bare name is qualified", upstreams: three,
			in: protocols.Identity{Upstream: "corp", Username: "alice"}, user: "alice@corp"},
		{name: "a name shaped like a qualified one is qualified again", upstreams: three, owner: "social",
			in: protocols.Identity{Upstream: "social", Username: "alice@partner"}, user: "alice@partner@social"},
		{name: "domain nobody lists is qualified", upstreams: three, owner: "social",
			in: protocols.Identity{Upstream: "social", Username: "bob@gmail.com"}, user: "bob@gmail.com@social"},
		{name: "single upstream owns every name", upstreams: three[2:],
			in: protocols.Identity{Upstream: "social", Username: "alice", Claims: map[string]string{"upn": "bob@gmail.com"}}, user: "alice", upn: "bob@gmail.com"},
		{name: "single upstream, any domain", upstreams: three[1:2],
			in: protocols.Identity{Upstream: "partner", Username: "alice@corp.example", Email: "alice@corp.example"}, user: "alice@corp.example"},
		{name: "a trailing dot does not hide the owner", upstreams: three,
			in: protocols.Identity{Upstream: "partner", Username: "alice@corp.example."}, err: `upstream "corp"`},
		{name: "an email with a trailing dot does not hide the owner", upstreams: three,
			in: protocols.Identity{Upstream: "social", Username: "bob", Email: "alice@CORP.example."}, err: `upstream "corp"`},
		{name: "white space in a name is refused", upstreams: three,
			in: protocols.Identity{Upstream: "partner", Username: "alice@corp.example "}, err: `invisible characters`},
		{name: "a zero-width character in an email is refused", upstreams: three,
			in: protocols.Identity{Upstream: "social", Username: "bob", Email: "alice@corp.example\u200b"}, err: `invisible characters`},
		{name: "shared group: a member's name in the other member's domain", upstreams: three, shared: [][]string{{"corp", "social"}},
			in: protocols.Identity{Upstream: "social", Username: "alice@corp.example", Email: "alice@corp.example"}, user: "alice@corp.example"},
		{name: "shared group: bare names of the default owner's group", upstreams: three, owner: "corp", shared: [][]string{{"corp", "social"}},
			in: protocols.Identity{Upstream: "social", Username: "alice"}, user: "alice"},
		{name: "shared group: outsiders are still refused", upstreams: three, shared: [][]string{{"corp", "social"}},
			in: protocols.Identity{Upstream: "partner", Username: "alice@corp.example"}, err: `upstream "corp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := &Snapshot{Config: &config.Config{UserNames: config.UserNames{DefaultOwner: tt.owner, Shared: tt.shared}}, upstreams: tt.upstreams, owners: domainOwners(tt.upstreams)}
			claims := map[string]string{}
			for k, v := range tt.in.Claims {
				claims[k] = v
			}
			got, err := ownNames(snap, tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != tt.user || got.Claims["upn"] != tt.upn || got.Email != tt.in.Email {
				t.Errorf("got user %q upn %q email %q, want %q %q %q", got.Username, got.Claims["upn"], got.Email, tt.user, tt.upn, tt.in.Email)
			}
			if tt.in.Claims["upn"] != claims["upn"] {
				t.Error("the upstream's claims map was changed in place")
			}
		})
	}
}

// claimingIdP is a redirect upstream that signs in whoever the test says.
type claimingIdP struct {
	fakeIdP
	user, email string
}

func (c *claimingIdP) Finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	id, err := c.fakeIdP.Finish(ctx, r, a)
	id.Username, id.Email = c.user, c.email
	return id, err
}

const identityConfig = `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: local, type: local, domains: [corp.example] }
  - { id: partner, type: local }
  - { id: idp-a, type: fake, domains: [partner.example] }
user_names: { default_owner: local }
apps:
  - id: portal
    type: oidc
    policy: staff
    oidc: { client_id: portal }
  - id: wiki
    type: proxy
    host: app.example
    to: ["http://127.0.0.1:9"]
    policy: staff
    headers: { X-Remote-User: username, X-Remote-Email: email }
policies: [policies/*.yaml]
`

// Sign-ins from two upstreams, through the whole broker: what a protocol
// app is told (the SessionProvider answer, as OIDC, SAML and WS-Fed get
// it) and the identity headers a proxy app gets from the session.
func TestNamesFromDifferentUpstreamsNeverLookAlike(t *testing.T) {
	tests := []struct {
		name, upstream string
		user, email    string // what idp-a says (password upstreams: their users)
		want           string // the fake protocol's answer
		headers        string // X-Remote-User|X-Remote-Email
		reason         string // audit reason of a refusal
	}{
		{name: "corp's alice", upstream: "local", user: "alice", want: "ok alice", headers: "alice|"},
		{name: "partner's bare name is qualified", upstream: "partner", user: "pat", want: "ok pat@partner", headers: "pat@partner|"},
		{name: "partner's own domain", upstream: "idp-a", user: "alice@partner.example", email: "alice@partner.example",
			want: "ok alice@partner.example", headers: "alice@partner.example|alice@partner.example"},
		{name: "partner's bare alice is not corp's alice", upstream: "idp-a", user: "alice", want: "ok alice@idp-a", headers: "alice@idp-a|"},
		{name: "partner claiming corp's domain is refused", upstream: "idp-a", user: "alice@corp.example", reason: "foreign-domain"},
		{name: "partner's email in corp's domain is refused", upstream: "idp-a", user: "alice@partner.example", email: "alice@corp.example", reason: "foreign-domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := &claimingIdP{fakeIdP: fakeIdP{id: "idp-a"}, user: tt.user, email: tt.email}
			e := newEnvWith(t, identityConfig, []protocols.Upstream{idp})
			idp.now = e.clock.Now
			snap := e.srv.Current()
			snap.AddDownstream(fakeProtocol{})
			if err := e.srv.Swap(snap); err != nil {
				t.Fatal(err)
			}
			r := e.get(e.client, "/fake/sso?app=portal")
			login := r.location
			if tt.upstream == "idp-a" {
				r = e.get(e.client, login+"&upstream=idp-a")
				u, _ := url.Parse(r.location)
				state := u.Query().Get("state")
				r = e.get(e.client, "/callback/idp-a?code=ok-"+state+"&state="+state)
			} else {
				form := e.get(e.client, login+"&upstream="+tt.upstream)
				r = e.post(e.client, login, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {tt.upstream},
					"username": {tt.user}, "password": {tt.user + "-pw"}})
			}
			if tt.reason != "" {
				evs := e.audit.events(t)
				last := evs[len(evs)-1]
				if r.code != http.StatusForbidden || !strings.Contains(r.body, "another sign-in method is responsible for") ||
					last.Reason != tt.reason || last.Outcome != "failure" || last.Upstream != "idp-a" {
					t.Fatalf("refusal = %d %+v\n%s", r.code, last, r.body)
				}
				for _, ev := range evs {
					if ev.Event == "signin" && ev.Outcome == "success" {
						t.Fatalf("a refused sign-in was also audited as a success: %+v", ev)
					}
				}
				if s := e.get(e.client, "/fake/sso?app=portal"); s.code != http.StatusSeeOther || !strings.HasPrefix(s.location, "/login?") {
					t.Fatalf("a session was made: %d %q", s.code, s.body)
				}
				return
			}
			if r.code != http.StatusSeeOther || r.location != "/fake/sso?app=portal" {
				t.Fatalf("sign-in = %d %q\n%s", r.code, r.location, r.body)
			}
			if got := e.get(e.client, r.location).body; got != tt.want {
				t.Errorf("protocol app was told %q, want %q", got, tt.want)
			}
			req, _ := http.NewRequest("GET", e.http.URL+"/", nil)
			for _, c := range e.client.Jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
			s := e.srv.loadSession(req, snap)
			if s == nil {
				t.Fatal("no session")
			}
			app := snap.apps["wiki"]
			h := identityHeaders(app, newHeaderPlan(app), s.Identity)
			if got := h.Get("X-Remote-User") + "|" + h.Get("X-Remote-Email"); got != tt.headers {
				t.Errorf("proxy headers %q, want %q", got, tt.headers)
			}
		})
	}
}

// A qualified name goes back to its upstream as the upstream knows it: a
// step-up's login_hint and domain_hint are the upstream's own name.
func TestStepUpHintIsTheUpstreamsName(t *testing.T) {
	e, a, _ := newRedirectEnv(t, true) // idp-a's alice@corp.example: no one lists corp.example
	state := toIdP(t, e, "demo")
	e.get(e.client, "/callback/idp-a?code=ok-"+state+"&state="+state)
	if page := e.get(e.client, "/apps/demo/"); !strings.Contains(page.body, "alice@corp.example@idp-a") {
		t.Fatalf("want the qualified name on the app page:\n%s", page.body)
	}
	if r := e.get(e.client, "/apps/mfa/"); r.code != http.StatusSeeOther {
		t.Fatalf("step-up = %d", r.code)
	}
	if req := a.begun[len(a.begun)-1]; req.LoginHint != "alice@corp.example" || req.DomainHint != "corp.example" {
		t.Fatalf("step-up hints %q %q, want the upstream's own name", req.LoginHint, req.DomainHint)
	}
}

package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// fakeProtocol is a downstream for broker tests: GET /fake/sso?app=A asks
// for a session and answers "ok <user>" or "error <err>", as a protocol
// would answer its app. fresh=<unix> asks for authentication since then.
type fakeProtocol struct{}

func (fakeProtocol) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	// Protocols name the app in the path too (/saml/sso/<app>); the broker
	// must hand the path value through.
	mux.HandleFunc("GET /fake/app/{app}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "app %s", r.PathValue("app"))
	})
	mux.HandleFunc("GET /fake/refuse", func(w http.ResponseWriter, r *http.Request) {
		sp.Refuse(w, r, http.StatusBadRequest, protocols.RefusedReplayed, "request-already-answered")
	})
	mux.HandleFunc("GET /fake/sso", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := protocols.SessionRequest{App: q.Get("app"), Passive: q.Get("passive") == "1", MFA: q.Get("mfa") == "1", Resume: r.URL.RequestURI()}
		if f, err := strconv.ParseInt(q.Get("fresh"), 10, 64); err == nil {
			req.FreshAfter = time.Unix(f, 0)
		}
		id, handled, err := sp.Session(w, r, req)
		switch {
		case handled:
		case err != nil:
			sp.Audit(r, protocols.AuditEvent{Event: "fake", Outcome: "failure", App: req.App, Reason: err.Error()})
			fmt.Fprintf(w, "error %v", err)
		case q.Get("grant") == "1":
			_ = json.NewEncoder(w).Encode(id) // what a protocol keeps for a refresh
		default:
			fmt.Fprintf(w, "ok %s", id.Username)
		}
	})
	// A refresh: the identity kept from /fake/sso?grant=1, decided again.
	mux.HandleFunc("POST /fake/refresh", func(w http.ResponseWriter, r *http.Request) {
		var id protocols.Identity
		if err := json.NewDecoder(r.Body).Decode(&id); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := sp.Recheck(r, r.URL.Query().Get("app"), id); err != nil {
			fmt.Fprintf(w, "error %v", err)
			return
		}
		fmt.Fprint(w, "ok")
	})
}

const downstreamConfig = brokerHead + `user_names: { default_owner: local }
apps:
  - { id: portal, type: oidc, policy: staff, upstreams: [local], oidc: { client_id: portal } }
  - { id: capped, type: oidc, policy: capped, upstreams: [local], oidc: { client_id: capped } }
policies: [policies/*.yaml]
`

func TestProtocolRoutesGetPathValues(t *testing.T) {
	e := downstreamEnv(t)
	if r := e.get(e.client, "/fake/app/portal"); r.body != "app portal" {
		t.Fatalf("path value lost: %d %q", r.code, r.body)
	}
	if r := e.get(e.client, "/fake/nothing"); r.code != http.StatusNotFound {
		t.Fatalf("unrouted path: %d", r.code)
	}
}

// A protocol's refusal is the broker's page: the user's language, the
// reason code, the correlation id (JSON for API clients).
func TestProtocolRefusalPage(t *testing.T) {
	e := downstreamEnv(t)
	for lang, want := range map[string]string{"ja": "すでに使われています", "en": "already used"} {
		req, _ := http.NewRequest("GET", "/fake/refuse", nil)
		req.Header.Set("Accept-Language", lang)
		r := e.do(e.newClient(), req)
		id := r.header.Get("X-Request-Id")
		if r.code != http.StatusBadRequest || !strings.Contains(r.body, want) || !strings.Contains(r.body, "request-already-answered") ||
			id == "" || !strings.Contains(r.body, id) {
			t.Errorf("%s: %d %s\n%s", lang, r.code, id, r.body)
		}
	}
	req, _ := http.NewRequest("GET", "/fake/refuse", nil)
	req.Header.Set("Accept", "application/json")
	if r := e.do(e.newClient(), req); !strings.Contains(r.body, `"error":"proto.replayed"`) || !strings.Contains(r.body, "correlation_id") {
		t.Errorf("JSON: %s", r.body)
	}
}

func downstreamEnv(t *testing.T) *testEnv {
	e := newEnvWith(t, downstreamConfig, nil)
	snap := e.srv.Current()
	snap.AddDownstream(fakeProtocol{})
	if err := e.srv.Swap(snap); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDownstreamSessionFlow(t *testing.T) {
	e := downstreamEnv(t)
	// No session: the broker takes the browser to sign in...
	r := e.get(e.client, "/fake/sso?app=portal")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?l=") {
		t.Fatalf("no session: %d %q", r.code, r.location)
	}
	form := e.get(e.client, r.location)
	s := e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	// ... and back to the protocol, which now gets the identity.
	if s.code != http.StatusSeeOther || s.location != "/fake/sso?app=portal" {
		t.Fatalf("after sign-in: %d %q", s.code, s.location)
	}
	if r := e.get(e.client, s.location); r.body != "ok alice" {
		t.Fatalf("resumed: %q", r.body)
	}
	// Fresh authentication since a time after the session's: sign in again,
	// once; the resumed request is then satisfied (no loop).
	fresh := strconv.FormatInt(e.clock.Now().Add(time.Minute).Unix(), 10)
	e.clock.Advance(2 * time.Minute)
	r = e.get(e.client, "/fake/sso?app=portal&fresh="+fresh)
	if r.code != http.StatusSeeOther {
		t.Fatalf("fresh login not asked: %d %q", r.code, r.body)
	}
	form = e.get(e.client, r.location)
	s = e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	if r := e.get(e.client, s.location); r.body != "ok alice" {
		t.Fatalf("after fresh login: %d %q", r.code, r.body)
	}
}

func TestDownstreamDeniedAndPassive(t *testing.T) {
	e := downstreamEnv(t)
	if r := e.get(e.client, "/fake/sso?app=portal&passive=1"); r.body != "error login required" {
		t.Fatalf("passive without session: %q", r.body)
	}
	// eve is not staff: the protocol is told, and answers its app itself.
	r := e.get(e.client, "/fake/sso?app=portal")
	form := e.get(e.client, r.location)
	s := e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"eve"}, "password": {"eve-pw"}})
	if s.code != http.StatusSeeOther {
		t.Fatalf("sign-in for a protocol app must not render the deny page itself: %d", s.code)
	}
	if r := e.get(e.client, s.location); r.body != "error access denied" {
		t.Fatalf("denied: %q", r.body)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-2]; last.Event != "access" || last.Outcome != "deny" || last.Policy != "staff" {
		t.Fatalf("audit = %+v", last)
	}
	if r := e.get(e.client, "/fake/sso?app=nope"); r.body != "error access denied" {
		t.Fatalf("unknown app: %q", r.body)
	}
}

// TestDownstreamAppAsksForMFA: an app's own MFA demand (acr_values,
// AuthnContextClassRef) is a step-up; with password-only upstreams it is
// refused, never answered without MFA.
func TestDownstreamAppAsksForMFA(t *testing.T) {
	e := downstreamEnv(t)
	r := e.get(e.client, "/fake/sso?app=portal")
	form := e.get(e.client, r.location)
	e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	if r := e.get(e.client, "/fake/sso?app=portal"); r.body != "ok alice" {
		t.Fatalf("without MFA asked: %q", r.body)
	}
	if r := e.get(e.client, "/fake/sso?app=portal&mfa=1"); r.body != "error access denied" {
		t.Fatalf("unknown app: %q", r.body)
	}
}

func TestSealOpenClaim(t *testing.T) {
	e := downstreamEnv(t)
	sp := sessionProvider{e.srv}
	v, err := sp.Seal("code", map[string]string{"sub": "alice"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := sp.Open("code", v, &got); err != nil || got["sub"] != "alice" {
		t.Fatalf("open: %v %v", got, err)
	}
	if err := sp.Open("refresh", v, &got); err == nil {
		t.Fatal("a value sealed for one purpose opened as another")
	}
	e.clock.Advance(time.Minute)
	if err := sp.Open("code", v, &got); err == nil {
		t.Fatal("expired value opened")
	}
	ctx := context.Background()
	first, err := sp.Claim(ctx, "k", e.clock.Now().Add(time.Minute))
	again, _ := sp.Claim(ctx, "k", e.clock.Now().Add(time.Minute))
	if err != nil || !first || again {
		t.Fatalf("claim: %v %v %v", first, again, err)
	}
	if c, err := sp.Claimed(ctx, "k"); !c || err != nil {
		t.Fatalf("claimed k: %v %v", c, err)
	}
	if c, err := sp.Claimed(ctx, "other"); c || err != nil {
		t.Fatalf("claimed other: %v %v", c, err)
	}
}

// grantAfterSignIn signs alice in for portal and returns the identity a
// protocol keeps for a refresh.
func grantAfterSignIn(t *testing.T, e *testEnv) protocols.Identity {
	t.Helper()
	r := e.get(e.client, "/fake/sso?app=portal")
	form := e.get(e.client, r.location)
	e.post(e.client, r.location, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	g := e.get(e.client, "/fake/sso?app=portal&grant=1")
	var id protocols.Identity
	if err := json.Unmarshal([]byte(g.body), &id); err != nil || id.SessionID == "" || id.Ref == "" {
		t.Fatalf("identity for a grant: %q (%v)", g.body, err)
	}
	return id
}

// refresh asks the broker again for id, as a token endpoint would.
func (e *testEnv) refresh(app string, id protocols.Identity) string {
	body, _ := json.Marshal(id)
	req, _ := http.NewRequest("POST", "/fake/refresh?app="+app, strings.NewReader(string(body)))
	return e.do(e.newClient(), req).body
}

// A refresh is a use of the session: it is refused once the session is
// past its lifetime, when the identity's upstream is not the app's, and
// when the policy says no.
func TestRefreshRecheck(t *testing.T) {
	e := downstreamEnv(t)
	id := grantAfterSignIn(t, e)
	if got := e.refresh("portal", id); got != "ok" {
		t.Fatalf("refresh in a live session: %q", got)
	}
	forged := id
	forged.SessionID = "another-session-id-xx"
	if got := e.refresh("portal", forged); got != "error login required" {
		t.Fatalf("refresh with a reference to another session: %q", got)
	}
	eve := id
	eve.Groups = nil
	if got := e.refresh("portal", eve); got != "error access denied" {
		t.Fatalf("refresh for a user the policy no longer allows: %q", got)
	}
	partner := id
	partner.Upstream = "partner"
	if got := e.refresh("portal", partner); got != "error login required" {
		t.Fatalf("refresh with an upstream the app does not accept: %q", got)
	}
	e.clock.Advance(13 * time.Hour)
	if got := e.refresh("portal", id); got != "error login required" {
		t.Fatalf("refresh after the session's lifetime: %q", got)
	}
}

// Signing out ends the refresh tokens issued in the session, for as long
// as they could live: also when another app's policy capped the session
// (and so its cookie's expiry) after the token was issued.
func TestRefreshEndsWithSignOut(t *testing.T) {
	e := downstreamEnv(t)
	id := grantAfterSignIn(t, e)
	if r := e.get(e.client, "/fake/sso?app=capped"); r.body != "ok alice" {
		t.Fatalf("capped app: %q", r.body)
	}
	e.clock.Advance(5 * time.Minute)
	who := e.get(e.client, "/logout")
	e.post(e.client, "/logout", url.Values{"csrf": {csrfOf(t, who.body)}})
	for _, wait := range []time.Duration{0, 31 * time.Minute} {
		e.clock.Advance(wait)
		if got := e.refresh("portal", id); got != "error login required" {
			t.Fatalf("refresh %v after sign-out: %q", wait, got)
		}
	}
}

package saml

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/broker/brokertest"
	"github.com/fedgate/fedgate/protocols"
)

// brokerSP is the real broker in front of this package's upstream: logins
// begin at an app, answers are POSTed to the ACS, refusals are audited.
type brokerSP struct {
	t     *testing.T
	f     *upFixture
	srv   *httptest.Server
	audit *brokertest.Buffer
}

func newBrokerSP(t *testing.T, change func(*UpstreamConfig)) *brokerSP {
	t.Helper()
	f := newUpFixture(t, change)
	// https: the broker's cookies are Secure, and the jar sends them only so.
	h, audit := brokertest.Broker(t, `server: { public_url: "`+base+`", insecure_http: true }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: partner, type: fake }
apps:
  - { id: demo, type: whoami, policy: all, upstreams: [partner] }
policies: [all.yaml]
`, map[string]string{"all.yaml": "policy: all\nrules:\n  - { name: all, allow: {} }\n"}, []protocols.Upstream{f.u}, f.u.now)
	hs := httptest.NewTLSServer(h)
	t.Cleanup(hs.Close)
	return &brokerSP{t: t, f: f, srv: hs, audit: audit}
}

// browser is a fresh cookie jar that does not follow redirects.
func (b *brokerSP) browser() *http.Client {
	c := b.srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// login starts a sign-in at the app in c and follows it to the IdP; it
// returns the RelayState and the AuthnRequest's ID, which answers are for.
func (b *brokerSP) login(c *http.Client) (state, reqID string) {
	b.t.Helper()
	to := b.srv.URL + "/apps/demo/"
	for range 4 {
		r, err := c.Get(to)
		if err != nil {
			b.t.Fatal(err)
		}
		r.Body.Close()
		loc, err := r.Location()
		if err != nil {
			b.t.Fatalf("GET %s: %d, no redirect", to, r.StatusCode)
		}
		if strings.HasPrefix(loc.String(), upSSO+"?") {
			q, req := readRedirect(b.t, loc.String())
			return q.Get("RelayState"), req.SelectAttrValue("ID", "")
		}
		to = b.srv.URL + loc.RequestURI()
	}
	b.t.Fatal("the login never reached the IdP")
	return "", ""
}

// answer POSTs a SAMLResponse to the ACS and returns the status and the
// session cookies set; a refusal's page must not say which check failed.
func (b *brokerSP) answer(c *http.Client, state, samlResponse string) (int, []string) {
	b.t.Helper()
	r, err := c.PostForm(b.srv.URL+"/callback/partner", url.Values{"RelayState": {state}, "SAMLResponse": {samlResponse}})
	if err != nil {
		b.t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if _, reason := b.lastSignIn(); r.StatusCode == http.StatusBadRequest &&
		(!strings.Contains(string(page), "could not be verified") || strings.Contains(string(page), strings.TrimPrefix(reason, "upstream-answer-rejected:"))) {
		b.t.Errorf("the refusal page is not the generic one, or names the check (%s):\n%s", reason, page)
	}
	var sessions []string
	for _, ck := range r.Cookies() {
		// The broker's session cookie (broker/session.go), set, not cleared.
		if strings.TrimPrefix(ck.Name, "__Host-") == "fedgate" && ck.MaxAge >= 0 {
			sessions = append(sessions, ck.Name)
		}
	}
	return r.StatusCode, sessions
}

// lastSignIn is the last sign-in audit event.
func (b *brokerSP) lastSignIn() (outcome, reason string) {
	b.t.Helper()
	var ev struct{ Event, Outcome, Reason string }
	for _, l := range strings.Split(string(b.audit.Bytes()), "\n") {
		var e struct{ Event, Outcome, Reason string }
		if json.Unmarshal([]byte(l), &e) == nil && e.Event == "signin" {
			ev = e
		}
	}
	return ev.Outcome, ev.Reason
}

// wantCheck is the audited check for each file of testdata/sp-corpus
// (named by the corpus case that writes it): exact, so that a wrapping
// attack refused for an incidental reason would show.
var wantCheck = map[string]protocols.Check{
	"assertion-unsigned-when-required":                    protocols.CheckSignature,
	"cleartext-when-encryption-required":                  protocols.CheckEncryption,
	"comment-in-nameid":                                   protocols.CheckComment,
	"dtd-entities":                                        protocols.CheckDTD,
	"encrypted-for-another-key":                           protocols.CheckDecryption,
	"expired":                                             protocols.CheckExpired,
	"in-response-to-another-login":                        protocols.CheckInResponseTo,
	"keyinfo-certificate-not-the-metadatas":               protocols.CheckSignature,
	"not-yet-valid":                                       protocols.CheckNotYetValid,
	"nothing-signed":                                      protocols.CheckSignature,
	"sha1-not-allowed":                                    protocols.CheckSignature,
	"tampered-nameid":                                     protocols.CheckSignature,
	"transient-nameid-as-subject":                         protocols.CheckSubject,
	"unsigned-assertion-beside-signed":                    protocols.CheckSignature,
	"unsigned-assertion-in-signed-response-unsigned-root": protocols.CheckStructure,
	"wrong-audience":                                      protocols.CheckAudience,
	"wrong-destination":                                   protocols.CheckDestination,
	"wrong-issuer":                                        protocols.CheckIssuer,
	"wrong-recipient":                                     protocols.CheckRecipient,
	// XSW: the evil copy is never read; each is refused by the signature
	// structure, or because a Response must hold exactly one assertion.
	"xsw1-assertion": protocols.CheckSignature, "xsw1-response": protocols.CheckSignature,
	"xsw2-assertion": protocols.CheckSignature, "xsw2-response": protocols.CheckSignature,
	"xsw3-assertion": protocols.CheckStructure, "xsw3-response": protocols.CheckSignature,
	"xsw4-assertion": protocols.CheckSignature, "xsw4-response": protocols.CheckSignature,
	"xsw5-assertion": protocols.CheckStructure, "xsw5-response": protocols.CheckSignature,
	"xsw6-assertion": protocols.CheckSignature, "xsw6-response": protocols.CheckSignature,
	"xsw7-assertion": protocols.CheckSignature, "xsw7-response": protocols.CheckSignature,
	"xsw8-assertion": protocols.CheckSignature, "xsw8-response": protocols.CheckSignature,
}

// TestBrokerRefusesCorpus: each case of the negative corpus, minted for a
// login the real broker began (the files in testdata hold the package
// fixture's request ID; the broker's is random), POSTed to the ACS with
// that login's RelayState: 400, the audit reason names the check, and no
// session. A well-formed answer to the same kind of login signs in, so the
// refusals are the corpus's doing.
func TestBrokerRefusesCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "sp-corpus", "*.b64"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".b64"))
	}
	var cases []string
	for _, c := range corpus() {
		cases = append(cases, c.name)
	}
	slices.Sort(names)
	slices.Sort(cases)
	if !slices.Equal(names, cases) || len(names) != len(wantCheck) {
		t.Fatalf("files %v\ncases %v\n%d expected checks: every file needs a case and a check", names, cases, len(wantCheck))
	}
	t.Run("a good answer signs in", func(t *testing.T) {
		b := newBrokerSP(t, nil)
		c := b.browser()
		state, reqID := b.login(c)
		b.f.reqID = reqID
		code, sessions := b.answer(c, state, encode(t, signAssertion(t, b.f.answer().doc(), b.f.idp)))
		if outcome, _ := b.lastSignIn(); code != http.StatusSeeOther || len(sessions) == 0 || outcome != "success" {
			t.Fatalf("good answer: %d, session cookies %v, audit %s", code, sessions, outcome)
		}
	})
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			b := newBrokerSP(t, c.cfg)
			br := b.browser()
			state, reqID := b.login(br)
			b.f.reqID = reqID
			code, sessions := b.answer(br, state, c.make(t, b.f))
			outcome, reason := b.lastSignIn()
			want := "upstream-answer-rejected:" + string(wantCheck[c.name])
			if code != http.StatusBadRequest || outcome != "failure" || reason != want {
				t.Errorf("%d, audit %s %q; want 400, failure %q", code, outcome, reason, want)
			}
			if len(sessions) > 0 {
				t.Errorf("session cookies %v set with the refusal", sessions)
			}
		})
	}
}

// TestBrokerRefusesReplayAcrossLogins: an assertion accepted in one login
// and sent again, otherwise valid, in another browser's login is refused.
func TestBrokerRefusesReplayAcrossLogins(t *testing.T) {
	b := newBrokerSP(t, nil)
	first := b.browser()
	state, reqID := b.login(first)
	b.f.reqID = reqID
	if code, sessions := b.answer(first, state, encode(t, signAssertion(t, b.f.answer().doc(), b.f.idp))); code != http.StatusSeeOther || len(sessions) == 0 {
		t.Fatalf("first use: %d, session cookies %v", code, sessions)
	}
	second := b.browser()
	state, reqID = b.login(second)
	b.f.reqID = reqID
	// The same assertion ID (the minted default), for the second login.
	code, sessions := b.answer(second, state, encode(t, signAssertion(t, b.f.answer().doc(), b.f.idp)))
	outcome, reason := b.lastSignIn()
	if code != http.StatusBadRequest || outcome != "failure" || reason != "upstream-answer-rejected:replay" || len(sessions) > 0 {
		t.Fatalf("replay: %d, audit %s %q, session cookies %v", code, outcome, reason, sessions)
	}
}

package wsfed

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var fixedNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

const (
	base   = "https://sso.example.co.jp"
	salt   = "0123456789abcdef-test-salt"
	tenant = "8f3b2a10-1c2d-4e5f-9a8b-0123456789ab"
)

func fixedKey(t testing.TB, name string) xmlsigtest.Key {
	t.Helper()
	kb, _ := os.ReadFile("testdata/" + name + "-key.pem")
	cb, _ := os.ReadFile("testdata/" + name + "-cert.pem")
	kp, _ := pem.Decode(kb)
	cp, _ := pem.Decode(cb)
	if kp == nil || cp == nil {
		t.Fatal("testdata keys missing (testdata/gen.sh)")
	}
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return xmlsigtest.Key{Key: k.(*rsa.PrivateKey), Cert: c}
}

// fakeSP is the broker for these tests.
type fakeSP struct {
	mu      sync.Mutex
	recheck error // what Recheck answers
	id      protocols.Identity
	err     error
	handled bool
	ended   int
	reqs    []protocols.SessionRequest
	audits  []protocols.AuditEvent
}

func (f *fakeSP) Current(*http.Request) (protocols.Identity, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.id.Subject != ""
}

func (f *fakeSP) Recheck(*http.Request, string, protocols.Identity) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recheck
}

func (f *fakeSP) Session(w http.ResponseWriter, r *http.Request, req protocols.SessionRequest) (protocols.Identity, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	if f.handled {
		http.Redirect(w, r, "/login", http.StatusFound)
		return protocols.Identity{}, true, nil
	}
	return f.id, false, f.err
}
func (f *fakeSP) Seal(p string, v any, _ time.Duration) (string, error) {
	b, err := json.Marshal(v)
	return p + "|" + string(b), err
}
func (f *fakeSP) Open(p, s string, v any) error {
	q, rest, ok := strings.Cut(s, "|")
	if !ok || q != p {
		return errors.New("bad seal")
	}
	return json.Unmarshal([]byte(rest), v)
}
func (f *fakeSP) Claim(context.Context, string, time.Time) (bool, error) { return true, nil }
func (f *fakeSP) Claimed(context.Context, string) (bool, error)          { return false, nil }
func (f *fakeSP) EndSession(http.ResponseWriter, *http.Request) error {
	f.ended++
	return nil
}
func (f *fakeSP) Audit(_ *http.Request, e protocols.AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
}
func (f *fakeSP) last() protocols.AuditEvent {
	if len(f.audits) == 0 {
		return protocols.AuditEvent{}
	}
	return f.audits[len(f.audits)-1]
}

type env struct {
	sts *STS
	sp  *fakeSP
	mux *http.ServeMux
	key xmlsigtest.Key
}

func newEnv(t *testing.T, rps map[string]RPConfig) *env {
	t.Helper()
	k := fixedKey(t, "idp")
	cfg := Config{PublicURL: base}
	for _, app := range []string{"intranet", "saml2app", "m365", "partner"} {
		if c, ok := rps[app]; ok {
			cfg.RPs = append(cfg.RPs, RPEntry{App: app, RPConfig: c})
		}
	}
	n := 0
	sts, err := Open(cfg, Deps{Keys: []protocols.SigningKey{{Signer: k.Key, Cert: k.Cert, KeyID: "k1"}},
		Now: func() time.Time { return fixedNow }, NewID: func() string { n++; return fmt.Sprintf("_id%d", n) }})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{sts: sts, sp: &fakeSP{id: protocols.Identity{Subject: "u-1001", Upstream: "corp", Username: "taro@corp.example",
		Email: "taro@example.co.jp", Groups: []string{"staff"}, Claims: map[string]string{"immutable_id": "AbCdEf0123456789+/=="},
		AuthTime: fixedNow.Add(-10 * time.Minute), AMR: []string{"pwd"}}}, mux: http.NewServeMux(), key: k}
	sts.Mount(e.mux, e.sp)
	return e
}

func (e *env) get(target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func signIn(path string, kv ...string) string {
	q := url.Values{"wa": {"wsignin1.0"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return path + "?" + q.Encode()
}

var fieldRE = regexp.MustCompile(`name="(\w+)" value="([^"]*)"`)

// posted returns the action and fields of the auto-POST page.
func posted(t *testing.T, w *httptest.ResponseRecorder) (string, map[string]string) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	m := regexp.MustCompile(`action="([^"]+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no form: %s", w.Body)
	}
	fields := map[string]string{}
	for _, f := range fieldRE.FindAllStringSubmatch(w.Body.String(), -1) {
		fields[f[1]] = html.UnescapeString(f[2])
	}
	return html.UnescapeString(m[1]), fields
}

// token parses wresult and returns the verified assertion.
func (e *env) token(t *testing.T, wresult string, idAttr string) *etree.Element {
	t.Helper()
	doc, err := xmlsig.Parse([]byte(wresult), 0)
	if err != nil {
		t.Fatal(err)
	}
	rst := doc.Root().FindElement("./RequestedSecurityToken")
	if rst == nil || len(rst.ChildElements()) != 1 {
		t.Fatalf("no token in %s", wresult)
	}
	a, err := xmlsig.Verifier{Certs: e.key.Certs()}.Verify(rst.ChildElements()[0], idAttr)
	if err != nil {
		t.Fatal(err)
	}
	// The assertion declares its own namespaces: validate it as it stands
	// in the RSTR, against the SAML 1.1 or 2.0 assertion schema.
	xsd := "saml-schema-assertion-2.0.xsd"
	if idAttr == "AssertionID" {
		xsd = "cs-sstc-schema-assertion-1.1.xsd"
	}
	start, end := strings.Index(wresult, "<saml:Assertion "), strings.LastIndex(wresult, "</saml:Assertion>")
	if start < 0 || end < start {
		t.Fatalf("no saml:Assertion in %s", wresult)
	}
	xmlsigtest.ValidateSchema(t, []byte(wresult[start:end+len("</saml:Assertion>")]), filepath.Join(xmlsigtest.SAMLSchemaDir, xsd))
	return a
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (-update if intended):\n%s", name, got)
	}
}

func intranet() RPConfig {
	return RPConfig{Realm: "urn:intranet", ReplyURLs: []string{"https://intranet.example.co.jp/", "https://intranet.example.co.jp/alt/"},
		PersistentSalt: protocols.NewSecret(salt), Claims: []Claim{
			{Type: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn", Value: "upn"},
			{Type: "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups", Value: "groups"}}}
}

func TestSignInSAML11(t *testing.T) {
	e := newEnv(t, map[string]RPConfig{"intranet": intranet()})
	w := e.get(signIn(Path, "wtrealm", "urn:intranet", "wreply", "https://intranet.example.co.jp/alt/", "wctx", "rm=0&id=passive&ru=/x"))
	action, f := posted(t, w)
	if action != "https://intranet.example.co.jp/alt/" || f["wa"] != "wsignin1.0" || f["wctx"] != "rm=0&id=passive&ru=/x" {
		t.Fatalf("posted to %s: %v", action, f)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://intranet.example.co.jp;") {
		t.Fatalf("CSP %q", csp)
	}
	golden(t, "rstr-saml11.xml", []byte(f["wresult"]))
	a := e.token(t, f["wresult"], "AssertionID")
	if a.SelectAttrValue("Issuer", "") != base+"/wsfed" || a.FindElement("./Conditions/AudienceRestrictionCondition/Audience").Text() != "urn:intranet" {
		t.Errorf("issuer/audience wrong")
	}
	if got := a.FindElement("./AuthenticationStatement").SelectAttrValue("AuthenticationMethod", ""); got != protocols.MethodPassword {
		t.Errorf("method %q", got)
	}
	if got := a.FindElement("./AttributeStatement/Attribute[@AttributeName='upn']/AttributeValue").Text(); got != "taro@corp.example" {
		t.Errorf("upn %q", got)
	}
	xmlsigtest.XMLSec1Verify(t, []byte(f["wresult"]), e.key, "AssertionID", nsSAML1+":Assertion")
	if ev := e.sp.last(); ev.Event != "wsfed.signin" || ev.Outcome != "success" {
		t.Errorf("audit %+v", ev)
	}
}

func TestSignInSAML2(t *testing.T) {
	rp := intranet()
	rp.Realm, rp.TokenType = "https://app2.example/", TokenSAML2
	e := newEnv(t, map[string]RPConfig{"saml2app": rp})
	_, f := posted(t, e.get(signIn(Path, "wtrealm", "https://app2.example/")))
	golden(t, "rstr-saml2.xml", []byte(f["wresult"]))
	if !strings.Contains(f["wresult"], tokenTypeSAML2) {
		t.Error("TokenType")
	}
	a := e.token(t, f["wresult"], "ID")
	if a.FindElement("./Conditions/AudienceRestriction/Audience").Text() != "https://app2.example/" {
		t.Error("audience")
	}
	xmlsigtest.XMLSec1Verify(t, []byte(f["wresult"]), e.key, "ID", nsSAML2+":Assertion")
}

func TestFreshnessAndResume(t *testing.T) {
	e := newEnv(t, map[string]RPConfig{"intranet": intranet()})
	e.sp.handled = true
	w := e.get(signIn(Path, "wtrealm", "urn:intranet", "wfresh", "0", "wauth", "urn:oasis:names:tc:SAML:1.0:am:password", "whr", "corp.example"))
	if w.Code != http.StatusFound {
		t.Fatalf("status %d", w.Code)
	}
	r := e.sp.reqs[0]
	if !r.FreshAfter.Equal(fixedNow) || r.MFA || r.LoginHint != "" { // whr=corp.example is a realm, not a user
		t.Fatalf("wfresh=0 / wauth / whr: %+v", r)
	}
	e.get(signIn(Path, "wtrealm", "urn:intranet", "whr", "corp.example", "username", "taro@corp.example"))
	if h := e.sp.reqs[1].LoginHint; h != "taro@corp.example" {
		t.Fatalf("username hint %q", h)
	}
	e.sp.reqs = e.sp.reqs[:1]
	e.sp.handled = false
	_, f := posted(t, e.get(r.Resume))
	if e.sp.reqs[1].FreshAfter != r.FreshAfter || f["wresult"] == "" {
		t.Fatal("resume lost the request")
	}
	e.get(signIn(Path, "wtrealm", "urn:intranet", "wauth", MethodMFA))
	if !e.sp.reqs[2].MFA {
		t.Error("wauth=multipleauthn should ask for MFA")
	}
}

func TestRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		target string
		status int
		reason string
	}{
		"unknown realm":         {signIn(Path, "wtrealm", "urn:other"), 400, "unknown-realm"},
		"wreply not registered": {signIn(Path, "wtrealm", "urn:intranet", "wreply", "https://evil.example/"), 400, "wreply-not-registered"},
		"wreply suffix":         {signIn(Path, "wtrealm", "urn:intranet", "wreply", "https://intranet.example.co.jp/.evil.example/"), 400, "wreply-not-registered"},
		"realm of another app":  {signIn(Path+"/m365", "wtrealm", "urn:intranet"), 400, "unknown-realm"},
		"unknown wa":            {Path + "?wa=wattr1.0", 400, "unsupported-wa"},
		"huge wctx":             {signIn(Path, "wtrealm", "urn:intranet", "wctx", strings.Repeat("x", maxWctx+1)), 400, "parameter-too-long"},
		"forged resume":         {ResumePath + "?s=x", 400, "sign-in-state-expired"},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, map[string]RPConfig{"intranet": intranet(), "m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}})
			w := e.get(c.target)
			if w.Code != c.status || strings.Contains(w.Body.String(), "wresult") {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if ev := e.sp.last(); ev.Outcome != "failure" || ev.Reason != c.reason {
				t.Fatalf("audit %+v", ev)
			}
			if len(e.sp.reqs) != 0 {
				t.Fatal("session asked for")
			}
		})
	}
	t.Run("no ImmutableID", func(t *testing.T) {
		e := newEnv(t, map[string]RPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}})
		delete(e.sp.id.Claims, "immutable_id")
		w := e.get(signIn(Path, "wtrealm", "urn:federation:MicrosoftOnline"))
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "wresult") {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		if ev := e.sp.last(); ev.Outcome != "failure" || ev.Reason != "user-has-no-name-identifier" {
			t.Fatalf("audit %+v", ev)
		}
	})
	t.Run("policy deny", func(t *testing.T) {
		e := newEnv(t, map[string]RPConfig{"intranet": intranet()})
		e.sp.err = protocols.ErrAccessDenied
		w := e.get(signIn(Path, "wtrealm", "urn:intranet"))
		if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "wresult") {
			t.Fatalf("status %d", w.Code)
		}
		if ev := e.sp.last(); ev.Outcome != "failure" || ev.Reason != "access-denied" {
			t.Fatalf("audit %+v", ev)
		}
	})
}

// TestSignOut: WS-Fed sign-out requests carry nothing that ties them to
// the session, so they never end it silently: with a session, the broker's
// confirmation page, then the registered wreply; without one, nothing to end.
func TestSignOut(t *testing.T) {
	const reply = "https://intranet.example.co.jp/"
	for _, tc := range []struct {
		name, query string
		session     bool
		status      int
		location    string // without a session
		next        string // with one: where the confirmation goes on to
	}{
		{"wsignout1.0, registered wreply", "wa=wsignout1.0&wreply=" + url.QueryEscape(reply), true, http.StatusSeeOther, "", reply},
		{"wsignout1.0, other wreply", "wa=wsignout1.0&wreply=" + url.QueryEscape("https://evil.example/"), true, http.StatusSeeOther, "", ""},
		{"wsignoutcleanup1.0", "wa=wsignoutcleanup1.0&wreply=" + url.QueryEscape(reply), true, http.StatusSeeOther, "", ""},
		{"no session, registered wreply", "wa=wsignout1.0&wreply=" + url.QueryEscape(reply), false, http.StatusFound, reply, ""},
		{"no session, other wreply", "wa=wsignout1.0&wreply=" + url.QueryEscape("https://evil.example/"), false, http.StatusOK, "", ""},
		{"no session, cleanup", "wa=wsignoutcleanup1.0", false, http.StatusOK, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]RPConfig{"intranet": intranet()})
			if !tc.session {
				e.sp.id.Subject = ""
			}
			w := e.get(Path + "?" + tc.query)
			if w.Code != tc.status || e.sp.ended != 0 {
				t.Fatalf("%d ended=%d %s", w.Code, e.sp.ended, w.Body)
			}
			loc, _ := url.Parse(w.Header().Get("Location"))
			if !tc.session {
				if loc.String() != tc.location {
					t.Fatalf("went to %q", loc)
				}
				return
			}
			if loc.Path != protocols.SignOutPath {
				t.Fatalf("not the confirmation page: %q", loc)
			}
			var next string
			if v := loc.Query().Get("continue"); v != "" {
				if err := e.sp.Open(protocols.SignOutContinue, v, &next); err != nil {
					t.Fatal(err)
				}
			}
			if next != tc.next {
				t.Fatalf("continues to %q, want %q", next, tc.next)
			}
		})
	}
}

func TestFederationMetadata(t *testing.T) {
	e := newEnv(t, map[string]RPConfig{"intranet": intranet()})
	next := fixedKey(t, "sp")
	e.sts.Keys = append(e.sts.Keys, protocols.SigningKey{Signer: next.Key, Cert: next.Cert, KeyID: "k2", Next: true})
	w := e.get(MetadataPath)
	body := w.Body.Bytes()
	golden(t, "FederationMetadata.xml", body)
	doc, err := xmlsig.Parse(body, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (xmlsig.Verifier{Certs: e.key.Certs()}).Verify(doc.Root(), "ID"); err != nil {
		t.Fatal(err)
	}
	if bytes.Count(body, []byte("<ds:X509Certificate>")) != 3 || !bytes.Contains(body, []byte("<wsa:Address>"+base+"/wsfed</wsa:Address>")) {
		t.Errorf("keys or endpoint missing:\n%s", body)
	}
	xmlsigtest.XMLSec1Verify(t, body, e.key, "ID", nsMetadata+":EntityDescriptor")
	// The SAML 2.0 metadata schema, strictly; the WS-Fed role type from
	// the subset of the OASIS schema in testdata.
	xmlsigtest.ValidateSchema(t, body, "testdata/ws-federation-subset.xsd")
}

// One realm, one app; Microsoft 365's realm may repeat (one app per
// domain) and is then answered only at /wsfed/<app>.
func TestDuplicateRealms(t *testing.T) {
	evil := intranet()
	evil.ReplyURLs = []string{"https://evil.example/"}
	_, err := Open(Config{PublicURL: base, RPs: []RPEntry{{App: "intranet", RPConfig: intranet()}, {App: "evil", RPConfig: evil}}},
		Deps{Keys: newEnv(t, nil).sts.Keys})
	if err == nil || !strings.Contains(err.Error(), `is already app "intranet"'s`) {
		t.Fatalf("duplicate realm accepted: %v", err)
	}
	m := RPConfig{Preset: "m365", ImmutableID: "claim:immutable_id"}
	_, err = Open(Config{PublicURL: base, RPs: []RPEntry{{App: "m365", RPConfig: m}, {App: "partner", RPConfig: m}}}, Deps{Keys: newEnv(t, nil).sts.Keys})
	if err == nil || !strings.Contains(err.Error(), "needs its own IssuerUri") {
		t.Fatalf("two federated domains with one IssuerUri: %v", err)
	}
	ma, mb := m, m
	ma.Issuer, mb.Issuer = "http://a.example/adfs/services/trust", "http://b.example/adfs/services/trust"
	e := newEnv(t, map[string]RPConfig{"m365": ma, "partner": mb})
	if w := e.get(signIn(Path, "wtrealm", MicrosoftOnline)); w.Code != http.StatusBadRequest || strings.Contains(w.Body.String(), "wresult") {
		t.Fatalf("shared realm without the app in the path: %d", w.Code)
	}
	posted(t, e.get(signIn(Path+"/partner", "wtrealm", MicrosoftOnline)))
	if _, err := (RPConfig{Realm: "urn:x", ReplyURLs: []string{"http://intranet.example/"}}).resolve("x"); err == nil || !strings.Contains(err.Error(), "use https") {
		t.Fatalf("plain http reply URL: %v", err)
	}
}

// Refuse writes what the broker's error page would say, with the
// correlation id.
func (f *fakeSP) Refuse(w http.ResponseWriter, _ *http.Request, status int, why protocols.Refusal, detail string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "refused: %s (%s), reference %s", why, detail, w.Header().Get("X-Request-Id"))
}

// Attempt never throttles: the broker's throttle has its own tests.
func (f *fakeSP) Attempt(*http.Request, string) (func(error), time.Duration, error) {
	return func(error) {}, 0, nil
}

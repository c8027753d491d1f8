package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// fixedNow is the clock of every test.
var fixedNow = time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)

const base = "https://sso.example.co.jp"

// fixedKey loads testdata/<name>-{key,cert}.pem (made by testdata/gen.sh).
func fixedKey(t testing.TB, name string) xmlsigtest.Key {
	t.Helper()
	kb, err := os.ReadFile("testdata/" + name + "-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile("testdata/" + name + "-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := pem.Decode(kb)
	k, err := x509.ParsePKCS8PrivateKey(kp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := pem.Decode(cb)
	c, err := x509.ParseCertificate(cp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return xmlsigtest.Key{Key: k.(*rsa.PrivateKey), Cert: c}
}

// fakeSP is the broker as the IdP sees it: a fixed identity (or error),
// sealing in clear JSON, claims in a map, audit events recorded.
type fakeSP struct {
	mu      sync.Mutex
	recheck error // what Recheck answers
	id      protocols.Identity
	err     error
	handled bool
	reqs    []protocols.SessionRequest
	claims  map[string]bool
	// claimErr and claimedErr: the state store cannot answer Claim, Claimed.
	claimErr, claimedErr error
	audits               []protocols.AuditEvent
	ended                int
}

func newFakeSP() *fakeSP {
	return &fakeSP{claims: map[string]bool{}, id: protocols.Identity{Subject: "u-1001", Upstream: "corp", Username: "taro@corp.example",
		Email: "taro@example.co.jp", DisplayName: "Taro Yamada", Groups: []string{"staff", "sales"},
		Claims: map[string]string{"immutable_id": "AbCdEf0123456789+/==", "dept": "Sales"}, AuthTime: fixedNow.Add(-10 * time.Minute), AMR: []string{"pwd"}}}
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
		http.Redirect(w, r, "/login?return="+url.QueryEscape(req.Resume), http.StatusFound)
		return protocols.Identity{}, true, nil
	}
	if req.Passive && f.err == nil && f.id.Subject == "" {
		return protocols.Identity{}, false, protocols.ErrLoginRequired
	}
	return f.id, false, f.err
}

func (f *fakeSP) Seal(purpose string, v any, _ time.Duration) (string, error) {
	b, err := json.Marshal(v)
	return purpose + "." + base64.RawURLEncoding.EncodeToString(b), err
}

func (f *fakeSP) Open(purpose, s string, v any) error {
	p, rest, ok := strings.Cut(s, ".")
	if !ok || p != purpose {
		return errors.New("bad seal")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (f *fakeSP) Claim(_ context.Context, key string, _ time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimErr != nil {
		return false, f.claimErr
	}
	if f.claims[key] {
		return false, nil
	}
	f.claims[key] = true
	return true, nil
}

func (f *fakeSP) Claimed(_ context.Context, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.claimedErr != nil {
		return false, f.claimedErr
	}
	return f.claims[key], nil
}

func (f *fakeSP) EndSession(http.ResponseWriter, *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ended++
	return nil
}

func (f *fakeSP) Audit(_ *http.Request, e protocols.AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.audits = append(f.audits, e)
}

func (f *fakeSP) lastAudit() protocols.AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.audits) == 0 {
		return protocols.AuditEvent{}
	}
	return f.audits[len(f.audits)-1]
}

// counterIDs makes ids _id1, _id2... for golden files.
func counterIDs() func() string {
	n := 0
	return func() string { n++; return fmt.Sprintf("_id%d", n) }
}

const salt = "0123456789abcdef-test-salt"

// basicSP is a plain SP registered in config.
func basicSP() SPConfig {
	return SPConfig{EntityID: "https://app.example.com/saml", ACSURLs: []ACS{{URL: "https://app.example.com/saml/acs", Index: 0, Default: true},
		{URL: "https://app.example.com/saml/acs2", Index: 1}}, PersistentSalt: protocols.NewSecret(salt),
		Attributes: []Attribute{{Name: "email", Value: "email"}, {Name: "groups", Value: "groups"},
			{Name: "urn:oid:2.16.840.1.113730.3.1.241", Value: "name", FriendlyName: "displayName"}}}
}

type env struct {
	t   testing.TB
	idp *IdP
	sp  *fakeSP
	mux *http.ServeMux
	key xmlsigtest.Key
}

func newEnv(t testing.TB, sps map[string]SPConfig) *env {
	t.Helper()
	k := fixedKey(t, "idp")
	cfg := Config{PublicURL: base}
	for _, app := range slices.Sorted(maps.Keys(sps)) {
		cfg.SPs = append(cfg.SPs, SPEntry{App: app, SPConfig: sps[app]})
	}
	idp, err := Open(cfg, Deps{Keys: []protocols.SigningKey{{Signer: k.Key, Cert: k.Cert, KeyID: "k1", Alg: "RS256"}},
		Now: func() time.Time { return fixedNow }, NewID: counterIDs()})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, idp: idp, sp: newFakeSP(), mux: http.NewServeMux(), key: k}
	idp.Mount(e.mux, e.sp)
	return e
}

func (e *env) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// authnRequestXML is an AuthnRequest from issuer; extra attributes and
// children may be spliced in.
func authnRequestXML(id, issuer string, at time.Time, attrs, children string) string {
	return `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + at.UTC().Format(time.RFC3339) + `"` + attrs + `><saml:Issuer>` + issuer + `</saml:Issuer>` + children + `</samlp:AuthnRequest>`
}

func deflate(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

// redirectURL is the HTTP-Redirect binding of xml to path; with key, the
// query is signed with RSA-SHA256.
func redirectURL(path, xml, relay string, key *xmlsigtest.Key) string {
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflate(xml)))
	if relay != "" {
		q += "&RelayState=" + url.QueryEscape(relay)
	}
	if key != nil {
		q += "&SigAlg=" + url.QueryEscape(xmlsig.RSASHA256)
		h := sha256.Sum256([]byte(q))
		sig, _ := rsa.SignPKCS1v15(nil, key.Key, crypto.SHA256, h[:])
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return path + "?" + q
}

func postRequest(path, xml, relay string) *http.Request {
	form := url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(xml))}}
	if relay != "" {
		form.Set("RelayState", relay)
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// signXML signs an AuthnRequest enveloped, as an SP does for HTTP-POST.
func signXML(t *testing.T, xml string, k xmlsigtest.Key) string {
	t.Helper()
	doc, err := xmlsig.Parse([]byte(xml), 0)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := xmlsig.NewSigner(k.Key, k.Cert, false)
	if err := s.Sign(doc.Root(), "ID", 1); err != nil {
		t.Fatal(err)
	}
	b, _ := doc.WriteToBytes()
	return string(b)
}

var formField = regexp.MustCompile(`name="(\w+)" value="([^"]*)"`)
var formAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)

// posted reads the auto-POST page: action, SAMLResponse XML, RelayState.
func posted(t *testing.T, w *httptest.ResponseRecorder) (action string, xml []byte, relay string) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	body := w.Body.String()
	m := formAction.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in %s", body)
	}
	action = html.UnescapeString(m[1])
	for _, f := range formField.FindAllStringSubmatch(body, -1) {
		v := html.UnescapeString(f[2])
		switch f[1] {
		case "SAMLResponse", "wresult":
			if f[1] == "SAMLResponse" {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					t.Fatal(err)
				}
				xml = b
			}
		case "RelayState":
			relay = v
		}
	}
	return action, xml, relay
}

// refused checks an error page: status, no form, and the audit reason.
func (e *env) refused(w *httptest.ResponseRecorder, status int, reason string) {
	e.t.Helper()
	if w.Code != status {
		e.t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if strings.Contains(w.Body.String(), "SAMLResponse") {
		e.t.Fatal("a response was issued")
	}
	if a := e.sp.lastAudit(); a.Outcome != "failure" || a.Reason != reason {
		e.t.Fatalf("audit %+v, want failure/%s", a, reason)
	}
}

// verifiedAssertion parses a Response, checks the signatures the SP
// wants, and returns the verified assertion.
func (e *env) verifiedAssertion(xml []byte, responseSigned bool) (*etree.Element, *etree.Element) {
	e.t.Helper()
	doc, err := xmlsig.Parse(xml, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	v := xmlsig.Verifier{Certs: e.key.Certs()}
	resp := doc.Root()
	if responseSigned {
		if resp, err = v.Verify(resp, "ID"); err != nil {
			e.t.Fatalf("response signature: %v", err)
		}
	}
	a := childNS(resp, nsAssertion, "Assertion")
	if a == nil {
		e.t.Fatalf("no assertion in %s", xml)
	}
	if xmlsig.Signed(a) || !responseSigned {
		if a, err = v.Verify(a, "ID"); err != nil {
			e.t.Fatalf("assertion signature: %v", err)
		}
	}
	return resp, a
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

package saml

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

const appEntity = "https://app.example.com/saml"

func TestRedirectSSO(t *testing.T) {
	e := newEnv(t, map[string]SPConfig{"app": basicSP()})
	req := authnRequestXML("_req1", appEntity, fixedNow.Add(-time.Minute),
		` Destination="`+base+SSOPath+`" AssertionConsumerServiceURL="https://app.example.com/saml/acs2" ProtocolBinding="`+BindingPOST+`"`,
		`<samlp:NameIDPolicy Format="`+preset.NameIDPersistent+`" AllowCreate="true"/>`)
	w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, req, "relay-123", nil), nil))
	action, xml, relay := posted(t, w)
	if action != "https://app.example.com/saml/acs2" || relay != "relay-123" {
		t.Fatalf("posted to %q relay %q", action, relay)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action https://app.example.com;") {
		t.Fatalf("CSP %q", csp)
	}
	resp, a := e.verifiedAssertion(xml, false)
	for path, want := range map[string]string{
		"./Subject/NameID":                                   assertion.Pairwise(salt, e.sp.id, appEntity),
		"./Conditions/AudienceRestriction/Audience":          appEntity,
		"./AuthnStatement/AuthnContext/AuthnContextClassRef": ClassPasswordProtected,
		"./Issuer": base + MetadataPath,
	} {
		if got := a.FindElement(path).Text(); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if got := resp.SelectAttrValue("InResponseTo", ""); got != "_req1" {
		t.Errorf("InResponseTo %q", got)
	}
	scd := a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
	if scd.SelectAttrValue("Recipient", "") != action || scd.SelectAttrValue("InResponseTo", "") != "_req1" {
		t.Errorf("SubjectConfirmationData %v", scd.Attr)
	}
	if got := a.FindElement("./AuthnStatement").SelectAttrValue("AuthnInstant", ""); got != "2026-11-23T09:20:00Z" {
		t.Errorf("AuthnInstant %s", got)
	}
	groups := a.FindElements("./AttributeStatement/Attribute[@Name='groups']/AttributeValue")
	if len(groups) != 2 || groups[0].Text() != "staff" || groups[1].Text() != "sales" {
		t.Errorf("groups %v", groups)
	}
	if r := e.sp.reqs[0]; r.App != "app" || r.Passive || !r.FreshAfter.IsZero() || !strings.HasPrefix(r.Resume, ResumePath+"?s=") {
		t.Errorf("session request %+v", r)
	}
	if a := e.sp.lastAudit(); a.Event != "saml.response" || a.Outcome != "success" || a.User != "taro@corp.example" {
		t.Errorf("audit %+v", a)
	}
	xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsAssertion+":Assertion", nsProtocol+":Response")

	// The same request again is a replay.
	w = e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, req, "", nil), nil))
	e.refused(w, http.StatusBadRequest, "request-already-answered")
}

// TestSSOStoreDownIsNotAReplay: when the state store cannot answer the
// replay check (Claimed) or the replay mark (Claim), the request is refused
// with 503 and says so, not "already used"; it leaves no mark, so the same
// request is answered once the store is back.
func TestSSOStoreDownIsNotAReplay(t *testing.T) {
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		set  func(*fakeSP, error)
	}{
		{"check", func(f *fakeSP, err error) { f.claimedErr = err }},
		{"mark", func(f *fakeSP, err error) { f.claimErr = err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"app": basicSP()})
			target := redirectURL(SSOPath, authnRequestXML("_req-down", appEntity, fixedNow.Add(-time.Minute), "", ""), "", nil)
			tc.set(e.sp, down)
			e.refused(e.do(httptest.NewRequest(http.MethodGet, target, nil)), http.StatusServiceUnavailable, "state-store-unavailable")
			tc.set(e.sp, nil)
			posted(t, e.do(httptest.NewRequest(http.MethodGet, target, nil)))
		})
	}
}

func TestPostSSOSurvivesSignIn(t *testing.T) {
	sp := basicSP()
	sp.SignResponse = ptr(true)
	sp.CertificateFiles = nil
	spKey := fixedKey(t, "sp")
	sp.Certs = spKey.Certs()
	e := newEnv(t, map[string]SPConfig{"app": sp})
	e.sp.handled = true
	req := signXML(t, authnRequestXML("_req2", appEntity, fixedNow, ` ForceAuthn="true"`,
		`<samlp:RequestedAuthnContext><saml:AuthnContextClassRef>https://refeds.org/profile/mfa</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`), spKey)
	w := e.do(postRequest(SSOPath+"/app", req, "rs"))
	if w.Code != http.StatusFound {
		t.Fatalf("want the broker's redirect, got %d %s", w.Code, w.Body)
	}
	r := e.sp.reqs[0]
	if !r.FreshAfter.Equal(fixedNow) || !r.MFA {
		t.Fatalf("ForceAuthn/MFA not passed on: %+v", r)
	}
	// After sign-in the browser comes back by GET to Resume.
	e.sp.handled = false
	e.sp.id.AMR = []string{"pwd", "mfa"}
	w = e.do(httptest.NewRequest(http.MethodGet, r.Resume, nil))
	action, xml, relay := posted(t, w)
	if action != "https://app.example.com/saml/acs" || relay != "rs" {
		t.Fatalf("posted to %q relay %q", action, relay)
	}
	if e.sp.reqs[1].FreshAfter != r.FreshAfter {
		t.Fatal("freshness lost across sign-in")
	}
	_, a := e.verifiedAssertion(xml, true)
	if got := a.FindElement("./AuthnStatement/AuthnContext/AuthnContextClassRef").Text(); got != ClassREFEDSMFA {
		t.Errorf("class %q", got)
	}
	xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsAssertion+":Assertion", nsProtocol+":Response")
	// The resume URL cannot be used for a second response.
	w = e.do(httptest.NewRequest(http.MethodGet, r.Resume, nil))
	e.refused(w, http.StatusBadRequest, "request-already-answered")
}

func TestAuthnContextClass(t *testing.T) {
	for amr, want := range map[string]string{"pwd": ClassPasswordProtected, "kerberos": ClassKerberos, "pwd mfa": ClassREFEDSMFA, "": ClassUnspecified} {
		e := newEnv(t, map[string]SPConfig{"app": basicSP()})
		e.sp.id.AMR = strings.Fields(amr)
		_, xml, _ := posted(t, e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_r", appEntity, fixedNow, "", ""), "", nil), nil)))
		_, a := e.verifiedAssertion(xml, false)
		if got := a.FindElement("./AuthnStatement/AuthnContext/AuthnContextClassRef").Text(); got != want {
			t.Errorf("amr %q: class %q, want %q", amr, got, want)
		}
	}
}

func TestStatusResponses(t *testing.T) {
	cases := map[string]struct {
		err     error
		attrs   string
		kids    string
		top     string
		sub     string
		passive bool
	}{
		"denied":  {err: protocols.ErrAccessDenied, top: StatusResponder, sub: StatusRequestDenied},
		"passive": {err: protocols.ErrLoginRequired, attrs: ` IsPassive="true"`, top: StatusResponder, sub: StatusNoPassive, passive: true},
		"nameid":  {kids: `<samlp:NameIDPolicy Format="` + preset.NameIDEmail + `"/>`, top: StatusRequester, sub: StatusInvalidNameIDPo},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"app": basicSP()})
			e.sp.err = c.err
			w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_r", appEntity, fixedNow, c.attrs, c.kids), "", nil), nil))
			_, xml, _ := posted(t, w)
			if bytes.Contains(xml, []byte("Assertion")) {
				t.Fatal("assertion in an error response")
			}
			for _, v := range []string{c.top, c.sub} {
				if !bytes.Contains(xml, []byte(`Value="`+v+`"`)) {
					t.Errorf("no %s in %s", v, xml)
				}
			}
			if e.sp.reqs[0].Passive != c.passive {
				t.Error("IsPassive not passed on")
			}
			if a := e.sp.lastAudit(); a.Outcome != "failure" {
				t.Errorf("audit %+v", a)
			}
			xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsProtocol+":Response")
		})
	}
}

func TestIdPInitiated(t *testing.T) {
	sp := basicSP()
	sp.IdPInitiated = true
	sp.DefaultRelayState = "/home"
	e := newEnv(t, map[string]SPConfig{"app": sp, "closed": basicSPWith("https://closed.example/saml")})
	_, xml, relay := posted(t, e.do(httptest.NewRequest(http.MethodGet, InitPath+"/app", nil)))
	resp, _ := e.verifiedAssertion(xml, false)
	if relay != "/home" || resp.SelectAttr("InResponseTo") != nil {
		t.Fatalf("relay %q, InResponseTo %v", relay, resp.SelectAttr("InResponseTo"))
	}
	// A RelayState from the link only if listed: anyone can send a signed-in
	// user this link, and SPs redirect to what they get.
	e.refused(e.do(httptest.NewRequest(http.MethodGet, InitPath+"/app?RelayState=https%3A%2F%2Fevil.example%2F", nil)), http.StatusBadRequest, "RelayState-not-allowed")
	sp.IdPInitiatedRelayStates = []string{"/reports"}
	e = newEnv(t, map[string]SPConfig{"app": sp, "closed": basicSPWith("https://closed.example/saml")})
	if _, _, relay := posted(t, e.do(httptest.NewRequest(http.MethodGet, InitPath+"/app?RelayState=%2Freports", nil))); relay != "/reports" {
		t.Fatalf("listed RelayState %q", relay)
	}
	e.refused(e.do(httptest.NewRequest(http.MethodGet, InitPath+"/closed", nil)), http.StatusForbidden, "IdP-initiated-sign-in-not-enabled-for-this-app")
	e.refused(e.do(httptest.NewRequest(http.MethodGet, InitPath+"/nope", nil)), http.StatusBadRequest, "unknown-service-provider")
}

func basicSPWith(entity string) SPConfig {
	s := basicSP()
	s.EntityID = entity
	s.ACSURLs = []ACS{{URL: strings.TrimSuffix(entity, "/saml") + "/acs"}}
	return s
}

func ptr[T any](v T) *T { return &v }

// Every refusal: an error page, an audit event with the reason, no token.
func TestRefusals(t *testing.T) {
	spKey, other := fixedKey(t, "sp"), xmlsigtest.NewKey(t, "other")
	signed := basicSPWith("https://signed.example/saml")
	signed.Certs = spKey.Certs()
	signed.RequireSignedRequests = true
	ok := func(id string) string { return authnRequestXML(id, appEntity, fixedNow, "", "") }
	bomb := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(deflate("<x>"+strings.Repeat("A", 10<<20)+"</x>")))
	cases := map[string]struct {
		req    func() *http.Request
		reason string
	}{
		"unknown SP": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_u", "https://evil.example", fixedNow, "", ""), "", nil), nil)
		}, "unknown-service-provider"},
		"SP not the app in the path": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath+"/signed", ok("_p"), "", nil), nil)
		}, "unknown-service-provider"},
		"ACS not registered": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_a", appEntity, fixedNow, ` AssertionConsumerServiceURL="https://evil.example/acs"`, ""), "", nil), nil)
		}, "ACS-URL-not-registered"},
		"ACS index not registered": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_a", appEntity, fixedNow, ` AssertionConsumerServiceIndex="7"`, ""), "", nil), nil)
		}, "ACS-URL-not-registered"},
		"ACS prefix of a registered one": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_a", appEntity, fixedNow, ` AssertionConsumerServiceURL="https://app.example.com/saml/acs/../evil"`, ""), "", nil), nil)
		}, "ACS-URL-not-registered"},
		"artifact binding": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_a", appEntity, fixedNow, ` ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"`, ""), "", nil), nil)
		}, "response-binding-not-supported"},
		"expired": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_e", appEntity, fixedNow.Add(-7*time.Minute), "", ""), "", nil), nil)
		}, "request-expired-or-not-yet-valid"},
		"from the future": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_e", appEntity, fixedNow.Add(2*time.Minute), "", ""), "", nil), nil)
		}, "request-expired-or-not-yet-valid"},
		"wrong destination": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_d", appEntity, fixedNow, ` Destination="https://other-idp.example/sso"`, ""), "", nil), nil)
		}, "request-destination-is-not-this-endpoint"},
		"unsigned where required": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_s", "https://signed.example/saml", fixedNow, "", ""), "", nil), nil)
		}, "request-not-signed"},
		"redirect signed by another key": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_s", "https://signed.example/saml", fixedNow, "", ""), "", &other), nil)
		}, "request-signature-invalid"},
		"redirect signature over another RelayState": {func() *http.Request {
			u := redirectURL(SSOPath, authnRequestXML("_s", "https://signed.example/saml", fixedNow, "", ""), "a", &spKey)
			return httptest.NewRequest(http.MethodGet, strings.Replace(u, "RelayState=a", "RelayState=b", 1), nil)
		}, "request-signature-invalid"},
		"POST signed by another key": {func() *http.Request {
			return postRequest(SSOPath, signXML(t, authnRequestXML("_s", "https://signed.example/saml", fixedNow, "", ""), other), "")
		}, "request-signature-invalid"},
		"POST signed, then altered": {func() *http.Request {
			x := signXML(t, authnRequestXML("_s", "https://signed.example/saml", fixedNow, ` AssertionConsumerServiceURL="https://signed.example/acs"`, ""), spKey)
			return postRequest(SSOPath, strings.Replace(x, `ID="_s"`, `ID="_s" ForceAuthn="false"`, 1), "")
		}, "request-signature-invalid"},
		"POST signed but SP has no certificate": {func() *http.Request {
			return postRequest(SSOPath, signXML(t, ok("_n"), spKey), "")
		}, "request-signature-invalid"},
		"DTD": {func() *http.Request {
			return postRequest(SSOPath, `<!DOCTYPE x [<!ENTITY e "x">]>`+ok("_x"), "")
		}, "request-XML-refused"},
		"entity": {func() *http.Request {
			return postRequest(SSOPath, strings.Replace(ok("_x"), appEntity, "&e;", 1), "")
		}, "request-XML-refused"},
		"oversized XML": {func() *http.Request {
			return postRequest(SSOPath, authnRequestXML("_big", appEntity, fixedNow, "", "<x>"+strings.Repeat("A", maxXML)+"</x>"), "")
		}, "request-too-large"},
		"deflate bomb": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, SSOPath+"?"+bomb, nil)
		}, "request-too-large"},
		"not deflated": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, SSOPath+"?SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString([]byte(ok("_z")))), nil)
		}, "request-not-decodable"},
		"not an AuthnRequest": {func() *http.Request {
			return postRequest(SSOPath, `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`, "")
		}, "not-an-AuthnRequest"},
		"RelayState too long": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, ok("_rs"), strings.Repeat("r", maxRelayState+1), nil), nil)
		}, "RelayState-too-long"},
		"bad resume state": {func() *http.Request {
			return httptest.NewRequest(http.MethodGet, ResumePath+"?s=forged", nil)
		}, "request-expired-or-not-yet-valid"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"app": basicSP(), "signed": signed})
			e.t = t
			e.refused(e.do(c.req()), http.StatusBadRequest, c.reason)
			if len(e.sp.reqs) != 0 {
				t.Fatal("a session was asked for")
			}
		})
	}
	// Signed requests that are fine pass, by both bindings.
	e := newEnv(t, map[string]SPConfig{"signed": signed})
	posted(t, e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_g1", "https://signed.example/saml", fixedNow, "", ""), "x", &spKey), nil)))
	posted(t, e.do(postRequest(SSOPath, signXML(t, authnRequestXML("_g2", "https://signed.example/saml", fixedNow, "", ""), spKey), "")))
}

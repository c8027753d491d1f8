package saml

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols/internal/preset"
)

// fuzzSAML sends each input to path over both bindings (xml) and as a raw
// query (decodeBinding's own parsing): whatever arrives from the network is
// answered, never with a 5xx, and never panics.
func fuzzSAML(f *testing.F, path string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s, "SAMLRequest=x&RelayState=r")
	}
	f.Add("<", "SAMLRequest=%zz")
	f.Add(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`, "SAMLRequest=&SAMLRequest=")
	e := newEnv(f, map[string]SPConfig{"app": basicSP()})
	f.Fuzz(func(t *testing.T, xml, rawQuery string) {
		for _, r := range []*http.Request{
			httptest.NewRequest(http.MethodGet, redirectURL(path, xml, "relay", nil), nil),
			postRequest(path, xml, "relay"),
			{Method: http.MethodGet, URL: &url.URL{Path: path, RawQuery: rawQuery}, Header: http.Header{}, Host: "sso.example.co.jp"},
		} {
			if w := e.do(r); w.Code >= 500 {
				t.Fatalf("%s %s: %d %s", r.Method, path, w.Code, w.Body)
			}
		}
	})
}

// FuzzAuthnRequest covers the SSO endpoint: binding decoding, XML parsing,
// signature checks and reading the AuthnRequest.
func FuzzAuthnRequest(f *testing.F) {
	fuzzSAML(f, SSOPath,
		authnRequestXML("_r1", appEntity, fixedNow.Add(-time.Minute), ` AssertionConsumerServiceIndex="1" ForceAuthn="true"`,
			`<samlp:NameIDPolicy Format="`+preset.NameIDPersistent+`"/><samlp:RequestedAuthnContext><saml:AuthnContextClassRef>x</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>`),
		authnRequestXML("_r2", appEntity, fixedNow, ` AssertionConsumerServiceURL="https://evil.example/acs"`, ""))
}

// FuzzLogoutRequest covers the single-logout endpoint.
func FuzzLogoutRequest(f *testing.F) {
	fuzzSAML(f, SLOPath,
		logoutRequestXML("_l1", appEntity, fixedNow),
		logoutRequestFor("_l2", appEntity, "n", "sess-1", fixedNow))
}

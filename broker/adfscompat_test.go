package broker

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func deflated(s string) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// /adfs/ls/ reaches the protocol ADFS would have answered with, keeping
// its own path (SAML checks Destination against it).
func TestADFSPassive(t *testing.T) {
	mux := http.NewServeMux()
	for _, p := range []string{wsfedPath, samlSSOPath, samlSLOPath} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(p + " " + r.URL.Path)) })
	}
	h := adfsPassive(mux)
	authn := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="a"/>`
	logout := `<?xml version="1.0"?><samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="b"/>`
	for _, tc := range []struct {
		name, method, query string
		form                url.Values
		want                string
		status              int
	}{
		{"ws-fed sign-in", "GET", "wa=wsignin1.0&wtrealm=urn:x", nil, "/wsfed /adfs/ls/", 200},
		{"ws-fed sign-out", "GET", "wa=wsignout1.0", nil, "/wsfed /adfs/ls/", 200},
		{"saml redirect sign-in", "GET", "SAMLRequest=" + url.QueryEscape(deflated(authn)), nil, "/saml/sso /adfs/ls/", 200},
		{"saml redirect sign-out", "GET", "SAMLRequest=" + url.QueryEscape(deflated(logout)), nil, "/saml/slo /adfs/ls/", 200},
		{"saml post sign-in", "POST", "", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(authn))}}, "/saml/sso /adfs/ls/", 200},
		{"saml post sign-out", "POST", "", url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString([]byte(logout))}}, "/saml/slo /adfs/ls/", 200},
		{"saml logout response", "POST", "", url.Values{"SAMLResponse": {"x"}}, "/saml/slo /adfs/ls/", 200},
		{"garbage SAMLRequest goes to sign-in, which refuses it", "GET", "SAMLRequest=%25%25", nil, "/saml/sso /adfs/ls/", 200},
		{"no protocol message", "GET", "foo=bar", nil, "", 404},
		{"another method", "PUT", "wa=wsignin1.0", nil, "", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			} else {
				body = strings.NewReader("")
			}
			r := httptest.NewRequest(tc.method, "/adfs/ls/?"+tc.query, body)
			if tc.form != nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status || (tc.want != "" && w.Body.String() != tc.want) {
				t.Errorf("%d %q, want %d %q", w.Code, w.Body.String(), tc.status, tc.want)
			}
		})
	}
	// Without SAML apps, a SAMLRequest finds nothing to answer it.
	only := http.NewServeMux()
	only.HandleFunc(wsfedPath, func(http.ResponseWriter, *http.Request) {})
	w := httptest.NewRecorder()
	adfsPassive(only).ServeHTTP(w, httptest.NewRequest("GET", "/adfs/ls/?SAMLRequest="+url.QueryEscape(deflated(authn)), nil))
	if w.Code != 404 {
		t.Errorf("SAML without a SAML IdP: %d, want 404", w.Code)
	}
}

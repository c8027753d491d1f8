package saml

import (
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

func logoutRequestXML(id, issuer string, at time.Time) string {
	return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + at.UTC().Format(time.RFC3339) + `"><saml:Issuer>` + issuer + `</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>`
}

func TestSingleLogout(t *testing.T) {
	// Microsoft 365 signs out by Redirect; the answer goes to login.srf.
	e := newEnv(t, map[string]SPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}, "app": basicSP()})
	w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestXML("_lo1", MicrosoftOnline, fixedNow), "rs", nil), nil))
	action, xml, relay := posted(t, w)
	if action != "https://login.microsoftonline.com/login.srf" || relay != "rs" || e.sp.ended != 1 {
		t.Fatalf("posted to %q relay %q ended %d", action, relay, e.sp.ended)
	}
	doc, err := xmlsig.Parse(xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := xmlsig.Verifier{Certs: e.key.Certs()}.Verify(doc.Root(), "ID")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Tag != "LogoutResponse" || resp.SelectAttrValue("InResponseTo", "") != "_lo1" || !strings.Contains(string(xml), StatusSuccess) {
		t.Fatalf("bad LogoutResponse %s", xml)
	}
	xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsProtocol+":LogoutResponse")
	xmllintSchema(t, xml, "saml-schema-protocol-2.0.xsd")

	// An SP without slo_url: the session ends, a page says so.
	w = e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestXML("_lo2", appEntity, fixedNow), "", nil), nil))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "signed out") || e.sp.ended != 2 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// Unknown SP and stale requests are refused, and sign no one out.
	e.refused(e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestXML("_lo3", "https://evil.example", fixedNow), "", nil), nil)),
		http.StatusBadRequest, "unknown-service-provider")
	e.refused(e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestXML("_lo4", appEntity, fixedNow.Add(-time.Hour)), "", nil), nil)),
		http.StatusBadRequest, "request-expired-or-not-yet-valid")
	if e.sp.ended != 2 {
		t.Fatal("a refused logout ended the session")
	}
}

// A logout is a state change a link could trigger: replays, requests for
// another endpoint, and unsigned requests from an SP that has a key are
// refused (audited as saml.slo) and sign no one out.
func TestSingleLogoutRefusals(t *testing.T) {
	spKey := fixedKey(t, "sp")
	signed := basicSPWith("https://signed.example/saml")
	signed.Certs = []*x509.Certificate{spKey.Cert}
	e := newEnv(t, map[string]SPConfig{"app": basicSP(), "signed": signed})
	replayed := redirectURL(SLOPath, logoutRequestXML("_r1", appEntity, fixedNow), "", nil)
	if w := e.do(httptest.NewRequest(http.MethodGet, replayed, nil)); w.Code != http.StatusOK || e.sp.ended != 1 {
		t.Fatalf("first logout: %d", w.Code)
	}
	for name, c := range map[string]struct{ target, reason string }{
		"replayed":               {replayed, "request-already-answered"},
		"other endpoint":         {redirectURL(SLOPath, strings.Replace(logoutRequestXML("_r2", appEntity, fixedNow), `Version=`, `Destination="https://other.example/slo" Version=`, 1), "", nil), "request-destination-is-not-this-endpoint"},
		"unsigned, SP has a key": {redirectURL(SLOPath, logoutRequestXML("_r3", "https://signed.example/saml", fixedNow), "", nil), "request-not-signed"},
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			e.refused(e.do(httptest.NewRequest(http.MethodGet, c.target, nil)), http.StatusBadRequest, c.reason)
			if a := e.sp.lastAudit(); a.Event != "saml.slo" {
				t.Errorf("audited as %q", a.Event)
			}
			if e.sp.ended != 1 {
				t.Fatal("a refused logout ended the session")
			}
		})
	}
	e.t = t
	if w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestXML("_r4", "https://signed.example/saml", fixedNow), "", &spKey), nil)); w.Code != http.StatusOK || e.sp.ended != 2 {
		t.Fatalf("signed logout: %d %s", w.Code, w.Body)
	}
}

package saml

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

func logoutRequestXML(id, issuer string, at time.Time) string {
	return logoutRequestFor(id, issuer, "x", "", at)
}

// logoutRequestFor names a NameID and, if index is set, a SessionIndex.
func logoutRequestFor(id, issuer, nameID, index string, at time.Time) string {
	if index != "" {
		index = `<samlp:SessionIndex>` + index + `</samlp:SessionIndex>`
	}
	return `<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + at.UTC().Format(time.RFC3339) + `"><saml:Issuer>` + issuer + `</saml:Issuer><saml:NameID>` + nameID +
		`</saml:NameID>` + index + `</samlp:LogoutRequest>`
}

// loggedOutBy is an unsigned LogoutRequest from the SP of entity that names
// the fake session (sess-1) as fedgate described it to that SP.
func (e *env) loggedOutBy(id, entity string) string {
	e.t.Helper()
	s, err := e.idp.spFor(entity, "")
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := e.idp.nameID(s, e.sp.id)
	if err != nil {
		e.t.Fatal(err)
	}
	return logoutRequestFor(id, entity, n, e.sp.id.SessionID, fixedNow)
}

func TestSingleLogout(t *testing.T) {
	// Microsoft 365 signs out by Redirect; the answer goes to login.srf.
	e := newEnv(t, map[string]SPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}, "app": basicSP()})
	e.sp.id.SessionID = "sess-1"
	w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, e.loggedOutBy("_lo1", preset.MicrosoftOnline), "rs", nil), nil))
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
	w = e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, e.loggedOutBy("_lo2", appEntity), "", nil), nil))
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
	e.sp.id.SessionID = "sess-1"
	replayed := redirectURL(SLOPath, e.loggedOutBy("_r1", appEntity), "", nil)
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

// TestUnsignedLogoutMatchesSession: an unsigned LogoutRequest (an SP
// without a certificate) could come from any page. It ends the session
// only when it names what fedgate issued to that SP in this session —
// the NameID and SessionIndex of the assertion — and is otherwise sent to
// the broker's confirmation page, with nothing written to the store.
func TestUnsignedLogoutMatchesSession(t *testing.T) {
	transient := basicSPWith("https://transient.example/saml")
	transient.NameIDFormat = "transient"
	sps := map[string]SPConfig{"app": basicSP(), "transient": transient}
	// What the SP was told at sign-in: SessionIndex is the session's id.
	e := newEnv(t, sps)
	e.sp.id.SessionID = "sess-1"
	w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_a1", appEntity, fixedNow, "", ""), "", nil), nil))
	_, xml, _ := posted(t, w)
	_, a := e.verifiedAssertion(xml, false)
	nameID, index := a.FindElement("./Subject/NameID").Text(), a.FindElement("./AuthnStatement").SelectAttrValue("SessionIndex", "")
	if index != "sess-1" {
		t.Fatalf("SessionIndex = %q", index)
	}
	for _, tc := range []struct {
		name, issuer, nameID, index string
		session                     bool
		ends                        bool
	}{
		{"as issued", appEntity, nameID, index, true, true},
		{"transient: any NameID, the session's index", "https://transient.example/saml", "_whatever", index, true, true},
		{"another session's index", appEntity, nameID, "sess-2", true, false},
		{"no SessionIndex", appEntity, nameID, "", true, false},
		{"another user's NameID", appEntity, "someone-else", index, true, false},
		{"transient, no SessionIndex", "https://transient.example/saml", "_whatever", "", true, false},
		{"no session", appEntity, nameID, index, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, sps)
			e.sp.id.SessionID = "sess-1"
			if !tc.session {
				e.sp.id.Subject = ""
			}
			w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, logoutRequestFor("_m1", tc.issuer, tc.nameID, tc.index, fixedNow), "", nil), nil))
			if tc.ends {
				if w.Code != http.StatusOK || e.sp.ended != 1 || len(e.sp.claims) != 1 {
					t.Fatalf("%d ended=%d claims=%d %s", w.Code, e.sp.ended, len(e.sp.claims), w.Body)
				}
				return
			}
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != protocols.SignOutPath || e.sp.ended != 0 || len(e.sp.claims) != 0 {
				t.Fatalf("%d %q ended=%d claims=%d", w.Code, w.Header().Get("Location"), e.sp.ended, len(e.sp.claims))
			}
			if a := e.sp.lastAudit(); a.Event != "saml.slo" || a.Outcome != "failure" || a.Reason != "not-this-session" {
				t.Fatalf("audit %+v", a)
			}
		})
	}
}

// TestUnmatchedLogoutsWriteNothing: a flood of unsigned LogoutRequests
// (each its own ID) that match no session writes nothing to the store
// (2,000 of them grew state.db from 64 KiB to 2 MiB).
func TestUnmatchedLogoutsWriteNothing(t *testing.T) {
	e := newEnv(t, map[string]SPConfig{"app": basicSP()})
	e.sp.id.SessionID = "sess-1"
	for i := range 200 {
		req := logoutRequestFor(fmt.Sprintf("_flood%d", i), appEntity, "x", "sess-1", fixedNow)
		if w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SLOPath, req, "", nil), nil)); w.Code != http.StatusSeeOther {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	if len(e.sp.claims) != 0 || e.sp.ended != 0 {
		t.Fatalf("claims=%d ended=%d", len(e.sp.claims), e.sp.ended)
	}
}

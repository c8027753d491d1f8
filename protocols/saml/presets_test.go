package saml

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

const tenant = "8f3b2a10-1c2d-4e5f-9a8b-0123456789ab"

// INTEROP.md §1: Entra ID SAML direct federation, every value literally.
func TestPresetEntraB2B(t *testing.T) {
	for _, issuer := range []string{"https://login.microsoftonline.com/" + tenant + "/", "urn:federation:MicrosoftOnline"} {
		t.Run(issuer, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"partner": {Preset: "entra-b2b", Tenant: tenant, Issuer: "https://sso.example.co.jp/",
				PersistentSalt: protocols.NewSecret(salt)}})
			// Entra's requests on this path are unsigned, by POST or Redirect.
			req := authnRequestXML("_entra1", issuer, fixedNow, "",
				`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>`)
			action, xml, _ := posted(t, e.do(postRequest(SSOPath+"/partner", req, "")))
			if action != "https://login.microsoftonline.com/login.srf" {
				t.Errorf("ACS %q", action)
			}
			resp, a := e.verifiedAssertion(xml, false)
			check(t, resp.SelectAttrValue("Destination", ""), "https://login.microsoftonline.com/login.srf", "Destination")
			check(t, a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData").SelectAttrValue("Recipient", ""),
				"https://login.microsoftonline.com/login.srf", "Recipient")
			check(t, a.FindElement("./Conditions/AudienceRestriction/Audience").Text(), "https://login.microsoftonline.com/"+tenant+"/", "Audience")
			check(t, a.FindElement("./Issuer").Text(), "https://sso.example.co.jp/", "Issuer")
			check(t, resp.FindElement("./Issuer").Text(), "https://sso.example.co.jp/", "Response Issuer")
			check(t, a.FindElement("./Subject/NameID").SelectAttrValue("Format", ""), "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "NameID Format")
			check(t, a.FindElement("./AttributeStatement/Attribute[@Name='http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress']/AttributeValue").Text(),
				"taro@example.co.jp", "emailaddress")
			xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsAssertion+":Assertion")
		})
	}
	t.Run("external tenant", func(t *testing.T) {
		e := newEnv(t, map[string]SPConfig{"ciam": {Preset: "entra-b2b", Tenant: tenant, CIAM: true, PersistentSalt: protocols.NewSecret(salt)}})
		action, _, _ := posted(t, e.do(postRequest(SSOPath, authnRequestXML("_c", "https://login.microsoftonline.com/"+tenant+"/", fixedNow, "", ""), "")))
		check(t, action, "https://"+tenant+".ciamlogin.com/login.srf", "CIAM ACS")
	})
	t.Run("another ACS is refused", func(t *testing.T) {
		e := newEnv(t, map[string]SPConfig{"partner": {Preset: "entra-b2b", Tenant: tenant, PersistentSalt: protocols.NewSecret(salt)}})
		e.refused(e.do(postRequest(SSOPath, authnRequestXML("_x", "urn:federation:MicrosoftOnline", fixedNow,
			` AssertionConsumerServiceURL="https://evil.example/login.srf"`, ""), "")), http.StatusBadRequest, "ACS-URL-not-registered")
	})
}

// INTEROP.md §2: Microsoft 365 domain federation over SAML-P.
func TestPresetM365(t *testing.T) {
	e := newEnv(t, map[string]SPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id", Issuer: "http://sso.example.co.jp/adfs/services/trust"}})
	e.sp.id.AMR = []string{"pwd", "mfa"}
	req := authnRequestXML("_m365", "urn:federation:MicrosoftOnline", fixedNow, ` AssertionConsumerServiceURL="https://login.microsoftonline.com/login.srf"`,
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/>`)
	action, xml, _ := posted(t, e.do(postRequest(SSOPath, req, "")))
	check(t, action, "https://login.microsoftonline.com/login.srf", "ACS")
	doc, _ := xmlsig.Parse(xml, 0)
	a := childNS(doc.Root(), nsAssertion, "Assertion")
	if !xmlsig.Signed(a) {
		t.Fatal("M365 needs a signed Assertion")
	}
	for _, want := range []string{xmlsig.Enveloped, xmlsig.ExcC14N, xmlsig.RSASHA256, xmlsig.DigestSHA256} {
		if !strings.Contains(string(xml), `Algorithm="`+want+`"`) {
			t.Errorf("no %s", want)
		}
	}
	resp, a := e.verifiedAssertion(xml, false)
	check(t, a.FindElement("./Conditions/AudienceRestriction/Audience").Text(), "urn:federation:MicrosoftOnline", "Audience")
	cm := a.FindElement("./Subject/SubjectConfirmation")
	check(t, cm.SelectAttrValue("Method", ""), "urn:oasis:names:tc:SAML:2.0:cm:bearer", "SubjectConfirmation Method")
	scd := cm.FindElement("./SubjectConfirmationData")
	check(t, scd.SelectAttrValue("InResponseTo", ""), "_m365", "InResponseTo")
	check(t, scd.SelectAttrValue("Recipient", ""), "https://login.microsoftonline.com/login.srf", "Recipient")
	n := a.FindElement("./Subject/NameID")
	check(t, n.Text(), "AbCdEf0123456789+/==", "NameID = ImmutableID")
	check(t, n.SelectAttrValue("Format", ""), "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "NameID Format")
	check(t, a.FindElement("./AttributeStatement/Attribute[@Name='IDPEmail']/AttributeValue").Text(), "taro@corp.example", "IDPEmail = UPN")
	check(t, a.FindElement("./Issuer").Text(), "http://sso.example.co.jp/adfs/services/trust", "Issuer = IssuerUri")
	check(t, resp.SelectAttrValue("InResponseTo", ""), "_m365", "Response InResponseTo")
	// MFA as Entra honours it: the single AuthnContextClassRef, time in AuthnInstant.
	refs := a.FindElements("./AuthnStatement/AuthnContext/AuthnContextClassRef")
	if len(refs) != 1 {
		t.Fatalf("%d AuthnContextClassRefs", len(refs))
	}
	check(t, refs[0].Text(), "http://schemas.microsoft.com/claims/multipleauthn", "MFA class")
	check(t, a.FindElement("./AuthnStatement").SelectAttrValue("AuthnInstant", ""), "2026-11-23T09:20:00Z", "AuthnInstant")
	xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsAssertion+":Assertion")

	t.Run("ImmutableID over 64 characters is refused", func(t *testing.T) {
		e := newEnv(t, map[string]SPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}})
		e.sp.id.Claims = map[string]string{"immutable_id": strings.Repeat("A", 65)}
		w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_l", "urn:federation:MicrosoftOnline", fixedNow, "", ""), "", nil), nil))
		e.refused(w, http.StatusForbidden, "user-has-no-name-identifier")
	})
	t.Run("no ImmutableID: a page, not an empty NameID", func(t *testing.T) {
		e := newEnv(t, map[string]SPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id"}})
		delete(e.sp.id.Claims, "immutable_id")
		w := e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, authnRequestXML("_n", "urn:federation:MicrosoftOnline", fixedNow, "", ""), "", nil), nil))
		e.refused(w, http.StatusForbidden, "user-has-no-name-identifier")
	})
}

func TestPresetConfigErrors(t *testing.T) {
	for name, c := range map[string]struct {
		cfg  SPConfig
		want string
	}{
		"entra-b2b without tenant":       {SPConfig{Preset: "entra-b2b", PersistentSalt: protocols.NewSecret(salt)}, "needs tenant"},
		"m365 without immutable_id":      {SPConfig{Preset: "m365"}, "needs immutable_id"},
		"m365 with two domains":          {SPConfig{Preset: "m365", ImmutableID: "claim:x", Domains: []string{"a.example", "b.example"}}, "one app per federated domain"},
		"unknown preset":                 {SPConfig{Preset: "okta"}, `unknown preset "okta"`},
		"pairwise without salt":          {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "https://x/acs"}}}, "persistent_salt"},
		"bad ACS":                        {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "/acs"}}, NameIDFormat: "email"}, "not an absolute"},
		"metadata_url without entity_id": {SPConfig{MetadataURL: "https://sp.example/md", NameIDFormat: "email"}, "needs entity_id"},
		"plain http ACS":                 {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "http://x.example/acs"}}, NameIDFormat: "email"}, "use https"},
		"plain http slo_url":             {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "https://x/acs"}}, NameIDFormat: "email", SLOURL: "http://x.example/slo"}, "use https"},
		"nothing signed":                 {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "https://x/acs"}}, NameIDFormat: "email", SignAssertion: ptr(false)}, "something must be signed"},
		"signed requests, no cert":       {SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "https://x/acs"}}, NameIDFormat: "email", RequireSignedRequests: true}, "certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.cfg.resolve("app")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

func check(t *testing.T, got, want, what string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// One entity id, one app: a second app (or its metadata) claiming another
// app's entity id could receive that app's assertions. Microsoft 365's
// own id may repeat (one app per domain), and must then be named by path.
func TestDuplicateEntityIDs(t *testing.T) {
	a, b := basicSP(), basicSP()
	b.ACSURLs = []ACS{{URL: "https://evil.example/acs"}}
	_, err := Open(Config{PublicURL: base, SPs: []SPEntry{{App: "a", SPConfig: a}, {App: "b", SPConfig: b}}},
		Deps{Keys: newEnv(t, nil).idp.Keys})
	if err == nil || !strings.Contains(err.Error(), `is already app "a"'s`) {
		t.Fatalf("duplicate entity id accepted: %v", err)
	}

	m := SPConfig{Preset: "m365", ImmutableID: "claim:immutable_id"}
	_, err = Open(Config{PublicURL: base, SPs: []SPEntry{{App: "m365-a", SPConfig: m}, {App: "m365-b", SPConfig: m}}}, Deps{Keys: newEnv(t, nil).idp.Keys})
	if err == nil || !strings.Contains(err.Error(), "needs its own IssuerUri") {
		t.Fatalf("two federated domains with one IssuerUri: %v", err)
	}
	ma, mb := m, m
	ma.Issuer, mb.Issuer = "http://a.example/adfs/services/trust", "http://b.example/adfs/services/trust"
	e := newEnv(t, map[string]SPConfig{"m365-a": ma, "m365-b": mb})
	req := authnRequestXML("_d", preset.MicrosoftOnline, fixedNow, "", "")
	e.refused(e.do(postRequest(SSOPath, req, "")), http.StatusBadRequest, "unknown-service-provider")
	posted(t, e.do(postRequest(SSOPath+"/m365-b", req, "")))
	local := SPConfig{EntityID: "x", ACSURLs: []ACS{{URL: "http://localhost:8081/acs"}}, NameIDFormat: "email"}
	if _, err := local.resolve("dev"); err != nil {
		t.Fatalf("http to localhost is for development: %v", err)
	}
}

// TestNameIDFormatFromMetadata: without name_id_format, a NameIDFormat
// the SP's metadata lists alone is used (the SP accepts no other); with
// several, or none, persistent; name_id_format always wins.
func TestNameIDFormatFromMetadata(t *testing.T) {
	md := func(formats ...string) []byte {
		var b strings.Builder
		for _, f := range formats {
			b.WriteString("<md:NameIDFormat>" + f + "</md:NameIDFormat>")
		}
		return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + appEntity + `">` +
			`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + b.String() +
			`<md:AssertionConsumerService Binding="` + BindingPOST + `" Location="https://app.example.com/saml/acs" index="0"/>` +
			`</md:SPSSODescriptor></md:EntityDescriptor>`)
	}
	for _, tt := range []struct {
		name, configured string
		listed           []string
		format, value    string
	}{
		{name: "one listed", listed: []string{preset.NameIDEmail}, format: preset.NameIDEmail, value: "email"},
		{name: "two listed", listed: []string{preset.NameIDEmail, preset.NameIDPersistent}, format: preset.NameIDPersistent, value: "pairwise"},
		{name: "none listed", format: preset.NameIDPersistent, value: "pairwise"},
		{name: "configured wins", configured: "unspecified", listed: []string{preset.NameIDEmail}, format: preset.NameIDUnspecified, value: "username"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := SPConfig{Metadata: md(tt.listed...), NameIDFormat: tt.configured, PersistentSalt: protocols.NewSecret(salt)}
			s, err := c.resolve("app")
			if err != nil {
				t.Fatal(err)
			}
			if s.NameIDFormat != tt.format || s.NameIDValue != tt.value {
				t.Errorf("NameID %s from %s, want %s from %s", s.NameIDFormat, s.NameIDValue, tt.format, tt.value)
			}
		})
	}
}

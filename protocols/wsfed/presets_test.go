package wsfed

import (
	"strings"
	"testing"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

func check(t *testing.T, got, want, what string) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// INTEROP.md §2: Microsoft 365 domain federation over WS-Fed, literally.
func TestPresetM365(t *testing.T) {
	e := newEnv(t, map[string]RPConfig{"m365": {Preset: "m365", ImmutableID: "claim:immutable_id", Issuer: "http://sso.example.co.jp/adfs/services/trust"}})
	e.sp.id.AMR = []string{"pwd", "mfa"}
	// prompt=login arrives as wauth=password&wfresh=0: re-authenticate now,
	// without forcing a password-only sign-in.
	w := e.get(signIn(Path, "wtrealm", "urn:federation:MicrosoftOnline", "wctx", "LoginOptions=3&estsredirect=2",
		"wauth", "urn:oasis:names:tc:SAML:1.0:am:password", "wfresh", "0"))
	action, f := posted(t, w)
	check(t, action, "https://login.microsoftonline.com/login.srf", "reply")
	check(t, f["wctx"], "LoginOptions=3&estsredirect=2", "wctx")
	if r := e.sp.reqs[0]; !r.FreshAfter.Equal(fixedNow) || r.MFA {
		t.Errorf("wfresh=0: %+v", r)
	}
	if !strings.Contains(f["wresult"], "<t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType>") {
		t.Error("M365 needs a SAML 1.1 token")
	}
	a := e.token(t, f["wresult"], "AssertionID")
	check(t, a.SelectAttrValue("MajorVersion", "")+"."+a.SelectAttrValue("MinorVersion", ""), "1.1", "SAML version")
	check(t, a.SelectAttrValue("Issuer", ""), "http://sso.example.co.jp/adfs/services/trust", "Issuer = IssuerUri")
	check(t, a.FindElement("./Conditions/AudienceRestrictionCondition/Audience").Text(), "urn:federation:MicrosoftOnline", "Audience")
	check(t, a.FindElement("./AttributeStatement/Subject/NameIdentifier").Text(), "AbCdEf0123456789+/==", "NameIdentifier = ImmutableID")
	values := map[string]string{}
	for _, at := range a.FindElements("./AttributeStatement/Attribute") {
		values[at.SelectAttrValue("AttributeNamespace", "")+"/"+at.SelectAttrValue("AttributeName", "")] = at.FindElement("./AttributeValue").Text()
	}
	check(t, values["http://schemas.xmlsoap.org/claims/UPN"], "taro@corp.example", "UPN claim")
	check(t, values["http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"], "AbCdEf0123456789+/==", "ImmutableID claim")
	// MFA the way Entra honours it from a WS-Fed/SAML 1.1 IdP.
	st := a.FindElement("./AuthenticationStatement")
	check(t, st.SelectAttrValue("AuthenticationMethod", ""), "http://schemas.microsoft.com/claims/multipleauthn", "AuthenticationMethod")
	check(t, st.SelectAttrValue("AuthenticationInstant", ""), "2026-11-23T09:20:00Z", "AuthenticationInstant")
	check(t, values["http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod"], "http://schemas.microsoft.com/claims/multipleauthn", "authenticationmethod claim")
	check(t, values["http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationinstant"], "2026-11-23T09:20:00Z", "authenticationinstant claim")
	xmlsigtest.XMLSec1Verify(t, []byte(f["wresult"]), e.key, "AssertionID", nsSAML1+":Assertion")
}

// INTEROP.md §1, WS-Fed variant of Entra direct federation.
func TestPresetEntraB2B(t *testing.T) {
	for _, realm := range []string{"https://login.microsoftonline.com/" + tenant + "/", "urn:federation:MicrosoftOnline"} {
		t.Run(realm, func(t *testing.T) {
			e := newEnv(t, map[string]RPConfig{"partner": {Preset: "entra-b2b", Tenant: tenant, PersistentSalt: protocols.NewSecret(salt)}})
			action, f := posted(t, e.get(signIn(Path+"/partner", "wtrealm", realm)))
			check(t, action, "https://login.microsoftonline.com/login.srf", "reply")
			a := e.token(t, f["wresult"], "AssertionID")
			check(t, a.FindElement("./Conditions/AudienceRestrictionCondition/Audience").Text(), "https://login.microsoftonline.com/"+tenant+"/", "Audience")
			values := map[string]string{}
			for _, at := range a.FindElements("./AttributeStatement/Attribute") {
				values[at.SelectAttrValue("AttributeNamespace", "")+"/"+at.SelectAttrValue("AttributeName", "")] = at.FindElement("./AttributeValue").Text()
			}
			check(t, values["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"], "taro@example.co.jp", "emailaddress")
			if v := values["http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"]; len(v) != 43 {
				t.Errorf("ImmutableID %q", v)
			}
		})
	}
}

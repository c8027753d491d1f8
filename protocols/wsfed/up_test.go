package wsfed

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// The RP side: an ADFS-shaped STS (its metadata, its key) and one login;
// tokens are signed by xmlsec1, not by our own signer.
const (
	stsEntity   = "http://adfs.corp.example/adfs/services/trust"
	stsPassive  = "https://adfs.corp.example/adfs/ls/"
	rpRealm     = "urn:fedgate:corp"
	rpCallback  = base + "/callback/corp-adfs"
	claimsNS    = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims"
	msClaimsNS  = "http://schemas.microsoft.com/ws/2008/06/identity/claims"
	sigTemplate = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>` +
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-SHAALG"/>` +
		`<ds:Reference URI="#REF"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>` +
		`<ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="DIGESTALG"/><ds:DigestValue/></ds:Reference></ds:SignedInfo>` +
		`<ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>`
)

func stsMetadataXML(k xmlsigtest.Key) string {
	return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + stsEntity + `">` +
		`<RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706">` +
		`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + base64.StdEncoding.EncodeToString(k.Cert.Raw) +
		`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>` +
		`<fed:PassiveRequestorEndpoint><EndpointReference xmlns="http://www.w3.org/2005/08/addressing"><Address>` + stsPassive + `</Address></EndpointReference></fed:PassiveRequestorEndpoint>` +
		`</RoleDescriptor></EntityDescriptor>`
}

type rpFixture struct {
	sts   xmlsigtest.Key
	u     *Upstream
	login protocols.AuthRequest
	mu    sync.Mutex
	used  map[string]bool
}

func newRPFixture(t testing.TB, change func(*UpstreamConfig)) *rpFixture {
	t.Helper()
	f := &rpFixture{sts: fixedKey(t, "idp"), used: map[string]bool{}}
	cfg := UpstreamConfig{ID: "corp-adfs", Type: "wsfed", EntityID: stsEntity, Realm: rpRealm, Metadata: []byte(stsMetadataXML(f.sts))}
	if change != nil {
		change(&cfg)
	}
	u, err := OpenUpstream(cfg, UpstreamDeps{PublicURL: base, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	f.u = u
	f.login = protocols.AuthRequest{State: "state-AAAAAAAAAAAAAAAAA", Nonce: "nonce-BBBBBBBBBBBBBBBBB", CallbackURL: rpCallback,
		Claim: func(_ context.Context, key string, _ time.Time) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			first := !f.used[key]
			f.used[key] = true
			return first, nil
		}}
	return f
}

// token11 is an ADFS-shaped SAML 1.1 token, as a template for xmlsec1.
type token11 struct {
	id, issuer, audience, method, upn string
	notBefore, notOnOrAfter           time.Time
}

func (f *rpFixture) token() *token11 {
	return &token11{id: "_a11", issuer: stsEntity, audience: rpRealm, method: "urn:oasis:names:tc:SAML:1.0:am:password",
		upn: "alice@corp.example", notBefore: fixedNow.Add(-time.Minute), notOnOrAfter: fixedNow.Add(time.Hour)}
}

func (k *token11) xml(sig string) string {
	subject := `<saml:Subject><saml:NameIdentifier Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">` + k.upn +
		`</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject>`
	return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion" MajorVersion="1" MinorVersion="1" AssertionID="` + k.id +
		`" Issuer="` + k.issuer + `" IssueInstant="` + xsTime(fixedNow) + `">` +
		`<saml:Conditions NotBefore="` + xsTime(k.notBefore) + `" NotOnOrAfter="` + xsTime(k.notOnOrAfter) + `"><saml:AudienceRestrictionCondition><saml:Audience>` + k.audience + `</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions>` +
		`<saml:AttributeStatement>` + subject +
		`<saml:Attribute AttributeName="upn" AttributeNamespace="` + claimsNS + `"><saml:AttributeValue>` + k.upn + `</saml:AttributeValue></saml:Attribute>` +
		`<saml:Attribute AttributeName="emailaddress" AttributeNamespace="` + claimsNS + `"><saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute>` +
		`<saml:Attribute AttributeName="groups" AttributeNamespace="` + msClaimsNS + `"><saml:AttributeValue>staff</saml:AttributeValue><saml:AttributeValue>sales</saml:AttributeValue></saml:Attribute>` +
		`</saml:AttributeStatement>` +
		`<saml:AuthenticationStatement AuthenticationMethod="` + k.method + `" AuthenticationInstant="` + xsTime(fixedNow.Add(-time.Minute)) + `">` + subject + `</saml:AuthenticationStatement>` +
		sig + `</saml:Assertion>`
}

func rstrOf(token string) string {
	return `<t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><t:Lifetime/>` +
		`<wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference xmlns:wsa="http://www.w3.org/2005/08/addressing"><wsa:Address>` + rpRealm + `</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
		`<t:RequestedSecurityToken>` + token + `</t:RequestedSecurityToken></t:RequestSecurityTokenResponse>`
}

// signed11 is the token signed by xmlsec1 (sha256, or sha1 for old ADFS).
func signed11(t testing.TB, k xmlsigtest.Key, tok *token11, sha1 bool) string {
	t.Helper()
	sig := strings.ReplaceAll(sigTemplate, "REF", tok.id)
	sig = strings.Replace(sig, "rsa-SHAALG", "rsa-sha256", 1)
	sig = strings.Replace(sig, "DIGESTALG", "http://www.w3.org/2001/04/xmlenc#sha256", 1)
	if sha1 {
		sig = strings.Replace(sig, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#rsa-sha1", 1)
		sig = strings.Replace(sig, "http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1", 1)
	}
	out := xmlsigtest.XMLSec1Sign(t, []byte(tok.xml(sig)), k, "AssertionID", "urn:oasis:names:tc:SAML:1.0:assertion:Assertion")
	s := string(out)
	if i := strings.Index(s, "?>"); strings.HasPrefix(s, "<?xml") && i > 0 {
		s = s[i+2:]
	}
	return strings.TrimSpace(s)
}

func (f *rpFixture) post(wctx, wresult string) (protocols.Identity, error) {
	form := url.Values{"wa": {"wsignin1.0"}, "wresult": {wresult}, "wctx": {wctx}}
	r := httptest.NewRequest(http.MethodPost, rpCallback, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.u.Finish(context.Background(), r, f.login)
}

func TestUpstreamSAML11FromXMLSec1(t *testing.T) {
	f := newRPFixture(t, nil)
	id, err := f.post(wctx(f.login), rstrOf(signed11(t, f.sts, f.token(), false)))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "alice@corp.example" || id.Username != "alice@corp.example" || id.Email != "alice@corp.example" ||
		!slices.Equal(id.Groups, []string{"staff", "sales"}) || !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("identity = %+v", id)
	}
	// ADFS's multipleauthn proves MFA.
	f = newRPFixture(t, nil)
	tok := f.token()
	tok.method = "http://schemas.microsoft.com/claims/multipleauthn"
	if id, err := f.post(wctx(f.login), rstrOf(signed11(t, f.sts, tok, false))); err != nil || !id.HasAMR("mfa") {
		t.Errorf("multipleauthn: %v %v", id.AMR, err)
	}
}

func TestUpstreamBeginWSFed(t *testing.T) {
	f := newRPFixture(t, nil)
	to, err := f.u.Begin(t.Context(), f.login)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	if !strings.HasPrefix(to, stsPassive+"?") || q.Get("wa") != "wsignin1.0" || q.Get("wtrealm") != rpRealm || q.Get("wreply") != rpCallback ||
		!strings.HasPrefix(q.Get("wctx"), f.login.State+".") || q.Has("wauth") {
		t.Fatalf("Begin = %s", to)
	}
	step := f.login
	step.MFA = &protocols.MFARequest{Methods: []string{"mfa"}}
	to, _ = f.u.Begin(t.Context(), step)
	u, _ = url.Parse(to)
	if q := u.Query(); q.Get("wauth") != "http://schemas.microsoft.com/claims/multipleauthn" || q.Get("wfresh") != "0" {
		t.Fatalf("step-up Begin = %s", to)
	}
}

func TestUpstreamWSFedRefuses(t *testing.T) {
	other := xmlsigtest.NewKey(t, "other-sts")
	cases := []struct {
		name  string
		make  func(t *testing.T, f *rpFixture) (wctx, wresult string)
		check protocols.Check // what the audit reason names
		want  string
		cfg   func(*UpstreamConfig)
	}{
		{name: "wctx of another login", check: protocols.CheckState, want: "wctx", make: func(t *testing.T, f *rpFixture) (string, string) {
			o := f.login
			o.Nonce = "another"
			return wctx(o), rstrOf(signed11(t, f.sts, f.token(), false))
		}},
		{name: "wrong audience", check: protocols.CheckAudience, want: "audience", make: func(t *testing.T, f *rpFixture) (string, string) {
			tok := f.token()
			tok.audience = "urn:other"
			return wctx(f.login), rstrOf(signed11(t, f.sts, tok, false))
		}},
		{name: "wrong issuer", check: protocols.CheckIssuer, want: "Issuer", make: func(t *testing.T, f *rpFixture) (string, string) {
			tok := f.token()
			tok.issuer = "http://evil.example/adfs/services/trust"
			return wctx(f.login), rstrOf(signed11(t, f.sts, tok, false))
		}},
		{name: "expired", check: protocols.CheckExpired, want: "expired", make: func(t *testing.T, f *rpFixture) (string, string) {
			tok := f.token()
			tok.notBefore, tok.notOnOrAfter = fixedNow.Add(-2*time.Hour), fixedNow.Add(-time.Hour)
			return wctx(f.login), rstrOf(signed11(t, f.sts, tok, false))
		}},
		{name: "not yet valid", check: protocols.CheckNotYetValid, want: "not yet valid", make: func(t *testing.T, f *rpFixture) (string, string) {
			tok := f.token()
			tok.notBefore = fixedNow.Add(time.Hour)
			return wctx(f.login), rstrOf(signed11(t, f.sts, tok, false))
		}},
		{name: "unsigned", check: protocols.CheckSignature, want: "not signed", make: func(t *testing.T, f *rpFixture) (string, string) {
			return wctx(f.login), rstrOf(f.token().xml(""))
		}},
		{name: "signed by a key not in the metadata", check: protocols.CheckSignature, want: "signature", make: func(t *testing.T, f *rpFixture) (string, string) {
			return wctx(f.login), rstrOf(signed11(t, other, f.token(), false))
		}},
		{name: "sha1 not allowed", check: protocols.CheckSignature, want: "not allowed", make: func(t *testing.T, f *rpFixture) (string, string) {
			return wctx(f.login), rstrOf(signed11(t, f.sts, f.token(), true))
		}},
		{name: "tampered upn", check: protocols.CheckSignature, want: "signature", make: func(t *testing.T, f *rpFixture) (string, string) {
			s := signed11(t, f.sts, f.token(), false)
			return wctx(f.login), rstrOf(strings.Replace(s, ">alice@corp.example<", ">admin@corp.example<", 1))
		}},
		{name: "comment in the NameIdentifier", check: protocols.CheckComment, want: "comments", make: func(t *testing.T, f *rpFixture) (string, string) {
			tok := f.token()
			tok.upn = "alice@corp.example.evil"
			s := signed11(t, f.sts, tok, false)
			return wctx(f.login), rstrOf(strings.Replace(s, "alice@corp.example.evil", "alice@corp.example<!---->.evil", 1))
		}},
		{name: "two tokens", check: protocols.CheckStructure, want: "exactly one token", make: func(t *testing.T, f *rpFixture) (string, string) {
			s := signed11(t, f.sts, f.token(), false)
			evil := f.token()
			evil.id, evil.upn = "_evil", "admin@corp.example"
			return wctx(f.login), rstrOf(evil.xml("") + s)
		}},
		{name: "DTD", check: protocols.CheckDTD, want: "DTD", make: func(t *testing.T, f *rpFixture) (string, string) {
			return wctx(f.login), `<!DOCTYPE x [<!ENTITY e "x">]>` + rstrOf(signed11(t, f.sts, f.token(), false))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newRPFixture(t, c.cfg)
			wc, wr := c.make(t, f)
			id, err := f.post(wc, wr)
			if !errors.Is(err, protocols.ErrRejected) || !strings.Contains(err.Error(), c.want) || protocols.RejectedCheck(err) != c.check {
				t.Fatalf("err = %v (check %q), want rejected with %q, check %q", err, protocols.RejectedCheck(err), c.want, c.check)
			}
			if id.Subject != "" {
				t.Errorf("identity with the refusal: %+v", id)
			}
		})
	}
}

func TestUpstreamWSFedReplay(t *testing.T) {
	f := newRPFixture(t, nil)
	wr := rstrOf(signed11(t, f.sts, f.token(), false))
	if _, err := f.post(wctx(f.login), wr); err != nil {
		t.Fatal(err)
	}
	if _, err := f.post(wctx(f.login), wr); !errors.Is(err, protocols.ErrRejected) || protocols.RejectedCheck(err) != protocols.CheckReplay {
		t.Fatalf("replayed token: %v", err)
	}
}

// FuzzWSFedResult: any wresult either fails cleanly or is the token the
// STS signed (its AssertionID and NameIdentifier, nothing else).
func FuzzWSFedResult(f *testing.F) {
	fx := newRPFixture(f, nil)
	f.Add(rstrOf(signed11(f, fx.sts, fx.token(), false)))
	f.Add(rstrOf(fx.token().xml("")))
	f.Fuzz(func(t *testing.T, wresult string) {
		ans, err := fx.u.checkResult([]byte(wresult), fxCheck(fx))
		if err != nil {
			return
		}
		if ans.AssertionID != "_a11" || ans.NameID != "alice@corp.example" {
			t.Fatalf("accepted a token the STS did not sign: %+v", ans)
		}
	})
}

func fxCheck(f *rpFixture) samltoken.Check {
	return samltoken.Check{Issuer: stsEntity, Audience: rpRealm, Now: fixedNow, Skew: f.u.cfg.skew()}
}

// A SAML 2.0 token in the wresult (ADFS relying parties set to SAML 2.0),
// signed by xmlsec1: checked like a SAML assertion, without InResponseTo.
func TestUpstreamSAML2Token(t *testing.T) {
	f := newRPFixture(t, nil)
	sig := strings.ReplaceAll(sigTemplate, "REF", "_a2")
	sig = strings.Replace(sig, "rsa-SHAALG", "rsa-sha256", 1)
	sig = strings.Replace(sig, "DIGESTALG", "http://www.w3.org/2001/04/xmlenc#sha256", 1)
	tmpl := `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a2" Version="2.0" IssueInstant="` + xsTime(fixedNow) + `">` +
		`<saml:Issuer>` + stsEntity + `</saml:Issuer>` + sig +
		`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice-4711</saml:NameID>` +
		`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="` + xsTime(fixedNow.Add(time.Hour)) + `"/></saml:SubjectConfirmation></saml:Subject>` +
		`<saml:Conditions NotBefore="` + xsTime(fixedNow.Add(-time.Minute)) + `" NotOnOrAfter="` + xsTime(fixedNow.Add(time.Hour)) + `"><saml:AudienceRestriction><saml:Audience>` + rpRealm + `</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
		`<saml:AttributeStatement><saml:Attribute Name="` + claimsNS + `/upn"><saml:AttributeValue>alice@corp.example</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
		`<saml:AuthnStatement AuthnInstant="` + xsTime(fixedNow.Add(-time.Minute)) + `"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
		`</saml:Assertion>`
	signed := string(xmlsigtest.XMLSec1Sign(t, []byte(tmpl), f.sts, "ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"))
	if i := strings.Index(signed, "?>"); strings.HasPrefix(signed, "<?xml") {
		signed = signed[i+2:]
	}
	id, err := f.post(wctx(f.login), rstrOf(strings.TrimSpace(signed)))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "alice-4711" || id.Username != "alice@corp.example" || !slices.Equal(id.AMR, []string{"pwd"}) {
		t.Errorf("identity = %+v", id)
	}
}

package saml

import (
	"bytes"
	"compress/flate"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

func TestUpstreamSignIn(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T, f *upFixture) string
	}{
		{"signed assertion", func(t *testing.T, f *upFixture) string {
			return encode(t, signAssertion(t, f.answer().doc(), f.idp))
		}},
		{"signed response", func(t *testing.T, f *upFixture) string {
			return encode(t, signResponse(t, f.answer().doc(), f.idp))
		}},
		{"both signed", func(t *testing.T, f *upFixture) string {
			return encode(t, signResponse(t, signAssertion(t, f.answer().doc(), f.idp), f.idp))
		}},
		{"encrypted aes256-gcm", func(t *testing.T, f *upFixture) string {
			return encode(t, encryptAssertion(t, signAssertion(t, f.answer().doc(), f.idp), f.sp, EncAES256GCM))
		}},
		{"encrypted aes256-cbc in a signed response", func(t *testing.T, f *upFixture) string {
			return encode(t, signResponse(t, encryptAssertion(t, signAssertion(t, f.answer().doc(), f.idp), f.sp, EncAES256CBC), f.idp))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newUpFixture(t, nil)
			id, err := f.post(c.make(t, f))
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "alice@corp.example" || id.Upstream != "partner" || id.Email != "alice@corp.example" ||
				!slices.Equal(id.Groups, []string{"staff", "sales"}) || !slices.Equal(id.AMR, []string{"pwd"}) ||
				!id.AuthTime.Equal(fixedNow.Add(-30*time.Second)) {
				t.Errorf("identity = %+v", id)
			}
		})
	}
}

func TestUpstreamMFAEvidence(t *testing.T) {
	for _, c := range []struct {
		preset, class string
		mfa           bool
	}{
		{"", ClassREFEDSMFA, true},
		{"", protocols.MicrosoftMFA, false},
		{"adfs", protocols.MicrosoftMFA, true},
		{"adfs", ClassREFEDSMFA, false},
		{"", ClassPasswordProtected, false},
	} {
		f := newUpFixture(t, func(c2 *UpstreamConfig) { c2.Preset = c.preset })
		m := f.answer()
		m.class = c.class
		id, err := f.post(encode(t, signAssertion(t, m.doc(), f.idp)))
		if err != nil {
			t.Fatal(err)
		}
		if id.HasAMR("mfa") != c.mfa {
			t.Errorf("preset %q class %s: amr %v, want mfa=%v", c.preset, c.class, id.AMR, c.mfa)
		}
	}
}

// readRedirect reads the AuthnRequest out of a Redirect-binding URL.
func readRedirect(t *testing.T, to string) (url.Values, *etree.Element) {
	t.Helper()
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	z, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(flate.NewReader(bytes.NewReader(z)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	return q, doc.Root()
}

func TestUpstreamBegin(t *testing.T) {
	f := newUpFixture(t, func(c *UpstreamConfig) { c.NameIDFormat = "persistent" })
	to, err := f.u.Begin(t.Context(), f.login)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(to, upSSO+"?") {
		t.Fatalf("Begin = %s", to)
	}
	q, req := readRedirect(t, to)
	if q.Get("RelayState") != f.login.State || q.Get("SigAlg") == "" || q.Get("Signature") == "" {
		t.Errorf("query %v: want RelayState and a signature (the IdP wants signed requests)", q)
	}
	if req.SelectAttrValue("ID", "") != requestID(f.login.Nonce) || req.SelectAttrValue("AssertionConsumerServiceURL", "") != upCallback ||
		req.SelectAttrValue("ForceAuthn", "") != "" || req.SelectElement("RequestedAuthnContext") != nil {
		t.Errorf("AuthnRequest %v", req.Attr)
	}
	if p := req.SelectElement("NameIDPolicy"); p == nil || p.SelectAttrValue("Format", "") != preset.NameIDPersistent {
		t.Error("NameIDPolicy without the persistent format")
	}
	// The query signature verifies with our published key.
	signed := "SAMLRequest=" + url.QueryEscape(q.Get("SAMLRequest")) + "&RelayState=" + url.QueryEscape(q.Get("RelayState")) + "&SigAlg=" + url.QueryEscape(q.Get("SigAlg"))
	sig, _ := base64.StdEncoding.DecodeString(q.Get("Signature"))
	if err := f.sp.Cert.CheckSignature(x509.SHA256WithRSA, []byte(signed), sig); err != nil {
		t.Errorf("redirect signature: %v", err)
	}

	// Step-up: RequestedAuthnContext with the MFA classes, and ForceAuthn.
	step := f.login
	step.MFA = &protocols.MFARequest{Methods: []string{"mfa"}}
	to, err = f.u.Begin(t.Context(), step)
	if err != nil {
		t.Fatal(err)
	}
	_, req = readRedirect(t, to)
	rac := req.SelectElement("RequestedAuthnContext")
	if req.SelectAttrValue("ForceAuthn", "") != "true" || rac == nil || rac.SelectElement("AuthnContextClassRef").Text() != ClassREFEDSMFA {
		t.Errorf("step-up request lacks ForceAuthn or RequestedAuthnContext")
	}
}

func TestUpstreamMetadata(t *testing.T) {
	next := xmlsigtest.NewKey(t, "sp-next")
	f := newUpFixture(t, func(c *UpstreamConfig) {
		c.SPKeys = append(c.SPKeys, protocols.SigningKey{Signer: next.Key, Cert: next.Cert, KeyID: "next", Next: true})
	})
	body, ctype, err := f.u.Metadata()
	if err != nil || ctype != "application/samlmetadata+xml" {
		t.Fatal(ctype, err)
	}
	md, err := parseSPMetadata(body)
	if err != nil {
		t.Fatal(err)
	}
	if md.EntityID != upSP || len(md.ACS) != 1 || md.ACS[0].URL != upCallback || !md.AuthnRequestsSigned {
		t.Errorf("metadata %+v", md)
	}
	if len(md.EncryptionCerts) != 2 || len(md.Certs) != 2 || !md.EncryptionCerts[1].Equal(next.Cert) {
		t.Errorf("want the active and next keys for signing and encryption, have %d/%d", len(md.Certs), len(md.EncryptionCerts))
	}
	// An assertion encrypted to the next key (an IdP that imported it
	// early) still opens: rollover without an outage.
	id, err := f.post(encode(t, encryptAssertion(t, signAssertion(t, f.answer().doc(), f.idp), next, EncAES256GCM)))
	if err != nil || id.Subject == "" {
		t.Errorf("encrypted to the next key: %v", err)
	}
}

func TestUpstreamMetadataPinned(t *testing.T) {
	f := newUpFixture(t, nil)
	other := strings.Replace(idpMetadataXML(f.evil), upIdP, "https://evil.example/idp", 1)
	if err := f.u.SetMetadata([]byte(other)); err == nil {
		t.Fatal("metadata of another entity accepted")
	}
	// The last good copy stays: the IdP's own key still signs in.
	if _, err := f.post(encode(t, signAssertion(t, f.answer().doc(), f.idp))); err != nil {
		t.Fatal(err)
	}
}

// corpusCase is an answer that must be refused, kept in testdata/sp-corpus
// (written with -update; fixed keys and clock make it reproducible).
type corpusCase struct {
	name string
	make func(t *testing.T, f *upFixture) string
	want string // in the error
	cfg  func(*UpstreamConfig)
}

func mutated(change func(m *minted), sign func(testing.TB, *etree.Document, xmlsigtest.Key) *etree.Document) func(*testing.T, *upFixture) string {
	return func(t *testing.T, f *upFixture) string {
		m := f.answer()
		change(m)
		return encode(t, sign(t, m.doc(), f.idp))
	}
}

func corpus() []corpusCase {
	cs := []corpusCase{
		{name: "comment-in-nameid", want: "comments", make: func(t *testing.T, f *upFixture) string {
			doc := signAssertion(t, f.answer().doc(), f.idp)
			n := assertionOf(doc).FindElement(".//NameID")
			n.SetText("alice@corp")
			n.CreateComment("")
			n.CreateText(".example")
			return encode(t, doc)
		}},
		{name: "unsigned-assertion-beside-signed", want: "response signature", make: func(t *testing.T, f *upFixture) string {
			m := f.answer()
			doc := signResponse(t, signAssertion(t, m.doc(), f.idp), f.idp)
			m.assertID, m.nameID = "_evil", evilName
			doc.Root().AddChild(m.assertion())
			return encode(t, doc)
		}},
		{name: "unsigned-assertion-in-signed-response-unsigned-root", want: "exactly one assertion", make: func(t *testing.T, f *upFixture) string {
			m := f.answer()
			doc := signAssertion(t, m.doc(), f.idp)
			m.assertID, m.nameID = "_evil", evilName
			doc.Root().InsertChildAt(assertionOf(doc).Index(), m.assertion())
			return encode(t, doc)
		}},
		{name: "nothing-signed", want: "not signed", make: func(t *testing.T, f *upFixture) string { return encode(t, f.answer().doc()) }},
		{name: "wrong-destination", want: "Destination", make: mutated(func(m *minted) { m.dest = "https://other.example/acs" }, signResponse)},
		{name: "wrong-recipient", want: "recipient", make: mutated(func(m *minted) { m.recipient = "https://other.example/acs" }, signAssertion)},
		{name: "wrong-audience", want: "audience", make: mutated(func(m *minted) { m.audience = "https://other.example/sp" }, signAssertion)},
		{name: "wrong-issuer", want: "Issuer", make: mutated(func(m *minted) { m.issuer = "https://evil.example/idp" }, signAssertion)},
		{name: "in-response-to-another-login", want: "InResponseTo", make: mutated(func(m *minted) { m.reqID = requestID("another login") }, signAssertion)},
		{name: "expired", want: "expired", make: mutated(func(m *minted) {
			m.now, m.notBefore, m.notOnOrAfter = fixedNow.Add(-time.Hour), fixedNow.Add(-time.Hour), fixedNow.Add(-10*time.Minute)
		}, signAssertion)},
		{name: "not-yet-valid", want: "not yet valid", make: mutated(func(m *minted) {
			m.notBefore, m.notOnOrAfter = fixedNow.Add(10*time.Minute), fixedNow.Add(20*time.Minute)
		}, signAssertion)},
		{name: "transient-nameid-as-subject", want: "transient", make: mutated(func(m *minted) { m.nameIDFormat = preset.NameIDTransient }, signAssertion)},
		{name: "dtd-entities", want: "DTD", make: func(t *testing.T, f *upFixture) string {
			b, _ := signAssertion(t, f.answer().doc(), f.idp).WriteToBytes()
			doc := `<!DOCTYPE r [<!ENTITY e "alice@corp.example">]>` + strings.Replace(string(b), "alice@corp.example</saml:NameID>", "&e;</saml:NameID>", 1)
			return base64.StdEncoding.EncodeToString([]byte(doc))
		}},
		{name: "keyinfo-certificate-not-the-metadatas", want: "signature", make: func(t *testing.T, f *upFixture) string {
			// Signed by another key, which rides along in KeyInfo.
			return encode(t, signAssertion(t, f.answer().doc(), f.evil))
		}},
		{name: "sha1-not-allowed", want: "not allowed", make: func(t *testing.T, f *upFixture) string {
			doc := f.answer().doc()
			if err := signer(t, f.idp, true).Sign(assertionOf(doc), "ID", 1); err != nil {
				t.Fatal(err)
			}
			return encode(t, doc)
		}},
		{name: "encrypted-for-another-key", want: "not ours", make: func(t *testing.T, f *upFixture) string {
			return encode(t, encryptAssertion(t, signAssertion(t, f.answer().doc(), f.idp), f.evil, EncAES256GCM))
		}},
		{name: "cleartext-when-encryption-required", want: "not encrypted", cfg: func(c *UpstreamConfig) { c.EncryptedAssertion = true },
			make: func(t *testing.T, f *upFixture) string { return encode(t, signAssertion(t, f.answer().doc(), f.idp)) }},
		{name: "assertion-unsigned-when-required", want: "not signed", cfg: func(c *UpstreamConfig) { c.SignedAssertion = true },
			make: func(t *testing.T, f *upFixture) string { return encode(t, signResponse(t, f.answer().doc(), f.idp)) }},
		{name: "tampered-nameid", want: "signature", make: func(t *testing.T, f *upFixture) string {
			doc := signAssertion(t, f.answer().doc(), f.idp)
			assertionOf(doc).FindElement(".//NameID").SetText(evilName)
			return encode(t, doc)
		}},
	}
	for _, x := range xswSet {
		cs = append(cs,
			corpusCase{name: x.name + "-assertion", want: "", make: func(t *testing.T, f *upFixture) string {
				doc := signAssertion(t, f.answer().doc(), f.idp)
				x.wrap(doc, assertionOf(doc))
				return encode(t, doc)
			}},
			corpusCase{name: x.name + "-response", want: "", make: func(t *testing.T, f *upFixture) string {
				doc := signResponse(t, f.answer().doc(), f.idp)
				x.wrap(doc, doc.Root())
				return encode(t, doc)
			}})
	}
	return cs
}

// TestUpstreamRefuses posts every answer of the negative corpus: each must
// be refused as ErrRejected with no identity.
func TestUpstreamRefuses(t *testing.T) {
	for _, c := range corpus() {
		t.Run(c.name, func(t *testing.T) {
			f := newUpFixture(t, c.cfg)
			path := filepath.Join("testdata", "sp-corpus", c.name+".b64")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(c.make(t, f)+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			id, err := f.post(string(body))
			if !errors.Is(err, protocols.ErrRejected) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want rejected with %q", err, c.want)
			}
			if id.Subject != "" || id.Username != "" {
				t.Errorf("identity %+v returned with the refusal", id)
			}
			t.Log(err)
		})
	}
}

func TestUpstreamReplay(t *testing.T) {
	f := newUpFixture(t, nil)
	body := encode(t, signAssertion(t, f.answer().doc(), f.idp))
	if _, err := f.post(body); err != nil {
		t.Fatal(err)
	}
	if _, err := f.post(body); !errors.Is(err, protocols.ErrRejected) || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("replayed assertion: %v", err)
	}
}

func TestUpstreamDeclined(t *testing.T) {
	f := newUpFixture(t, nil)
	doc := f.answer().doc()
	doc.Root().RemoveChild(assertionOf(doc))
	doc.Root().FindElement("Status/StatusCode").CreateAttr("Value", StatusResponder)
	if _, err := f.post(encode(t, doc)); !errors.Is(err, protocols.ErrDeclined) {
		t.Fatalf("error status: %v", err)
	}
}

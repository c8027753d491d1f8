package saml

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// The SP side's fixture: an IdP (its key, its metadata), our upstream, and
// one login (AuthRequest) whose answers the tests mint.
const (
	upIdP      = "https://idp.partner.example/idp"
	upSSO      = "https://idp.partner.example/sso"
	upCallback = base + "/callback/partner"
	upSP       = base + "/upstream/partner/metadata"
)

type upFixture struct {
	idp, sp, evil xmlsigtest.Key
	u             *Upstream
	login         protocols.AuthRequest
	// reqID, when set, is the AuthnRequest ID answers are for (a login
	// begun elsewhere, by the broker); else that of login.
	reqID string
	mu    sync.Mutex
	used  map[string]bool
}

func idpMetadataXML(certs ...xmlsigtest.Key) string {
	var kds string
	for _, k := range certs {
		kds += `<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` +
			base64.StdEncoding.EncodeToString(k.Cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
	}
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + upIdP + `">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">` + kds +
		`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + upSSO + `"/>` +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
}

func newUpFixture(t testing.TB, change func(*UpstreamConfig)) *upFixture {
	t.Helper()
	// Fixed keys: the negative corpus in testdata/sp-corpus is signed with them.
	f := &upFixture{idp: fixedKey(t, "idp"), sp: fixedKey(t, "sp"), evil: xmlsigtest.NewKey(t, "evil"), used: map[string]bool{}}
	cfg := UpstreamConfig{ID: "partner", Type: "saml", EntityID: upIdP, Metadata: []byte(idpMetadataXML(f.idp)),
		SPKeys: []protocols.SigningKey{{Signer: f.sp.Key, Cert: f.sp.Cert, KeyID: "sp"}}}
	if change != nil {
		change(&cfg)
	}
	u, err := OpenUpstream(cfg, UpstreamDeps{PublicURL: base, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	f.u = u
	f.login = protocols.AuthRequest{State: "state-AAAAAAAAAAAAAAAAA", Nonce: "nonce-BBBBBBBBBBBBBBBBB", CallbackURL: upCallback,
		Claim: func(_ context.Context, key string, _ time.Time) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			first := !f.used[key]
			f.used[key] = true
			return first, nil
		}}
	return f
}

// minted is one IdP answer under construction: its fields are what a
// well-behaved IdP would put there for f.login.
type minted struct {
	f                                        *upFixture
	now                                      time.Time
	respID, assertID, reqID, dest, recipient string
	audience, issuer, nameID, nameIDFormat   string
	class                                    string
	notBefore, notOnOrAfter                  time.Time
	attrs                                    map[string][]string
}

func (f *upFixture) answer() *minted {
	return &minted{f: f, now: fixedNow, respID: "_resp1", assertID: "_assert1", reqID: cmp.Or(f.reqID, requestID(f.login.Nonce)),
		dest: upCallback, recipient: upCallback, audience: upSP, issuer: upIdP, nameID: "alice@corp.example",
		nameIDFormat: preset.NameIDPersistent, class: ClassPasswordProtected,
		notBefore: fixedNow.Add(-time.Minute), notOnOrAfter: fixedNow.Add(5 * time.Minute),
		attrs: map[string][]string{"mail": {"alice@corp.example"}, "groups": {"staff", "sales"}}}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// doc builds the unsigned Response.
func (m *minted) doc() *etree.Document {
	doc := etree.NewDocument()
	r := doc.CreateElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", nsProtocol)
	r.CreateAttr("xmlns:saml", nsAssertion)
	r.CreateAttr("ID", m.respID)
	r.CreateAttr("Version", "2.0")
	r.CreateAttr("IssueInstant", ts(m.now))
	r.CreateAttr("Destination", m.dest)
	r.CreateAttr("InResponseTo", m.reqID)
	r.CreateElement("saml:Issuer").SetText(m.issuer)
	r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", StatusSuccess)
	r.AddChild(m.assertion())
	return doc
}

func (m *minted) assertion() *etree.Element {
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsAssertion)
	a.CreateAttr("ID", m.assertID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", ts(m.now))
	a.CreateElement("saml:Issuer").SetText(m.issuer)
	s := a.CreateElement("saml:Subject")
	n := s.CreateElement("saml:NameID")
	n.CreateAttr("Format", m.nameIDFormat)
	n.SetText(m.nameID)
	sc := s.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", confirmationBearer)
	d := sc.CreateElement("saml:SubjectConfirmationData")
	d.CreateAttr("InResponseTo", m.reqID)
	d.CreateAttr("NotOnOrAfter", ts(m.notOnOrAfter))
	d.CreateAttr("Recipient", m.recipient)
	c := a.CreateElement("saml:Conditions")
	c.CreateAttr("NotBefore", ts(m.notBefore))
	c.CreateAttr("NotOnOrAfter", ts(m.notOnOrAfter))
	c.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(m.audience)
	st := a.CreateElement("saml:AuthnStatement")
	st.CreateAttr("AuthnInstant", ts(m.now.Add(-30*time.Second)))
	st.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(m.class)
	as := a.CreateElement("saml:AttributeStatement")
	for name, vals := range m.attrs {
		at := as.CreateElement("saml:Attribute")
		at.CreateAttr("Name", name)
		for _, v := range vals {
			at.CreateElement("saml:AttributeValue").SetText(v)
		}
	}
	return a
}

func signer(t testing.TB, k xmlsigtest.Key, sha1 bool) *xmlsig.Signer {
	t.Helper()
	s, err := xmlsig.NewSigner(k.Key, k.Cert, sha1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signAssertion / signResponse sign in place, after the Issuer.
func signAssertion(t testing.TB, doc *etree.Document, k xmlsigtest.Key) *etree.Document {
	t.Helper()
	if err := signer(t, k, false).Sign(assertionOf(doc), "ID", 1); err != nil {
		t.Fatal(err)
	}
	return doc
}

func signResponse(t testing.TB, doc *etree.Document, k xmlsigtest.Key) *etree.Document {
	t.Helper()
	if err := signer(t, k, false).Sign(doc.Root(), "ID", 1); err != nil {
		t.Fatal(err)
	}
	return doc
}

func assertionOf(doc *etree.Document) *etree.Element {
	return doc.Root().SelectElement("Assertion")
}

// encryptAssertion replaces the assertion with an EncryptedAssertion to
// cert, with the IdP side's own encryption code.
func encryptAssertion(t testing.TB, doc *etree.Document, k xmlsigtest.Key, method string) *etree.Document {
	t.Helper()
	a := assertionOf(doc)
	ea, err := (&encryption{Cert: k.Cert, Method: method}).encrypt(a.Copy(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	doc.Root().InsertChildAt(a.Index(), ea)
	doc.Root().RemoveChild(a)
	return doc
}

func encode(t testing.TB, doc *etree.Document) string {
	t.Helper()
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// post finishes f.login with a SAMLResponse as the browser would post it.
func (f *upFixture) post(samlResponse string) (protocols.Identity, error) {
	form := url.Values{"SAMLResponse": {samlResponse}, "RelayState": {f.login.State}}
	r := httptest.NewRequest(http.MethodPost, upCallback, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return f.u.Finish(context.Background(), r, f.login)
}

func (f *upFixture) verifier() xmlsig.Verifier {
	return xmlsig.Verifier{Certs: f.u.md.Load().Certs}
}

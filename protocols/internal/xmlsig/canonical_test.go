package xmlsig_test

import (
	"strings"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// awkward is text an attribute or claim value may carry: every character
// c14n escapes, non-ASCII, a control character and invalid UTF-8 (both
// replaced by U+FFFD on output).
const awkward = "a&b<c>d\"e'f\tg\nh\ri 日本語 \x01 \xff end"

// shapes are the elements fedgate signs, in every form they take: SAML
// 2.0 and 1.1 assertions with awkward attributes and xsi:type values, a
// Response around a signed and around an encrypted assertion, and the
// namespace cases c14n treats specially.
func shapes() map[string]*etree.Element {
	out := map[string]*etree.Element{}

	a := assertion("_a1", awkward)
	a.CreateAttr("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
	a.CreateAttr("xmlns:xs", "http://www.w3.org/2001/XMLSchema")
	a.CreateAttr("IssueInstant", "2026-12-02T11:00:00Z")
	st := a.CreateElement("saml:AttributeStatement")
	at := st.CreateElement("saml:Attribute")
	at.CreateAttr("Name", awkward)
	at.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
	at.CreateAttr("FriendlyName", "")
	v := at.CreateElement("saml:AttributeValue")
	v.CreateAttr("xsi:type", "xs:string")
	v.SetText(awkward)
	at.CreateElement("saml:AttributeValue").SetText("")
	out["saml2 attributes, xsi:type"] = a

	one := assertion("_a3", "plain")
	for _, r := range awkward { // each escaped character alone in plain text
		v := one.CreateElement("saml:One")
		v.CreateAttr("V", "x"+string(r)+"y")
		v.SetText("x" + string(r) + "y")
	}
	out["one awkward character at a time"] = one

	a11 := etree.NewElement("saml:Assertion")
	a11.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:1.0:assertion")
	a11.CreateAttr("MajorVersion", "1")
	a11.CreateAttr("MinorVersion", "1")
	a11.CreateAttr("AssertionID", "_s11")
	a11.CreateAttr("Issuer", "https://sso.example/?a=1&b=<2>")
	a11.CreateAttr("IssueInstant", "2026-12-02T11:00:00Z")
	st11 := a11.CreateElement("saml:AttributeStatement")
	sub := st11.CreateElement("saml:Subject")
	sub.CreateElement("saml:NameIdentifier").SetText(awkward)
	sub.CreateElement("saml:SubjectConfirmation").CreateElement("saml:ConfirmationMethod").SetText("urn:oasis:names:tc:SAML:1.0:cm:bearer")
	at11 := st11.CreateElement("saml:Attribute")
	at11.CreateAttr("AttributeName", "upn")
	at11.CreateAttr("AttributeNamespace", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims")
	at11.CreateElement("saml:AttributeValue").SetText(awkward)
	out["saml1.1 assertion"] = a11

	signedA := assertion("_a2", "bob")
	if err := mustSigner().Sign(signedA, "ID", 1); err != nil {
		panic(err)
	}
	out["response around a signed assertion"] = response("_r1", signedA)

	enc := etree.NewElement("saml:EncryptedAssertion")
	ed := enc.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
	ed.CreateAttr("xmlns:ds", xmlsig.NS)
	ed.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", "http://www.w3.org/2009/xmlenc11#aes128-gcm")
	ek := ed.CreateElement("ds:KeyInfo").CreateElement("xenc:EncryptedKey")
	ek.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", "http://www.w3.org/2009/xmlenc11#rsa-oaep")
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText("AAEC/+==")
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText("BBEC/+==")
	out["response around an encrypted assertion"] = response("_r2", enc)

	ns := etree.NewElement("p:Root")
	ns.CreateAttr("xmlns:p", "urn:one")
	ns.CreateAttr("xmlns:q", "urn:unused-here")
	ns.CreateAttr("xmlns:b", "urn:b")
	ns.CreateAttr("xmlns:a", "urn:a")
	ns.CreateAttr("ID", "_n1")
	ns.CreateAttr("z", "1")
	ns.CreateAttr("b:same", "2") // same local name, two namespaces: by URI
	ns.CreateAttr("a:same", "3")
	ns.CreateAttr("b:other", "4")
	ns.CreateAttr("xml:lang", "ja")
	re := ns.CreateElement("p:Child")
	re.CreateAttr("xmlns:p", "urn:two") // the prefix means something else here
	re.CreateElement("q:Used").SetText("x")
	d := ns.CreateElement("Default")
	d.CreateAttr("xmlns", "urn:default")
	d.CreateElement("Inner").CreateElement("Undeclared").CreateAttr("xmlns", "")
	c := ns.CreateElement("p:Mixed")
	c.CreateText("before")
	c.CreateComment("a comment c14n drops")
	c.CreateCData("<cdata & more>")
	c.CreateText("after\r\n")
	out["namespaces, comments, cdata"] = ns
	return out
}

func response(id string, a *etree.Element) *etree.Element {
	r := etree.NewElement("samlp:Response")
	r.CreateAttr("xmlns:samlp", "urn:oasis:names:tc:SAML:2.0:protocol")
	r.CreateAttr("xmlns:saml", assertionNS)
	r.CreateAttr("ID", id)
	r.CreateAttr("Version", "2.0")
	r.CreateElement("saml:Issuer").SetText("https://idp.example")
	r.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")
	r.AddChild(a)
	return r
}

var testKey xmlsigtest.Key

func mustSigner() *xmlsig.Signer {
	s, err := xmlsig.NewSigner(testKey.Key, testKey.Cert, false)
	if err != nil {
		panic(err)
	}
	return s
}

func write(el *etree.Element) string {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	s, _ := doc.WriteToString()
	return s
}

// TestCanonicalMatchesGoxmldsig: the canonical bytes Sign digests are
// those of goxmldsig's exc-c14n, for every shape, and the tree is left as
// it was (goxmldsig's works on a copy for that reason).
func TestCanonicalMatchesGoxmldsig(t *testing.T) {
	testKey = xmlsigtest.NewKey(t, "idp")
	for name, el := range shapes() {
		t.Run(name, func(t *testing.T) {
			before := write(el)
			want, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(el.Copy())
			if err != nil {
				t.Fatal(err)
			}
			got, err := xmlsig.Canonical(el)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("canonical form differs\n got: %s\nwant: %s", got, want)
			}
			if after := write(el); after != before {
				t.Errorf("the tree changed:\n%s\n%s", before, after)
			}
		})
	}
	undeclared := etree.NewElement("x:Root")
	if _, err := xmlsig.Canonical(undeclared); err == nil || !strings.Contains(err.Error(), "undeclared") {
		t.Errorf("undeclared prefix: %v", err)
	}
}

// TestSignMatchesGoxmldsig: Sign makes goxmldsig's ds:Signature byte for
// byte (RSA PKCS#1 v1.5 is deterministic), SHA-256 and SHA-1, SAML 2.0
// and 1.1 ids.
func TestSignMatchesGoxmldsig(t *testing.T) {
	testKey = xmlsigtest.NewKey(t, "idp")
	for name, el := range shapes() {
		idAttr := "ID"
		if el.SelectAttr("AssertionID") != nil {
			idAttr = "AssertionID"
		}
		for _, sha1 := range []bool{false, true} {
			ctx, err := dsig.NewSigningContext(testKey.Key, [][]byte{testKey.Cert.Raw})
			if err != nil {
				t.Fatal(err)
			}
			ctx.IdAttribute, ctx.Prefix = idAttr, "ds"
			ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
			if sha1 {
				if err := ctx.SetSignatureMethod(xmlsig.RSASHA1); err != nil {
					t.Fatal(err)
				}
			}
			want, err := ctx.ConstructSignature(el.Copy(), true)
			if err != nil {
				t.Fatal(err)
			}
			s, err := xmlsig.NewSigner(testKey.Key, testKey.Cert, sha1)
			if err != nil {
				t.Fatal(err)
			}
			mine := el.Copy()
			if err := s.Sign(mine, idAttr, 1); err != nil {
				t.Fatal(err)
			}
			if got := write(mine.ChildElements()[1]); got != write(want) {
				t.Errorf("%s (sha1 %v): signature differs\n got: %s\nwant: %s", name, sha1, got, write(want))
			}
		}
	}
}

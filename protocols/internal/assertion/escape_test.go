package assertion

import (
	"testing"

	"github.com/beevik/etree"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// A value from an upstream may hold any character XML allows. Whatever
// Serialize and Fragment write must still verify (xmlsec1) and read back
// unchanged: a tab, newline or carriage return written raw would be
// normalised by the verifier's parser and break the digest.
func TestSignedAnswerSurvivesWhitespaceInValues(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	s, err := xmlsig.NewSigner(k.Key, k.Cert, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{
		"plain": "abc", "quotes and markup": `a"b&c<d>'`, "tab": "a\tb", "newline": "a\nb",
		"carriage return": "a\rb", "CRLF": "Yamada\r\nTaro", "spaces around": "  a  ",
	} {
		for _, w := range []struct {
			name  string
			write func(*etree.Element) []byte
		}{{"document", Serialize}, {"fragment", Fragment}} {
			el := etree.NewElement("saml:Assertion")
			el.CreateAttr("xmlns:saml", "urn:oasis:names:tc:SAML:2.0:assertion")
			el.CreateAttr("ID", "_1")
			el.CreateElement("saml:Issuer").SetText("https://idp.example")
			a := el.CreateElement("saml:Attribute")
			a.CreateAttr("Name", v)
			a.CreateElement("saml:AttributeValue").SetText(v)
			if err := s.Sign(el, "ID", 1); err != nil {
				t.Fatal(err)
			}
			out := w.write(el)
			xmlsigtest.XMLSec1Verify(t, out, k, "ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion")
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(out); err != nil {
				t.Fatalf("%s, %s: %v", name, w.name, err)
			}
			if got := doc.FindElement("//AttributeValue").Text(); got != v {
				t.Errorf("%s, %s: value %q after the round trip, want %q", name, w.name, got, v)
			}
		}
	}
}

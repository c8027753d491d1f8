package assertion

import (
	"testing"

	"github.com/beevik/etree"
)

// TestSerializeAsEtree: Serialize and Fragment write what etree's own
// writer writes (document and fragment settings), for plain and awkward
// text, empty elements, CDATA and comments.
func TestSerializeAsEtree(t *testing.T) {
	awkward := "a&b<c>d\"e'f\tg\nh\ri 日本語 \x01 \xff"
	el := etree.NewElement("samlp:Response")
	el.CreateAttr("xmlns:samlp", "urn:oasis:names:tc:SAML:2.0:protocol")
	el.CreateAttr("ID", "_r1")
	el.CreateAttr("Destination", "https://app.example/acs?a=1&b='2'")
	el.CreateElement("Empty")
	el.CreateElement("samlp:Empty").CreateAttr("Value", "")
	v := el.CreateElement("saml:AttributeValue")
	v.CreateAttr("xsi:type", "xs:string")
	v.SetText(awkward)
	el.CreateElement("Plain").SetText("alice@corp.example")
	m := el.CreateElement("Mixed")
	m.CreateText("before")
	m.CreateComment("c")
	m.CreateCData("<cdata>]]>")
	m.CreateElement("x:Awkward").CreateAttr(awkward[:1], awkward)
	// Each character that needs escaping alone in otherwise plain text.
	for _, r := range awkward {
		one := el.CreateElement("One")
		one.CreateAttr("v", "x"+string(r)+"y")
		one.SetText("x" + string(r) + "y")
	}

	for _, c := range []struct {
		name string
		got  []byte
		doc  func() *etree.Document
	}{
		{"document", Serialize(el), func() *etree.Document {
			d := etree.NewDocument()
			d.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
			d.AddChild(el.Copy())
			d.WriteSettings = documentSettings
			return d
		}},
		{"fragment", Fragment(el), func() *etree.Document {
			d := etree.NewDocumentWithRoot(el.Copy())
			d.WriteSettings = fragmentSettings
			return d
		}},
	} {
		want, err := c.doc().WriteToBytes()
		if err != nil {
			t.Fatal(err)
		}
		if string(c.got) != string(want) {
			t.Errorf("%s differs from etree's\n got: %s\nwant: %s", c.name, c.got, want)
		}
	}
}

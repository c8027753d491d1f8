package xmlsig_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

const assertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"

// assertion builds a small SAML-shaped assertion with its own namespace
// declaration (signed elements must not depend on their parent's).
func assertion(id, nameID string) *etree.Element {
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", assertionNS)
	a.CreateAttr("ID", id)
	a.CreateAttr("Version", "2.0")
	a.CreateElement("saml:Issuer").SetText("https://idp.example")
	a.CreateElement("saml:Subject").CreateElement("saml:NameID").SetText(nameID)
	return a
}

func signed(t *testing.T, k xmlsigtest.Key, el *etree.Element, sha1 bool) []byte {
	t.Helper()
	s, err := xmlsig.NewSigner(k.Key, k.Cert, sha1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Sign(el, "ID", 1); err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocumentWithRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func verify(t *testing.T, k xmlsigtest.Key, data []byte, pick func(*etree.Document) *etree.Element) (*etree.Element, error) {
	t.Helper()
	doc, err := xmlsig.Parse(data, 0)
	if err != nil {
		return nil, err
	}
	return xmlsig.Verifier{Certs: k.Certs()}.Verify(pick(doc), "ID")
}

func root(d *etree.Document) *etree.Element { return d.Root() }

func TestSignVerifyRoundTrip(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	data := signed(t, k, assertion("_a1", "alice@corp.example"), false)
	if !strings.Contains(string(data), xmlsig.RSASHA256) || !strings.Contains(string(data), xmlsig.ExcC14N) {
		t.Fatalf("want RSA-SHA256 and exc-c14n:\n%s", data)
	}
	// Signature right after Issuer, as SAML's schema wants.
	doc, _ := xmlsig.Parse(data, 0)
	if kids := doc.Root().ChildElements(); kids[1].Tag != "Signature" {
		t.Fatalf("signature at the wrong place: %s", kids[1].Tag)
	}
	out, err := verify(t, k, data, root)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.FindElement("./Subject/NameID").Text(); got != "alice@corp.example" {
		t.Fatalf("NameID %q", got)
	}
	// Another key does not verify it; no key at all fails closed.
	other := xmlsigtest.NewKey(t, "other")
	if _, err := verify(t, other, data, root); !errors.Is(err, xmlsig.ErrBadSignature) {
		t.Fatalf("other key: %v", err)
	}
	if _, err := (xmlsig.Verifier{}).Verify(doc.Root(), "ID"); !errors.Is(err, xmlsig.ErrBadSignature) {
		t.Fatalf("no certificates: %v", err)
	}
	xmlsigtest.XMLSec1Verify(t, data, k, "ID", assertionNS+":Assertion")
}

func TestSHA1OnlyWhenAllowed(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	data := signed(t, k, assertion("_a1", "alice"), true)
	if !strings.Contains(string(data), xmlsig.RSASHA1) {
		t.Fatalf("want rsa-sha1:\n%s", data)
	}
	doc, _ := xmlsig.Parse(data, 0)
	if _, err := (xmlsig.Verifier{Certs: k.Certs()}).Verify(doc.Root(), "ID"); !errors.Is(err, xmlsig.ErrBadSignature) {
		t.Fatalf("SHA-1 accepted by default: %v", err)
	}
	if _, err := (xmlsig.Verifier{Certs: k.Certs(), AllowSHA1: true}).Verify(doc.Root(), "ID"); err != nil {
		t.Fatal(err)
	}
	xmlsigtest.XMLSec1Verify(t, data, k, "ID", assertionNS+":Assertion")
}

func TestTamperedContent(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	data := signed(t, k, assertion("_a1", "alice"), false)
	bad := []byte(strings.Replace(string(data), ">alice<", ">admin<", 1))
	if _, err := verify(t, k, bad, root); !errors.Is(err, xmlsig.ErrBadSignature) {
		t.Fatalf("tampered NameID accepted: %v", err)
	}
}

// Signature wrapping: the element read must be the element signed.
func TestSignatureWrapping(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	good := string(signed(t, k, assertion("_good", "alice"), false))
	good = good[strings.Index(good, "<saml:Assertion"):]
	evil := `<saml:Assertion xmlns:saml="` + assertionNS + `" ID="_evil" Version="2.0"><saml:Issuer>https://idp.example</saml:Issuer><saml:Subject><saml:NameID>admin</saml:NameID></saml:Subject></saml:Assertion>`
	wrap := func(body string) []byte {
		return []byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r">` + body + `</samlp:Response>`)
	}
	second := func(d *etree.Document) *etree.Element { return d.Root().ChildElements()[1] }
	first := func(d *etree.Document) *etree.Element { return d.Root().ChildElements()[0] }

	t.Run("second unsigned assertion", func(t *testing.T) {
		if _, err := verify(t, k, wrap(good+evil), second); !errors.Is(err, xmlsig.ErrNoSignature) {
			t.Fatalf("unsigned second assertion: %v", err)
		}
	})
	t.Run("signed assertion hidden inside the evil one, same id", func(t *testing.T) {
		// The evil copy takes the good ID and carries the good one inside.
		evilSameID := strings.Replace(evil, `ID="_evil"`, `ID="_good"`, 1)
		evilSameID = strings.Replace(evilSameID, "</saml:Assertion>", good+"</saml:Assertion>", 1)
		if _, err := verify(t, k, wrap(evilSameID), first); err == nil {
			t.Fatal("wrapped assertion accepted")
		}
	})
	t.Run("moved signature", func(t *testing.T) {
		// The signature is moved from the assertion into the Response.
		doc, _ := xmlsig.Parse(wrap(good), 0)
		a := doc.Root().ChildElements()[0]
		sig := a.SelectElement("Signature")
		a.RemoveChild(sig)
		doc.Root().InsertChildAt(0, sig)
		a.FindElement("./Subject/NameID").SetText("admin")
		b, _ := doc.WriteToBytes()
		if _, err := verify(t, k, b, second); !errors.Is(err, xmlsig.ErrNoSignature) {
			t.Fatalf("moved signature: %v", err)
		}
		if _, err := verify(t, k, b, root); err == nil {
			t.Fatal("signature in the parent referencing the child verified the parent")
		}
	})
	t.Run("signature nested deeper", func(t *testing.T) {
		doc, _ := xmlsig.Parse([]byte(good), 0)
		a := doc.Root()
		sig := a.SelectElement("Signature")
		a.RemoveChild(sig)
		a.SelectElement("Subject").AddChild(sig)
		b, _ := doc.WriteToBytes()
		if _, err := verify(t, k, b, root); !errors.Is(err, xmlsig.ErrNoSignature) {
			t.Fatalf("nested signature: %v", err)
		}
	})
	t.Run("second signature inside claiming the element", func(t *testing.T) {
		doc, _ := xmlsig.Parse([]byte(good), 0)
		a := doc.Root()
		a.SelectElement("Subject").AddChild(a.SelectElement("Signature").Copy())
		b, _ := doc.WriteToBytes()
		if _, err := verify(t, k, b, root); !errors.Is(err, xmlsig.ErrBadSignature) {
			t.Fatalf("two signatures for one element: %v", err)
		}
	})
	t.Run("signed child inside a signed parent is fine", func(t *testing.T) {
		s, _ := xmlsig.NewSigner(k.Key, k.Cert, false)
		doc, _ := xmlsig.Parse(wrap(good), 0)
		if err := s.Sign(doc.Root(), "ID", 0); err != nil {
			t.Fatal(err)
		}
		b, _ := doc.WriteToBytes()
		if _, err := verify(t, k, b, root); err != nil {
			t.Fatal(err)
		}
		if _, err := verify(t, k, b, second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("verified copy is what is returned", func(t *testing.T) {
		out, err := verify(t, k, wrap(good+evil), first)
		if err != nil {
			t.Fatal(err)
		}
		if out.SelectAttrValue("ID", "") != "_good" || out.FindElement("./Subject/NameID").Text() != "alice" {
			t.Fatal("wrong element returned")
		}
	})
}

// CVE-2017-11427 family: a comment inside NameID keeps the signature valid
// (exc-c14n drops comments) but truncates a naive text read.
func TestCommentInNameID(t *testing.T) {
	k := xmlsigtest.NewKey(t, "idp")
	data := string(signed(t, k, assertion("_a1", "admin@corp.example.evil.test"), false))
	data = strings.Replace(data, "admin@corp.example.evil.test", "admin@corp.example<!---->.evil.test", 1)
	out, err := verify(t, k, []byte(data), root)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.FindElement("./Subject/NameID").Text(); got != "admin@corp.example.evil.test" {
		t.Fatalf("NameID read as %q", got)
	}
}

// TestParseKeepsEscapedWhitespace: a CR, LF or TAB sent as a character
// reference (as canonical XML writes them, and other IdPs and SPs do) is
// kept, in text and attribute values, signed or not.
func TestParseKeepsEscapedWhitespace(t *testing.T) {
	for name, c := range map[string]struct{ doc, text, attr string }{
		"CR":           {`<x a="1&#xD;2">t&#xD;u</x>`, "t\ru", "1\r2"},
		"CR LF":        {`<x a="1&#xD;&#xA;2">t&#xD;&#xA;u</x>`, "t\r\nu", "1\r\n2"},
		"TAB LF":       {`<x a="1&#x9;&#xA;2">t&#x9;&#xA;u</x>`, "t\t\nu", "1\t\n2"},
		"raw CR LF":    {"<x a=\"1\r\n2\">t\r\nu</x>", "t\nu", "1\n2"}, // encoding/xml and etree agree: no attribute normalisation
		"decimal refs": {`<x a="1&#13;2">t&#13;u</x>`, "t\ru", "1\r2"},
		"CR in CDATA":  {"<x a=\"\"><![CDATA[t&#xD;u]]></x>", "t&#xD;u", ""},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := xmlsig.Parse([]byte(c.doc), 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Root().Text(); got != c.text {
				t.Errorf("text %q, want %q", got, c.text)
			}
			if got := doc.Root().SelectAttrValue("a", ""); got != c.attr {
				t.Errorf("attribute %q, want %q", got, c.attr)
			}
		})
	}
	// Signed, and written as xmlsec1 and exc-c14n write a CR.
	k := xmlsigtest.NewKey(t, "idp")
	el := assertion("_a1", "line one\r\nline two")
	signed(t, k, el, false)
	doc := etree.NewDocumentWithRoot(el)
	doc.WriteSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}
	data, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "line one&#xD;") {
		t.Fatalf("the signed test document carries no &#xD;: %s", data)
	}
	out, err := verify(t, k, data, root)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.FindElement("./Subject/NameID").Text(); got != "line one\r\nline two" {
		t.Fatalf("NameID read as %q", got)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		doc  string
		want error
	}{
		"doctype":           {`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`, xmlsig.ErrDTD},
		"billion laughs":    {`<?xml version="1.0"?><!DOCTYPE l [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;">]><l>&l1;</l>`, xmlsig.ErrDTD},
		"external entity":   {`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`, xmlsig.ErrDTD},
		"undeclared entity": {`<x>&e;</x>`, xmlsig.ErrDTD},
		"processing instr":  {`<x><?php echo 1 ?></x>`, xmlsig.ErrDTD},
		"two roots":         {`<x/><y/>`, xmlsig.ErrMalformed},
		"no root":           {` `, xmlsig.ErrMalformed},
		"unclosed":          {`<x><y></x>`, xmlsig.ErrMalformed},
		"colon name":        {`<a:b:c xmlns:a="urn:a"/>`, xmlsig.ErrMalformed},
		"colon attribute":   {`<x xmlns:a="urn:a" a:b:c="1"/>`, xmlsig.ErrMalformed},
		"too large":         {`<x>` + strings.Repeat("a", xmlsig.DefaultMaxSize) + `</x>`, xmlsig.ErrTooLarge},
		// A parser differential: etree keeps one of the two, encoding/xml
		// both, so the two readers would see different values. The round
		// trip's comparison is what catches it.
		"duplicate attribute": {`<x a="1" a="2"/>`, xmlsig.ErrRoundTrip},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := xmlsig.Parse([]byte(c.doc), 0); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if _, err := xmlsig.Parse([]byte(`<?xml version="1.0" encoding="UTF-8"?><x a="&amp;&#65;">&lt;</x>`), 0); err != nil {
		t.Fatalf("plain document refused: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`<x a="1"><y>t</y></x>`))
	f.Add([]byte(`<!DOCTYPE x><x/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		doc, err := xmlsig.Parse(b, 4096)
		if err == nil && doc.Root() == nil {
			t.Fatal("nil root without error")
		}
	})
}

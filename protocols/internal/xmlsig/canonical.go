package xmlsig

import (
	"bytes"
	"crypto"
	"fmt"
	"sync"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// Namespaces every XML document has bound, as goxmldsig's exc-c14n starts
// with them (the unprefixed one included, so that an element without a
// default namespace declares none).
const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// nsBinding is one prefix bound to a namespace URI.
type nsBinding struct{ prefix, uri string }

// canonicalizer writes exclusive XML canonicalisation (exc-c14n, no
// comments, empty InclusiveNamespaces) of an element straight from the
// tree fedgate built, the way goxmldsig's canonicaliser does but without
// its copy of the tree and its per-element maps: that copy and those maps
// were most of what signing cost besides the RSA operation. Attribute
// order is goxmldsig's own (etreeutils.SortedAttrs) and escaping is
// etree's canonical one, so the bytes are goxmldsig's (canonical_test.go
// compares them for every shape fedgate signs).
type canonicalizer struct {
	w     *bytes.Buffer
	scope []nsBinding  // in the input: what each prefix means here
	out   []nsBinding  // in the output: what has been declared so far
	attrs []etree.Attr // scratch: one element's attributes, sorted
}

var canonicalSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}

// canonicalizers are reused: the buffer grows to a signed element's size
// once, not per signature.
var canonicalizers = sync.Pool{New: func() any {
	base := []nsBinding{{"", nsXML}, {"xml", nsXML}, {"xmlns", nsXMLNS}}
	c := &canonicalizer{w: new(bytes.Buffer), scope: make([]nsBinding, 3, 16), out: make([]nsBinding, 3, 16), attrs: make([]etree.Attr, 0, 16)}
	copy(c.scope, base)
	copy(c.out, base)
	return c
}}

// write canonicalises el into c.w, its ancestors taken to declare
// inScope (a detached element declares what it uses itself).
func (c *canonicalizer) write(el *etree.Element, inScope ...nsBinding) error {
	c.w.Reset()
	c.scope = append(c.scope[:3], inScope...)
	c.out = c.out[:3]
	c.attrs = c.attrs[:0]
	return c.element(el)
}

// digest is the hash of el's canonical form (as write).
func (c *canonicalizer) digest(h crypto.Hash, el *etree.Element, inScope ...nsBinding) ([]byte, error) {
	if err := c.write(el, inScope...); err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(c.w.Bytes())
	return d.Sum(nil), nil
}

func lookup(bs []nsBinding, prefix string) (string, bool) {
	for i := len(bs) - 1; i >= 0; i-- {
		if bs[i].prefix == prefix {
			return bs[i].uri, true
		}
	}
	return "", false
}

func (c *canonicalizer) element(el *etree.Element) error {
	// Leaving el ends its bindings (on an error, write starts afresh).
	scopeMark, outMark, attrMark := len(c.scope), len(c.out), len(c.attrs)
	for _, a := range el.Attr {
		switch {
		case a.Space == "xmlns":
			if (a.Key == "xml" && a.Value != nsXML) || a.Key == "xmlns" {
				return fmt.Errorf("xmlsig: reserved namespace prefix %s declared", a.Key)
			}
			c.scope = append(c.scope, nsBinding{a.Key, a.Value})
		case a.Space == "" && a.Key == "xmlns":
			if a.Value == nsXMLNS {
				return fmt.Errorf("xmlsig: invalid default namespace %s", a.Value)
			}
			c.scope = append(c.scope, nsBinding{"", a.Value})
		}
	}
	// Exclusive c14n: a namespace is declared where it is visibly used
	// (the element's prefix, its attributes' prefixes) and not yet
	// declared with that meaning in the output.
	if err := c.use(el.Space); err != nil {
		return err
	}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			continue
		}
		if a.Space != "" {
			if err := c.use(a.Space); err != nil {
				return err
			}
		}
		c.attrs = append(c.attrs, a)
	}
	attrs := etreeutils.SortedAttrs(c.attrs[attrMark:])
	// Insertion sort, as sort.Sort does for so few, without boxing the slice.
	for i := 1; i < len(attrs); i++ {
		for j := i; j > 0 && attrs.Less(j, j-1); j-- {
			attrs.Swap(j, j-1)
		}
	}
	c.w.WriteByte('<')
	writeName(c.w, el.Space, el.Tag)
	for i := range attrs {
		c.w.WriteByte(' ')
		writeAttr(c.w, &attrs[i], &canonicalSettings)
	}
	c.w.WriteByte('>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if err := c.element(t); err != nil {
				return err
			}
		case *etree.CharData:
			writeText(c.w, t, &canonicalSettings)
		case *etree.Comment: // exc-c14n without comments
		default:
			return fmt.Errorf("xmlsig: cannot canonicalise %T in %s", t, el.Tag)
		}
	}
	c.w.WriteString("</")
	writeName(c.w, el.Space, el.Tag)
	c.w.WriteByte('>')
	c.scope, c.out, c.attrs = c.scope[:scopeMark], c.out[:outMark], c.attrs[:attrMark]
	return nil
}

// use declares prefix on the element being written unless the output
// already binds it to what it means here.
func (c *canonicalizer) use(prefix string) error {
	uri, ok := lookup(c.scope, prefix)
	if !ok {
		return fmt.Errorf("xmlsig: undeclared namespace prefix %q", prefix)
	}
	if have, ok := lookup(c.out, prefix); ok && have == uri {
		return nil
	}
	c.out = append(c.out, nsBinding{prefix, uri})
	a := etree.Attr{Space: "xmlns", Key: prefix, Value: uri}
	if prefix == "" {
		a = etree.Attr{Key: "xmlns", Value: uri}
	}
	c.attrs = append(c.attrs, a)
	return nil
}

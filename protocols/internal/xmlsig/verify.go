package xmlsig

import (
	"crypto/x509"
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Verifier checks enveloped signatures made by one of Certs. Certificate
// validity dates are not enforced: as in SAML metadata, the configured
// certificate is the trust anchor, not a CA-issued credential.
type Verifier struct {
	Certs []*x509.Certificate
	// AllowSHA1 accepts RSA-SHA1 / SHA-1 digests (legacy peers only).
	AllowSHA1 bool
}

var strongSig = map[string]bool{RSASHA256: true, rsaSHA384: true, rsaSHA512: true, ECDSASHA256: true, ecdsaSHA384: true, ecdsaSHA512: true}
var strongDigest = map[string]bool{DigestSHA256: true, digestSHA384: true, digestSHA512: true}

// Signed reports whether el carries a direct ds:Signature child.
func Signed(el *etree.Element) bool { return len(directSignatures(el)) > 0 }

// Verify checks that el (an element of a document read with Parse) carries
// exactly one enveloped signature, as its direct child, whose single
// reference is el's own idAttr; that no other signature hides inside el;
// that the algorithms are allowed; and that it verifies with a configured
// certificate. It returns the verified copy of el, rebuilt from the
// canonical bytes that were digested (no comments, nothing unsigned): read
// only that.
func (v Verifier) Verify(el *etree.Element, idAttr string) (*etree.Element, error) {
	if len(v.Certs) == 0 {
		return nil, fmt.Errorf("%w: no certificate configured to check it", ErrBadSignature)
	}
	id := el.SelectAttrValue(idAttr, "")
	if id == "" {
		return nil, fmt.Errorf("%w: element has no %s", ErrBadSignature, idAttr)
	}
	sigs := directSignatures(el)
	if len(sigs) == 0 {
		return nil, ErrNoSignature
	}
	if len(sigs) > 1 {
		return nil, fmt.Errorf("%w: more than one signature", ErrBadSignature)
	}
	if n := countSignaturesFor(el, sigs[0], id); n != 0 {
		// Signed children (an assertion in a response) are fine; another
		// signature claiming this element is a wrapping attempt.
		return nil, fmt.Errorf("%w: another signature inside references the element", ErrBadSignature)
	}
	if doc := rootOf(el); doc != nil && countIDs(doc, id) != 1 {
		return nil, fmt.Errorf("%w: id %q is not unique in the document", ErrBadSignature, id)
	}
	if err := v.checkShape(sigs[0], id); err != nil {
		return nil, err
	}
	var last error
	for _, c := range v.Certs {
		// One certificate per attempt, with the clock at its start so its
		// dates never decide (see Verifier).
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		ctx.IdAttribute = idAttr
		ctx.Clock = dsig.NewFakeClockAt(c.NotBefore)
		out, err := ctx.Validate(el)
		if err == nil {
			if out.SelectAttrValue(idAttr, "") != id || out.Tag != el.Tag || out.NamespaceURI() != el.NamespaceURI() {
				return nil, fmt.Errorf("%w: verified element differs", ErrBadSignature)
			}
			return out, nil
		}
		last = err
	}
	return nil, fmt.Errorf("%w: %v", ErrBadSignature, last)
}

// checkShape allows one reference to #id, the enveloped and exc-c14n
// transforms only, exc-c14n on SignedInfo, and strong algorithms.
func (v Verifier) checkShape(sig *etree.Element, id string) error {
	si := child(sig, "SignedInfo")
	if si == nil {
		return fmt.Errorf("%w: no SignedInfo", ErrBadSignature)
	}
	if cm := child(si, "CanonicalizationMethod"); cm == nil || cm.SelectAttrValue("Algorithm", "") != ExcC14N {
		return fmt.Errorf("%w: SignedInfo must use exclusive c14n", ErrBadSignature)
	}
	sm := child(si, "SignatureMethod")
	if sm == nil {
		return fmt.Errorf("%w: no SignatureMethod", ErrBadSignature)
	}
	if alg := sm.SelectAttrValue("Algorithm", ""); !strongSig[alg] && !(v.AllowSHA1 && alg == RSASHA1) {
		return fmt.Errorf("%w: signature algorithm %s not allowed", ErrBadSignature, alg)
	}
	var refs []*etree.Element
	for _, c := range si.ChildElements() {
		if c.Tag == "Reference" && c.NamespaceURI() == NS {
			refs = append(refs, c)
		}
	}
	if len(refs) != 1 {
		return fmt.Errorf("%w: want exactly one Reference, have %d", ErrBadSignature, len(refs))
	}
	if uri := refs[0].SelectAttrValue("URI", ""); uri != "#"+id {
		return fmt.Errorf("%w: reference %q is not the signed element", ErrBadSignature, uri)
	}
	dm := child(refs[0], "DigestMethod")
	if dm == nil {
		return fmt.Errorf("%w: no DigestMethod", ErrBadSignature)
	}
	if alg := dm.SelectAttrValue("Algorithm", ""); !strongDigest[alg] && !(v.AllowSHA1 && alg == DigestSHA1) {
		return fmt.Errorf("%w: digest algorithm %s not allowed", ErrBadSignature, alg)
	}
	if ts := child(refs[0], "Transforms"); ts != nil {
		for _, t := range ts.ChildElements() {
			if alg := t.SelectAttrValue("Algorithm", ""); alg != Enveloped && alg != ExcC14N {
				return fmt.Errorf("%w: transform %s not allowed", ErrBadSignature, alg)
			}
		}
	}
	return nil
}

func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == NS {
			return c
		}
	}
	return nil
}

func directSignatures(el *etree.Element) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == NS {
			out = append(out, c)
		}
	}
	return out
}

// countSignaturesFor counts signatures inside el, other than own, with a
// reference to id or to the whole document.
func countSignaturesFor(el, own *etree.Element, id string) int {
	n := 0
	for _, c := range el.ChildElements() {
		if c == own {
			continue
		}
		if c.Tag == "Signature" && c.NamespaceURI() == NS {
			for _, ref := range c.FindElements(".//Reference") {
				if uri := ref.SelectAttrValue("URI", ""); uri == "" || uri == "#"+id {
					n++
				}
			}
			if len(c.FindElements(".//Reference")) == 0 {
				n++
			}
			continue
		}
		n += countSignaturesFor(c, own, id)
	}
	return n
}

func rootOf(el *etree.Element) *etree.Element {
	for el.Parent() != nil && el.Parent().Tag != "" {
		el = el.Parent()
	}
	return el
}

// countIDs counts elements carrying id in any ID-like attribute.
func countIDs(el *etree.Element, id string) int {
	n := 0
	for _, a := range el.Attr {
		if (a.Key == "ID" || a.Key == "Id" || a.Key == "AssertionID" || a.Key == "id") && a.Value == id {
			n++
		}
	}
	for _, c := range el.ChildElements() {
		n += countIDs(c, id)
	}
	return n
}

package xmlsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/beevik/etree"
)

// Algorithm URIs.
const (
	NS           = "http://www.w3.org/2000/09/xmldsig#"
	ExcC14N      = "http://www.w3.org/2001/10/xml-exc-c14n#"
	Enveloped    = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	RSASHA256    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA1      = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	ECDSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	DigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	rsaSHA384    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	rsaSHA512    = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	ecdsaSHA384  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	digestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	digestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
	ecdsaSHA512  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
)

// Signer makes enveloped signatures: exc-c14n, RSA-SHA256 (or ECDSA-SHA256
// with a P-256 key); RSA-SHA1 only when asked for an old peer. The
// certificate goes into KeyInfo.
type Signer struct {
	key  crypto.Signer
	cert *x509.Certificate
	// Fixed per key: the hash, the algorithm URIs and the KeyInfo text.
	hash                    crypto.Hash
	sigMethod, digestMethod string
	certText                string
}

// NewSigner returns a signer for key and its certificate; sha1 selects
// RSA-SHA1 with SHA-1 digests (legacy peers only).
func NewSigner(key crypto.Signer, cert *x509.Certificate, sha1 bool) (*Signer, error) {
	if key == nil || cert == nil {
		return nil, errors.New("xmlsig: signer needs a key and a certificate")
	}
	s := &Signer{key: key, cert: cert, hash: crypto.SHA256, sigMethod: RSASHA256, digestMethod: DigestSHA256,
		certText: base64.StdEncoding.EncodeToString(cert.Raw)}
	switch key.Public().(type) {
	case *rsa.PublicKey:
		if sha1 {
			s.hash, s.sigMethod, s.digestMethod = crypto.SHA1, RSASHA1, DigestSHA1
		}
	case *ecdsa.PublicKey:
		if sha1 {
			return nil, errors.New("xmlsig: SHA-1 signatures need an RSA key")
		}
		s.sigMethod = ECDSASHA256
	default:
		return nil, fmt.Errorf("xmlsig: unsupported key type %T", key.Public())
	}
	return s, nil
}

// Cert is the signer's certificate.
func (s *Signer) Cert() *x509.Certificate { return s.cert }

// Sign adds an enveloped signature over el (referenced by its idAttr
// attribute, "ID" in SAML 2.0, "AssertionID" in SAML 1.1) as its child at
// index pos (SAML puts it right after Issuer), and returns it. The
// element must declare every namespace prefix it uses itself, so that its
// signature does not depend on where it is put.
//
// It makes what goxmldsig's SigningContext.ConstructSignature makes (the
// same ds:Signature, byte for byte: canonical_test.go compares them) without
// copying el or building a signing context per call.
func (s *Signer) Sign(el *etree.Element, idAttr string, pos int) error {
	id := el.SelectAttrValue(idAttr, "")
	if id == "" {
		return fmt.Errorf("xmlsig: element %s has no %s", el.Tag, idAttr)
	}
	c := canonicalizers.Get().(*canonicalizer)
	defer canonicalizers.Put(c)
	digest, err := c.digest(s.hash, el)
	if err != nil {
		return fmt.Errorf("xmlsig: sign %s: %w", el.Tag, err)
	}
	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", NS)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", ExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", s.sigMethod)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	tr := ref.CreateElement("ds:Transforms")
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", Enveloped)
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", ExcC14N)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", s.digestMethod)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	// SignedInfo is canonicalised where it will stand: inside ds:Signature.
	sum, err := c.digest(s.hash, si, nsBinding{"ds", NS})
	if err != nil {
		return fmt.Errorf("xmlsig: sign %s: %w", el.Tag, err)
	}
	raw, err := s.key.Sign(rand.Reader, sum, s.hash)
	if err != nil {
		return fmt.Errorf("xmlsig: sign %s: %w", el.Tag, err)
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(raw))
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(s.certText)

	if n := len(el.ChildElements()); pos < 0 || pos > n {
		pos = n
	}
	// Child elements and tokens differ (text, comments): find the token index.
	at := len(el.Child)
	for i, t := range el.Child {
		if _, ok := t.(*etree.Element); ok {
			if pos == 0 {
				at = i
				break
			}
			pos--
		}
	}
	el.InsertChildAt(at, sig)
	return nil
}

// SignBytes signs data as the HTTP-Redirect binding does (the query
// string), returning the signature and the SigAlg URI.
func (s *Signer) SignBytes(data []byte) ([]byte, string, error) {
	h := s.hash.New()
	h.Write(data)
	sig, err := s.key.Sign(rand.Reader, h.Sum(nil), s.hash)
	return sig, s.sigMethod, err
}

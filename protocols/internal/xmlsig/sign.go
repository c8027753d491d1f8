package xmlsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Algorithm URIs.
const (
	NS            = "http://www.w3.org/2000/09/xmldsig#"
	ExcC14N       = "http://www.w3.org/2001/10/xml-exc-c14n#"
	Enveloped     = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	RSASHA256     = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	RSASHA1       = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	ECDSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	DigestSHA256  = "http://www.w3.org/2001/04/xmlenc#sha256"
	DigestSHA1    = "http://www.w3.org/2000/09/xmldsig#sha1"
	rsaSHA384     = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	rsaSHA512     = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	ecdsaSHA384   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	digestSHA384  = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	digestSHA512  = "http://www.w3.org/2001/04/xmlenc#sha512"
	ecdsaSHA512   = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
	defaultPrefix = "ds"
)

// Signer makes enveloped signatures: exc-c14n, RSA-SHA256 (or ECDSA-SHA256
// with a P-256 key); RSA-SHA1 only when asked for an old peer. The
// certificate goes into KeyInfo.
type Signer struct {
	key  crypto.Signer
	cert *x509.Certificate
	sha1 bool
}

// NewSigner returns a signer for key and its certificate; sha1 selects
// RSA-SHA1 with SHA-1 digests (legacy peers only).
func NewSigner(key crypto.Signer, cert *x509.Certificate, sha1 bool) (*Signer, error) {
	if key == nil || cert == nil {
		return nil, errors.New("xmlsig: signer needs a key and a certificate")
	}
	switch key.Public().(type) {
	case *rsa.PublicKey:
	case *ecdsa.PublicKey:
		if sha1 {
			return nil, errors.New("xmlsig: SHA-1 signatures need an RSA key")
		}
	default:
		return nil, fmt.Errorf("xmlsig: unsupported key type %T", key.Public())
	}
	return &Signer{key: key, cert: cert, sha1: sha1}, nil
}

// Cert is the signer's certificate.
func (s *Signer) Cert() *x509.Certificate { return s.cert }

func (s *Signer) context(idAttr string) (*dsig.SigningContext, error) {
	ctx, err := dsig.NewSigningContext(s.key, [][]byte{s.cert.Raw})
	if err != nil {
		return nil, err
	}
	ctx.IdAttribute = idAttr
	ctx.Prefix = defaultPrefix
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if s.sha1 {
		if err := ctx.SetSignatureMethod(RSASHA1); err != nil {
			return nil, err
		}
	}
	return ctx, nil
}

// Sign adds an enveloped signature over el (referenced by its idAttr
// attribute, "ID" in SAML 2.0, "AssertionID" in SAML 1.1) as its child at
// index pos (SAML puts it right after Issuer), and returns it.
func (s *Signer) Sign(el *etree.Element, idAttr string, pos int) error {
	if el.SelectAttrValue(idAttr, "") == "" {
		return fmt.Errorf("xmlsig: element %s has no %s", el.Tag, idAttr)
	}
	ctx, err := s.context(idAttr)
	if err != nil {
		return err
	}
	// goxmldsig canonicalizes in place (moving namespace declarations to
	// where they are used, sorting attributes): digest a copy, so the
	// element keeps its own declarations (xsi:type values need them).
	sig, err := ctx.ConstructSignature(el.Copy(), true)
	if err != nil {
		return fmt.Errorf("xmlsig: sign %s: %w", el.Tag, err)
	}
	if pos < 0 || pos > len(el.ChildElements()) {
		pos = len(el.ChildElements())
	}
	// Child elements and tokens differ (text, comments): find the token index.
	at := len(el.Child)
	for i, c := range el.Child {
		if _, ok := c.(*etree.Element); ok {
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
	ctx, err := s.context("ID")
	if err != nil {
		return nil, "", err
	}
	sig, err := ctx.SignString(string(data))
	return sig, ctx.GetSignatureMethodIdentifier(), err
}

package saml

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// spMetadata is what fedgate takes from an SP's metadata.
type spMetadata struct {
	EntityID            string
	ACS                 []ACS
	Certs               []*x509.Certificate
	EncryptionCerts     []*x509.Certificate // use="encryption"
	DualUseCerts        []*x509.Certificate // no use: signing, and encryption when asked for
	AuthnRequestsSigned bool
	NameIDFormats       []string
}

const maxMetadata = 1 << 20

// parseSPMetadata reads an EntityDescriptor (or the first one of an
// EntitiesDescriptor) with an SPSSODescriptor. Only HTTP-POST ACS URLs are
// kept: fedgate answers by POST.
func parseSPMetadata(data []byte) (*spMetadata, error) {
	doc, err := xmlsig.Parse(data, maxMetadata)
	if err != nil {
		return nil, err
	}
	ed := doc.Root()
	if ed.Tag == "EntitiesDescriptor" && ed.NamespaceURI() == nsMetadata {
		ed = childNS(ed, nsMetadata, "EntityDescriptor")
	}
	if ed == nil || ed.Tag != "EntityDescriptor" || ed.NamespaceURI() != nsMetadata {
		return nil, errors.New("not SAML metadata (no md:EntityDescriptor)")
	}
	md := &spMetadata{EntityID: ed.SelectAttrValue("entityID", "")}
	if md.EntityID == "" {
		return nil, errors.New("EntityDescriptor has no entityID")
	}
	sso := childNS(ed, nsMetadata, "SPSSODescriptor")
	if sso == nil {
		return nil, errors.New("no SPSSODescriptor")
	}
	md.AuthnRequestsSigned = sso.SelectAttrValue("AuthnRequestsSigned", "") == "true"
	for _, c := range sso.ChildElements() {
		if c.NamespaceURI() != nsMetadata {
			continue
		}
		switch c.Tag {
		case "AssertionConsumerService":
			if c.SelectAttrValue("Binding", "") != BindingPOST {
				continue
			}
			idx, _ := strconv.Atoi(c.SelectAttrValue("index", "0"))
			md.ACS = append(md.ACS, ACS{URL: c.SelectAttrValue("Location", ""), Index: idx, Default: c.SelectAttrValue("isDefault", "") == "true"})
		case "KeyDescriptor":
			// Without use, a key serves both signing and encryption.
			use := c.SelectAttrValue("use", "")
			if use != "" && use != "signing" && use != "encryption" {
				continue
			}
			for _, xc := range c.FindElements(".//X509Certificate") {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
				if err != nil {
					return nil, fmt.Errorf("bad X509Certificate: %v", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("bad X509Certificate: %v", err)
				}
				if use != "encryption" {
					md.Certs = append(md.Certs, cert)
				}
				switch use {
				case "encryption":
					md.EncryptionCerts = append(md.EncryptionCerts, cert)
				case "":
					md.DualUseCerts = append(md.DualUseCerts, cert)
				}
			}
		case "NameIDFormat":
			md.NameIDFormats = append(md.NameIDFormats, strings.TrimSpace(c.Text()))
		}
	}
	if len(md.ACS) == 0 {
		return nil, errors.New("no AssertionConsumerService with the HTTP-POST binding")
	}
	return md, nil
}

// CheckMetadata reports whether data, as app's metadata with the rest of
// c, makes an SP that Open accepts: cmd checks a fetched document with it
// before the document replaces the last good copy.
func (c SPConfig) CheckMetadata(app string, data []byte) error {
	c.Metadata = data
	_, err := c.resolve(app)
	return err
}

func childNS(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

// Metadata is fedgate's IdP metadata for issuer: every signing key (the
// next one too, so SPs can roll over), SSO and SLO by Redirect and POST,
// and the NameID formats.
func (p *IdP) Metadata(issuer string) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("xmlns:ds", nsDSig)
	ed.CreateAttr("entityID", issuer)
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("WantAuthnRequestsSigned", "false")
	idp.CreateAttr("protocolSupportEnumeration", nsProtocol)
	for _, k := range assertion.Published(p.Keys) {
		kd := idp.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", "signing")
		ki := kd.CreateElement("ds:KeyInfo")
		ki.CreateElement("ds:KeyName").SetText(k.KeyID)
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(k.Cert.Raw))
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := idp.CreateElement("md:SingleLogoutService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", p.base+SLOPath)
	}
	for _, f := range []string{NameIDPersistent, NameIDEmail, NameIDUnspecified, NameIDTransient} {
		idp.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := idp.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", p.base+p.ssoPath)
	}
	doc.Indent(2)
	return doc.WriteToBytes()
}

// metadata serves /saml/metadata (?app=<id> for an SP with its own issuer).
func (p *IdP) metadata(w http.ResponseWriter, r *http.Request) {
	issuer := p.issuer
	if app := r.URL.Query().Get("app"); app != "" {
		s := p.sps[app]
		if s == nil {
			http.NotFound(w, r)
			return
		}
		issuer = p.issuerFor(s)
	}
	p.ServeMetadata(w, issuer, p.Metadata)
}

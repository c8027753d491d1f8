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

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
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

// Metadata is fedgate's IdP metadata for app: every signing key (the
// next one too, so SPs can roll over), SSO and SLO by Redirect and POST,
// and the NameID formats. For an app, the entity id is the one its SP
// sees and the endpoints are its own (/saml/sso/<app>, /saml/slo/<app>),
// the ones `fedgate metadata` prints: an SP that imports the document
// (Entra's metadata URL) is answered by that app even when several apps
// share its entity id. Without an app (""), the default issuer and the
// shared endpoints, where requests are matched to an SP by their Issuer.
func (p *IdP) Metadata(app string) ([]byte, error) {
	// The shared sign-in endpoint is /adfs/ls/ under compat: adfs.
	issuer, sso, slo := p.issuer, p.base+p.ssoPath, p.base+SLOPath
	if app != "" {
		if p.sps[app] == nil {
			return nil, errUnknownApp
		}
		issuer, sso, slo = p.Issuer(app), p.base+SSOPath+"/"+app, slo+"/"+app
	}
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
		s.CreateAttr("Location", slo)
	}
	for _, f := range []string{preset.NameIDPersistent, preset.NameIDEmail, preset.NameIDUnspecified, preset.NameIDTransient} {
		idp.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range []string{BindingRedirect, BindingPOST} {
		s := idp.CreateElement("md:SingleSignOnService")
		s.CreateAttr("Binding", b)
		s.CreateAttr("Location", sso)
	}
	doc.Indent(2)
	return doc.WriteToBytes()
}

// metadata serves /saml/metadata (?app=<id>: that app's document; an
// unknown app gets the error page, 404).
func (p *IdP) metadata(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider) {
	app := r.URL.Query().Get("app")
	if app != "" && p.sps[app] == nil {
		p.refuseAs(w, r, spv, "saml.metadata", app, errUnknownApp)
		return
	}
	p.ServeMetadata(w, app, p.Metadata)
}

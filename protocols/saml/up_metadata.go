package saml

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// idpMetadata is what fedgate, as a service provider, takes from an IdP's
// metadata: whom to trust for what, and where to send users.
type idpMetadata struct {
	EntityID string
	// SSO is the HTTP-Redirect SingleSignOnService.
	SSO string
	// Certs sign the IdP's responses and assertions (use="signing" or none).
	Certs           []*x509.Certificate
	WantSignedAuthn bool
}

// parseIdPMetadata reads an EntityDescriptor with an IDPSSODescriptor (or,
// from an EntitiesDescriptor, the one whose entityID is want; the first
// when want is ""). want, when set, must be the document's entity id: a
// fetched document may not choose whom it describes.
func parseIdPMetadata(data []byte, want string) (*idpMetadata, error) {
	doc, err := xmlsig.Parse(data, maxMetadata)
	if err != nil {
		return nil, err
	}
	ed := doc.Root()
	if ed.Tag == "EntitiesDescriptor" && ed.NamespaceURI() == nsMetadata {
		ed = nil
		for _, c := range doc.Root().ChildElements() {
			if c.Tag == "EntityDescriptor" && c.NamespaceURI() == nsMetadata && (want == "" || c.SelectAttrValue("entityID", "") == want) {
				ed = c
				break
			}
		}
	}
	if ed == nil || ed.Tag != "EntityDescriptor" || ed.NamespaceURI() != nsMetadata {
		return nil, errors.New("not SAML metadata for the IdP (no md:EntityDescriptor)")
	}
	md := &idpMetadata{EntityID: ed.SelectAttrValue("entityID", "")}
	if md.EntityID == "" {
		return nil, errors.New("EntityDescriptor has no entityID")
	}
	if want != "" && md.EntityID != want {
		return nil, fmt.Errorf("the document describes entity id %q, not the configured %q", md.EntityID, want)
	}
	idp := childNS(ed, nsMetadata, "IDPSSODescriptor")
	if idp == nil {
		return nil, errors.New("no IDPSSODescriptor")
	}
	md.WantSignedAuthn = idp.SelectAttrValue("WantAuthnRequestsSigned", "") == "true"
	for _, c := range idp.ChildElements() {
		if c.NamespaceURI() != nsMetadata {
			continue
		}
		switch c.Tag {
		case "SingleSignOnService":
			if c.SelectAttrValue("Binding", "") == BindingRedirect && md.SSO == "" {
				md.SSO = c.SelectAttrValue("Location", "")
			}
		case "KeyDescriptor":
			if use := c.SelectAttrValue("use", ""); use != "" && use != "signing" {
				continue
			}
			certs, err := samltoken.KeyInfoCerts(c)
			if err != nil {
				return nil, err
			}
			md.Certs = append(md.Certs, certs...)
		}
	}
	if md.SSO == "" {
		return nil, errors.New("no SingleSignOnService with the HTTP-Redirect binding")
	}
	if len(md.Certs) == 0 {
		return nil, errors.New("no signing certificate (KeyDescriptor use=\"signing\")")
	}
	return md, nil
}

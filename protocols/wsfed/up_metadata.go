package wsfed

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

const maxMetadata = 1 << 20

// stsMetadata is what a relying party takes from an STS's federation
// metadata: its passive endpoint and token-signing certificates.
type stsMetadata struct {
	EntityID string
	Passive  string
	Certs    []*x509.Certificate
}

// parseSTSMetadata reads the SecurityTokenServiceType role of the
// EntityDescriptor for want (ADFS's FederationMetadata.xml).
func parseSTSMetadata(data []byte, want string) (*stsMetadata, error) {
	doc, err := xmlsig.Parse(data, maxMetadata)
	if err != nil {
		return nil, err
	}
	ed := doc.Root()
	if ed.Tag != "EntityDescriptor" || ed.NamespaceURI() != nsMetadata {
		return nil, errors.New("not federation metadata (no md:EntityDescriptor)")
	}
	md := &stsMetadata{EntityID: ed.SelectAttrValue("entityID", "")}
	if md.EntityID != want {
		return nil, fmt.Errorf("the document describes entity id %q, not entity_id %q", md.EntityID, want)
	}
	for _, role := range ed.ChildElements() {
		if role.Tag != "RoleDescriptor" || role.NamespaceURI() != nsMetadata || !strings.HasSuffix(role.SelectAttrValue("xsi:type", ""), ":SecurityTokenServiceType") {
			continue
		}
		for _, c := range role.ChildElements() {
			switch {
			case c.Tag == "KeyDescriptor" && c.NamespaceURI() == nsMetadata && c.SelectAttrValue("use", "signing") == "signing":
				certs, err := samltoken.KeyInfoCerts(c)
				if err != nil {
					return nil, err
				}
				md.Certs = append(md.Certs, certs...)
			case c.Tag == "PassiveRequestorEndpoint" && c.NamespaceURI() == nsFed && md.Passive == "":
				if a := c.FindElement(".//Address"); a != nil {
					md.Passive = strings.TrimSpace(a.Text())
				}
			}
		}
	}
	if md.Passive == "" {
		return nil, errors.New("no SecurityTokenServiceType role with a PassiveRequestorEndpoint")
	}
	if len(md.Certs) == 0 {
		return nil, errors.New("no token-signing certificate")
	}
	return md, nil
}

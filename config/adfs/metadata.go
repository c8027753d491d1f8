package adfs

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Farm is what the farm's FederationMetadata.xml says about itself.
type Farm struct {
	// Identifier is the entity id: http://<fs>/adfs/services/trust.
	Identifier string
	// Host is the federation service name (<fs>).
	Host string
	// Signing are the token-signing certificates it publishes.
	Signing []*x509.Certificate
}

type fedMetadata struct {
	EntityID string `xml:"entityID,attr"`
	Roles    []struct {
		Keys []struct {
			Use  string `xml:"use,attr"`
			Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"KeyDescriptor"`
	} `xml:",any"`
}

// ParseFederationMetadata reads FederationMetadata.xml (size-limited by the
// caller; encoding/xml expands no DTD entities).
func ParseFederationMetadata(doc []byte) (*Farm, error) {
	var m fedMetadata
	if err := xml.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("adfs: federation metadata: %w", err)
	}
	u, err := url.Parse(m.EntityID)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("adfs: federation metadata: entityID %q is not http://<fs>/adfs/services/trust", m.EntityID)
	}
	f := &Farm{Identifier: m.EntityID, Host: u.Hostname()}
	seen := map[string]bool{}
	for _, r := range m.Roles {
		for _, k := range r.Keys {
			b64 := strings.Join(strings.Fields(k.Cert), "")
			if (k.Use != "" && k.Use != "signing") || b64 == "" || seen[b64] {
				continue
			}
			seen[b64] = true
			der, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("adfs: federation metadata: signing certificate: %w", err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("adfs: federation metadata: signing certificate: %w", err)
			}
			f.Signing = append(f.Signing, c)
		}
	}
	if len(f.Signing) == 0 {
		return nil, errors.New("adfs: federation metadata: no signing certificate")
	}
	return f, nil
}

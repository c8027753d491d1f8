package saml

import (
	"encoding/base64"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
)

// mapping is the config's attribute names (preset defaults or claims:).
func (c UpstreamConfig) mapping() samltoken.Mapping {
	return c.Claims.Mapping(c.preset(), c.mfaEvidence())
}

// Metadata is our SP metadata for this IdP: entity id, the POST ACS, and
// every key (the next one too, so the IdP can import it ahead of a
// rollover) for signing and for encryption.
func (u *Upstream) Metadata() ([]byte, string, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("xmlns:ds", nsDSig)
	ed.CreateAttr("entityID", u.spEntity)
	sp := ed.CreateElement("md:SPSSODescriptor")
	sp.CreateAttr("AuthnRequestsSigned", boolText(u.signs(u.md.Load())))
	sp.CreateAttr("WantAssertionsSigned", boolText(u.cfg.SignedAssertion))
	sp.CreateAttr("protocolSupportEnumeration", nsProtocol)
	for _, use := range []string{"signing", "encryption"} {
		for _, k := range u.keys {
			kd := sp.CreateElement("md:KeyDescriptor")
			kd.CreateAttr("use", use)
			ki := kd.CreateElement("ds:KeyInfo")
			ki.CreateElement("ds:KeyName").SetText(k.KeyID)
			ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(k.Cert.Raw))
			if use == "encryption" {
				for _, m := range []string{EncAES256GCM, EncAES256CBC, EncRSAOAEPMGF1} {
					kd.CreateElement("md:EncryptionMethod").CreateAttr("Algorithm", m)
				}
			}
		}
	}
	if f := u.cfg.nameIDFormat(); f != "" {
		sp.CreateElement("md:NameIDFormat").SetText(f)
	}
	acs := sp.CreateElement("md:AssertionConsumerService")
	acs.CreateAttr("Binding", BindingPOST)
	acs.CreateAttr("Location", u.acs)
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	return b, "application/samlmetadata+xml", err
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

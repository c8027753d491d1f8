package saml

import (
	"encoding/base64"
	"slices"
	"strings"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
)

// authnMethodsClaim is where ADFS also lists the methods used.
const authnMethodsClaim = "http://schemas.microsoft.com/claims/authnmethodsreferences"

// classAMR maps AuthnContextClassRef values to RFC 8176 methods.
var classAMR = map[string]string{
	ClassPasswordProtected:                            "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password": "pwd",
	ClassKerberos:                                                                    "kerberos",
	"urn:federation:authentication:windows":                                          "kerberos",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:X509":                                    "sc",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient":                               "sc",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password": "pwd",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows":  "kerberos",
}

// identity maps a verified answer to the shared Identity, the way the OIDC
// upstream maps claims: per-field attribute names (preset defaults, or
// claims:), "nameid" for the Subject's NameID.
func (u *Upstream) identity(ans *answer) (protocols.Identity, error) {
	get := func(name string) []string {
		if name == "nameid" {
			if ans.NameID == "" {
				return nil
			}
			return []string{ans.NameID}
		}
		return ans.Attributes[name]
	}
	first := func(field, configured string) (string, string) {
		for _, n := range u.cfg.names(field, configured) {
			if v := get(n); len(v) > 0 && v[0] != "" {
				return v[0], n
			}
		}
		return "", ""
	}
	id := protocols.Identity{Upstream: u.cfg.ID, AuthTime: ans.AuthnInstant}
	var from string
	id.Subject, from = first("subject", u.cfg.Claims.Subject)
	if id.Subject == "" {
		return protocols.Identity{}, u.rejected("the assertion has no subject (%s)", strings.Join(u.cfg.names("subject", u.cfg.Claims.Subject), ", "))
	}
	if from == "nameid" && ans.NameIDFormat == NameIDTransient {
		return protocols.Identity{}, u.rejected("a transient NameID changes on every sign-in: ask for persistent (name_id_format) or map claims.subject to an attribute")
	}
	if id.Username, _ = first("username", u.cfg.Claims.Username); id.Username == "" {
		id.Username = id.Subject
	}
	if id.Email, _ = first("email", u.cfg.Claims.Email); !strings.Contains(id.Email, "@") {
		id.Email = ""
	}
	id.DisplayName, _ = first("display_name", u.cfg.Claims.DisplayName)
	for _, n := range u.cfg.names("groups", u.cfg.Claims.Groups) {
		if v := get(n); len(v) > 0 {
			id.Groups = v
			break
		}
	}
	for k, n := range u.cfg.Claims.Extra {
		if v := get(n); len(v) > 0 {
			if id.Claims == nil {
				id.Claims = map[string]string{}
			}
			id.Claims[k] = v[0]
		}
	}
	id.AMR = u.amr(ans)
	return id, nil
}

// amr: "mfa" only from a configured evidence class (or, for ADFS, the
// same value in its methods claim), the rest mapped to RFC 8176 names.
func (u *Upstream) amr(ans *answer) []string {
	var out []string
	add := func(m string) {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	raw := ans.Classes
	if u.cfg.preset() == UpstreamADFS {
		raw = append(slices.Clone(raw), ans.Attributes[authnMethodsClaim]...)
	}
	evidence := u.cfg.mfaEvidence()
	for _, c := range raw {
		if slices.Contains(evidence, c) {
			add("mfa")
			continue
		}
		add(classAMR[c])
	}
	return out
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

package samltoken

import "github.com/fedgate/fedgate/protocols"

// ClaimMap names the attribute behind each identity field ("nameid" is
// the Subject's NameID); empty fields take the preset's names. It is the
// `claims:` block of the saml and wsfed upstreams.
type ClaimMap struct {
	Subject     string            `yaml:"subject"`
	Username    string            `yaml:"username"`
	Email       string            `yaml:"email"`
	DisplayName string            `yaml:"display_name"`
	Groups      string            `yaml:"groups"`
	Extra       map[string]string `yaml:"extra"`
}

// Presets: which attribute names and MFA class an IdP uses.
const (
	PresetADFS    = "adfs"
	PresetGeneric = "generic"
)

// Claim types of ADFS (SAML 2.0 attribute names; SAML 1.1 namespace/name),
// and eduPerson/LDAP attribute OIDs (Shibboleth's urn:oid names).
const (
	claimUPN       = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	claimName      = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claimEmail     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	claimGroups    = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	claimRole      = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	claimGivenName = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	claimMethods   = "http://schemas.microsoft.com/claims/authnmethodsreferences"
	oidMail        = "urn:oid:0.9.2342.19200300.100.1.3"
	oidDisplayName = "urn:oid:2.16.840.1.113730.3.1.241"
	oidEPPN        = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
	oidIsMemberOf  = "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"

	ClassMicrosoftMFA = protocols.MicrosoftMFA
	ClassREFEDSMFA    = protocols.REFEDSMFA
)

var claimDefaults = map[string]Mapping{
	PresetADFS: {Subject: []string{"nameid"}, Username: []string{claimUPN, claimName, "nameid"}, Email: []string{claimEmail},
		DisplayName: []string{claimName, claimGivenName}, Groups: []string{claimGroups, claimRole}, MethodsClaim: claimMethods},
	PresetGeneric: {Subject: []string{"nameid"}, Username: []string{oidEPPN, "username", "uid", "nameid"}, Email: []string{oidMail, "email", "mail"},
		DisplayName: []string{oidDisplayName, "displayName", "name"}, Groups: []string{oidIsMemberOf, "groups", "memberOf"}},
}

// MFAClasses is the preset's MFA class: ADFS's multipleauthn, else REFEDS.
func MFAClasses(preset string) []string {
	if preset == PresetADFS {
		return []string{ClassMicrosoftMFA}
	}
	return []string{ClassREFEDSMFA}
}

// Mapping is the preset's mapping with c's names over it, and evidence as
// what proves MFA.
func (c ClaimMap) Mapping(preset string, evidence []string) Mapping {
	m := claimDefaults[preset]
	for _, f := range []struct {
		dst *[]string
		v   string
	}{{&m.Subject, c.Subject}, {&m.Username, c.Username}, {&m.Email, c.Email}, {&m.DisplayName, c.DisplayName}, {&m.Groups, c.Groups}} {
		if f.v != "" {
			*f.dst = []string{f.v}
		}
	}
	m.Extra, m.Evidence = c.Extra, evidence
	return m
}

package device

import (
	"crypto/x509"
	"encoding/asn1"
	"strings"
)

// oidUPN is Microsoft's user principal name in a SAN otherName, the field
// AD CS user and smart-card certificates carry.
var oidUPN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}

// namesUser reports whether one of the listed fields of c equals user,
// ignoring case.
func namesUser(c *x509.Certificate, fields []string, user string) bool {
	for _, f := range fields {
		var values []string
		switch f {
		case "cn":
			values = []string{c.Subject.CommonName}
		case "email":
			values = c.EmailAddresses
		case "dns":
			values = c.DNSNames
		case "upn":
			values = upns(c)
		}
		for _, v := range values {
			if v != "" && strings.EqualFold(v, user) {
				return true
			}
		}
	}
	return false
}

// otherName is a SAN otherName; Value is its [0] EXPLICIT wrapper.
type otherName struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// upns reads the UPN otherNames of c's subjectAltName extension.
func upns(c *x509.Certificate) []string {
	var out []string
	for _, e := range c.Extensions {
		if !e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(e.Value, &names); err != nil {
			return nil
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue // not an otherName
			}
			var on otherName
			if _, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil || !on.ID.Equal(oidUPN) {
				continue
			}
			var s string
			if _, err := asn1.Unmarshal(on.Value.Bytes, &s); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

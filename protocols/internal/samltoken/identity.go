package samltoken

import (
	"slices"
	"strings"

	"github.com/fedgate/fedgate/protocols"
)

// NameIDTransient changes at every sign-in: never a subject.
const NameIDTransient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"

// Mapping names, per identity field, the attributes tried in order
// ("nameid" is the Subject's NameID), the way the OIDC upstream maps
// claims.
type Mapping struct {
	Subject, Username, Email, DisplayName, Groups []string
	Extra                                         map[string]string
	// Evidence are the AuthnContextClassRef / AuthenticationMethod values
	// that prove MFA; MethodsClaim is an attribute that also lists methods
	// (ADFS's authnmethodsreferences), or "".
	Evidence     []string
	MethodsClaim string
}

// methodAMR maps authentication classes and methods to RFC 8176 names.
var methodAMR = map[string]string{
	"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport":              "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password":                                "pwd",
	"urn:oasis:names:tc:SAML:1.0:am:password":                                        "pwd",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password": "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos":                                "kerberos",
	"urn:ietf:rfc:1510":                     "kerberos",
	"urn:federation:authentication:windows": "kerberos",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows": "kerberos",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:X509":                                   "sc",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TLSClient":                              "sc",
}

// Identity maps a verified answer to the shared Identity.
func (m Mapping) Identity(upstream string, ans *Answer) (protocols.Identity, error) {
	get := func(name string) []string {
		if name == "nameid" {
			if ans.NameID == "" {
				return nil
			}
			return []string{ans.NameID}
		}
		return ans.Attributes[name]
	}
	first := func(names []string) (string, string) {
		for _, n := range names {
			if v := get(n); len(v) > 0 && v[0] != "" {
				return v[0], n
			}
		}
		return "", ""
	}
	id := protocols.Identity{Upstream: upstream, AuthTime: ans.AuthnInstant}
	var from string
	if id.Subject, from = first(m.Subject); id.Subject == "" {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckSubject, "the assertion has no subject (%s)", strings.Join(m.Subject, ", "))
	}
	if from == "nameid" && ans.NameIDFormat == NameIDTransient {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckSubject, "a transient NameID changes on every sign-in: ask for persistent (name_id_format) or map claims.subject to an attribute")
	}
	if id.Username, _ = first(m.Username); id.Username == "" {
		id.Username = id.Subject
	}
	if id.Email, _ = first(m.Email); !strings.Contains(id.Email, "@") {
		id.Email = ""
	}
	id.DisplayName, _ = first(m.DisplayName)
	for _, n := range m.Groups {
		if v := get(n); len(v) > 0 {
			id.Groups = v
			break
		}
	}
	for k, n := range m.Extra {
		if v := get(n); len(v) > 0 {
			if id.Claims == nil {
				id.Claims = map[string]string{}
			}
			id.Claims[k] = v[0]
		}
	}
	id.AMR = m.amr(ans)
	return id, nil
}

// amr: "mfa" only from an evidence value, the rest mapped to RFC 8176.
func (m Mapping) amr(ans *Answer) []string {
	var out []string
	add := func(v string) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	raw := ans.Classes
	if m.MethodsClaim != "" {
		raw = append(slices.Clone(raw), ans.Attributes[m.MethodsClaim]...)
	}
	for _, c := range raw {
		if slices.Contains(m.Evidence, c) {
			add("mfa")
			continue
		}
		add(methodAMR[c])
	}
	return out
}

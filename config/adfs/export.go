package adfs

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// The shapes below are what `ConvertTo-Json -Depth 6` makes of the ADFS
// cmdlets' objects, with Microsoft's documented property names. Windows
// PowerShell 5.1 writes a System.Uri as an object (AbsoluteUri,
// OriginalString, …) where PowerShell 7 writes a string, and a single
// result as an object where several are an array: both are accepted.

// RelyingPartyTrust is one object of Get-AdfsRelyingPartyTrust.
type RelyingPartyTrust struct {
	Name                          string
	Enabled                       *bool
	Identifier                    []string
	ProtocolProfile               string // SAML, WsFederation, WsFed-SAML
	WSFedEndpoint                 URI
	SamlEndpoints                 []SamlEndpoint
	IssuanceTransformRules        string
	IssuanceAuthorizationRules    string
	AdditionalAuthenticationRules string
	AccessControlPolicyName       string
	AccessControlPolicyParameters map[string]json.RawMessage
	EncryptClaims                 *bool
	EncryptionCertificate         *Certificate
	RequestSigningCertificate     []Certificate
	SignatureAlgorithm            string
	SamlResponseSignature         string // AssertionOnly, MessageOnly, MessageAndAssertion
	SignedSamlRequestsRequired    bool
	TokenLifetime                 int // minutes, 0: the default
	MetadataUrl                   URI
	Notes                         string
}

// SamlEndpoint is one of a trust's SAML endpoints.
type SamlEndpoint struct {
	Binding   string // POST, Redirect, Artifact
	Protocol  string // SAMLAssertionConsumer, SAMLLogout
	Index     int
	IsDefault bool
	Location  URI
}

// ApplicationGroup is one object of Get-AdfsApplicationGroup.
type ApplicationGroup struct {
	Name                       string
	ApplicationGroupIdentifier string
	Enabled                    *bool
	Description                string
}

// ServerApplication is one object of Get-AdfsServerApplication: a
// confidential OAuth client.
type ServerApplication struct {
	Name                       string
	ApplicationGroupIdentifier string
	Identifier                 string // the client_id
	RedirectUri                []string
	LogoutUri                  string
	Description                string
	ADUserPrincipalName        string
}

// NativeClientApplication is one object of
// Get-AdfsNativeClientApplication: a public client.
type NativeClientApplication struct {
	Name                       string
	ApplicationGroupIdentifier string
	Identifier                 string
	RedirectUri                []string
	LogoutUri                  string
	Description                string
}

// WebApiApplication is one object of Get-AdfsWebApiApplication: the
// resource an app group's clients get tokens for, and where its claim
// rules and access control policy live.
type WebApiApplication struct {
	Name                          string
	ApplicationGroupIdentifier    string
	Identifier                    []string
	IssuanceTransformRules        string
	IssuanceAuthorizationRules    string
	AccessControlPolicyName       string
	AccessControlPolicyParameters map[string]json.RawMessage
	Description                   string
}

// AccessControlPolicy is one object of Get-AdfsAccessControlPolicy.
// PolicyMetadata holds the policy as XML (its Serialized form).
type AccessControlPolicy struct {
	Name           string
	Identifier     string
	IsBuiltIn      bool
	Description    string
	PolicyMetadata PolicyMetadata
}

// PolicyMetadata is the XML document ADFS keeps a policy in; exports have it
// as a string or as an object with Serialized.
type PolicyMetadata struct{ XML string }

func (m *PolicyMetadata) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(b, &m.XML); err == nil {
		return nil
	}
	var o struct{ Serialized string }
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("PolicyMetadata: want a string or an object with Serialized")
	}
	m.XML = o.Serialized
	return nil
}

// URI is a System.Uri as either PowerShell writes it.
type URI string

func (u *URI) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*u = URI(s)
		return nil
	}
	var o struct{ AbsoluteUri, OriginalString string }
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("want a URI string or object, got %.40s", b)
	}
	*u = URI(firstOf(o.OriginalString, o.AbsoluteUri))
	return nil
}

// Certificate is an X509Certificate2 as ConvertTo-Json writes it: RawData
// (bytes as numbers, or Base64) and its thumbprint.
type Certificate struct {
	Cert *x509.Certificate
}

func (c *Certificate) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var o struct {
		RawData json.RawMessage
	}
	var s string
	var der []byte
	switch {
	case json.Unmarshal(b, &s) == nil:
		der, _ = base64.StdEncoding.DecodeString(s)
	case json.Unmarshal(b, &o) == nil && len(o.RawData) > 0:
		var nums []int
		if json.Unmarshal(o.RawData, &nums) == nil {
			der = make([]byte, len(nums))
			for i, n := range nums {
				der[i] = byte(n)
			}
		} else if json.Unmarshal(o.RawData, &s) == nil {
			der, _ = base64.StdEncoding.DecodeString(s)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	c.Cert = cert
	return nil
}

// Thumbprint is the certificate's SHA-1 thumbprint as ADFS shows it.
func Thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// decodeList reads one object or an array of them, in UTF-8 or in the
// UTF-16LE that Windows PowerShell's Out-File writes by default.
func decodeList[T any](data []byte) ([]T, error) {
	data = bytes.TrimPrefix(bytes.TrimSpace(utf8Text(data)), []byte("\ufeff"))
	if len(data) == 0 {
		return nil, nil
	}
	if data[0] == '[' {
		var out []T
		err := json.Unmarshal(data, &out)
		return out, err
	}
	var one T
	if err := json.Unmarshal(data, &one); err != nil {
		return nil, err
	}
	return []T{one}, nil
}

func utf8Text(b []byte) []byte {
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xFE {
		return b
	}
	u := make([]uint16, 0, len(b)/2)
	for i := 2; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	return []byte(string(utf16.Decode(u)))
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

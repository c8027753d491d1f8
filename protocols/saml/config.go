package saml

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

// SPConfig is the `saml:` block of a `type: saml` app: one service provider.
//
//	apps:
//	  - id: salesforce
//	    type: saml
//	    policy: staff
//	    saml:
//	      metadata_file: sp/salesforce.xml     # or entity_id + acs_urls (+ certificate_files)
//	      name_id_format: persistent
//	      persistent_salt: ${SAML_SALT}
//	      attributes:
//	        - { name: email, value: email }
//	        - { name: groups, value: groups }
//
// Presets fill in everything a Microsoft peer needs: `preset: entra-b2b`
// (with `tenant`) and `preset: m365` (with `immutable_id`).
type SPConfig struct {
	Preset string `yaml:"preset"`
	// Tenant is the partner's Entra tenant id (entra-b2b); CIAM selects an
	// external (ciamlogin.com) tenant.
	Tenant string `yaml:"tenant"`
	CIAM   bool   `yaml:"ciam"`
	// Domains are the federated email domains (entra-b2b, m365): shown by
	// `fedgate metadata` with the DNS record they may need.
	Domains []string `yaml:"domains"`
	// ImmutableID is where a user's ImmutableID comes from (m365):
	// claim:<name> or another value source.
	ImmutableID string `yaml:"immutable_id"`

	EntityID string `yaml:"entity_id"`
	// MetadataFile is the SP's metadata (entity id, ACS URLs, certificates);
	// settings here override it. cmd reads it into Metadata.
	MetadataFile string `yaml:"metadata_file"`
	// MetadataURL fetches the metadata instead (https): cmd caches the last
	// good copy in data_dir and fetches it again every MetadataRefresh
	// (default 1h, at least 1m).
	MetadataURL     string        `yaml:"metadata_url"`
	MetadataRefresh time.Duration `yaml:"metadata_refresh"`
	ACSURLs         []ACS         `yaml:"acs_urls"`
	// CertificateFiles are PEM certificates the SP signs requests with.
	CertificateFiles []string `yaml:"certificate_files"`
	// RequireSignedRequests refuses unsigned AuthnRequests (signed ones are
	// always verified).
	RequireSignedRequests bool `yaml:"require_signed_requests"`
	// SignResponse / SignAssertion (defaults: false / true).
	SignResponse  *bool `yaml:"sign_response"`
	SignAssertion *bool `yaml:"sign_assertion"`
	// SHA1 signs with RSA-SHA1 and accepts it on requests: old peers only.
	SHA1 bool `yaml:"sha1"`
	// EncryptAssertion: unset encrypts the (signed) assertion when the SP's
	// encryption certificate is known (EncryptionCertificateFile, or a
	// KeyDescriptor use="encryption" in its metadata); true requires one;
	// false never encrypts. EncryptionMethod: aes256-gcm (default) or
	// aes256-cbc for SPs without XML Encryption 1.1.
	EncryptAssertion          *bool  `yaml:"encrypt_assertion"`
	EncryptionCertificateFile string `yaml:"encryption_certificate_file"`
	EncryptionMethod          string `yaml:"encryption_method"`

	// Issuer overrides fedgate's IdP entity id for this SP (M365 wants the
	// domain's configured IssuerUri).
	Issuer string `yaml:"issuer"`
	// Audience overrides the entity id as the assertion's audience.
	Audience string `yaml:"audience"`

	// NameIDFormat: persistent (default), emailAddress, unspecified,
	// transient, or a URN. NameIDValue is its source: pairwise (default for
	// persistent: opaque, stable per user and SP, an HMAC keyed by
	// PersistentSalt), or username, upn, email, subject, claim:<name>.
	NameIDFormat   string           `yaml:"name_id_format"`
	NameIDValue    string           `yaml:"name_id_value"`
	PersistentSalt protocols.Secret `yaml:"persistent_salt"`

	Attributes []Attribute `yaml:"attributes"`
	// MFAClass is the AuthnContextClassRef of a sign-in with MFA (default
	// https://refeds.org/profile/mfa; m365: Microsoft's multipleauthn).
	MFAClass string `yaml:"mfa_class"`

	// SLOURL receives the LogoutResponse after an SP-initiated logout
	// (HTTP-POST); without it fedgate shows its own signed-out page.
	SLOURL string `yaml:"slo_url"`

	// IdPInitiated allows unsolicited responses (GET /saml/init/<app>),
	// with DefaultRelayState, or a ?RelayState= listed in
	// IdPInitiatedRelayStates: anyone can send a signed-in user such a
	// link, and many SPs redirect to the RelayState they receive.
	IdPInitiated            bool     `yaml:"idp_initiated"`
	DefaultRelayState       string   `yaml:"default_relay_state"`
	IdPInitiatedRelayStates []string `yaml:"idp_initiated_relay_states"`

	// Lifetimes: assertions (default 5m), accepted AuthnRequest age
	// (default 5m), clock skew (default 1m).
	AssertionTTL  time.Duration `yaml:"assertion_ttl"`
	RequestMaxAge time.Duration `yaml:"request_max_age"`
	ClockSkew     time.Duration `yaml:"clock_skew"`

	// Filled by the caller from the files named above (protocol packages
	// never read files).
	Metadata []byte              `yaml:"-"`
	Certs    []*x509.Certificate `yaml:"-"`
	// EncryptionCert is read from EncryptionCertificateFile.
	EncryptionCert *x509.Certificate `yaml:"-"`
}

// ACS is an assertion consumer service URL (HTTP-POST binding).
type ACS struct {
	URL     string `yaml:"url"`
	Index   int    `yaml:"index"`
	Default bool   `yaml:"default"`
}

// Attribute is one SAML attribute: Name carries Value (a source:
// username, upn, email, name, groups, subject, upstream, claim:<name>),
// named in NameFormat (uri, basic, unspecified or a URN).
type Attribute struct {
	Name         string `yaml:"name"`
	Value        string `yaml:"value"`
	NameFormat   string `yaml:"name_format"`
	FriendlyName string `yaml:"friendly_name"`
}

// Presets (their values: protocols/internal/preset).
const (
	PresetEntraB2B = preset.EntraB2B
	PresetM365     = preset.M365
)

// sp is one service provider, resolved: preset applied, metadata merged.
type sp struct {
	App      string
	EntityID string
	// Accepted are every entity id its requests may carry (EntityID first).
	Accepted      []string
	ACS           []ACS
	Certs         []*x509.Certificate
	RequireSigned bool
	SignResponse  bool
	SignAssertion bool
	SHA1          bool
	Issuer        string
	Audience      string
	NameIDFormat  string
	NameIDValue   string
	Salt          string
	Attributes    []Attribute
	MFAClass      string
	IdPInitiated  bool
	SLOURL        string
	RelayState    string
	RelayStates   []string // allowed on IdP-initiated links
	AssertionTTL  time.Duration
	RequestMaxAge time.Duration
	Skew          time.Duration
	Preset        string
	Tenant        string
	Domains       []string
	// Encryption, when set, encrypts its assertions.
	Encryption *encryption
}

// resolve applies the metadata and the preset, fills defaults and
// validates, returning every problem. A NameID format the SP's metadata
// lists alone is used when name_id_format is not set: the SP accepts no
// other.
func (c SPConfig) resolve(app string) (*sp, error) {
	s := &sp{App: app, EntityID: c.EntityID, RequireSigned: c.RequireSignedRequests, SHA1: c.SHA1,
		Issuer: c.Issuer, Audience: c.Audience, Salt: c.PersistentSalt.Value(), MFAClass: c.MFAClass, IdPInitiated: c.IdPInitiated, RelayStates: c.IdPInitiatedRelayStates, SLOURL: c.SLOURL,
		RelayState: c.DefaultRelayState, AssertionTTL: c.AssertionTTL, RequestMaxAge: c.RequestMaxAge, Skew: c.ClockSkew,
		Preset: c.Preset, Tenant: c.Tenant, Domains: c.Domains, SignAssertion: true, Certs: c.Certs, ACS: c.ACSURLs}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var encCerts []*x509.Certificate
	nameIDFormat := c.NameIDFormat
	if c.MetadataURL != "" && c.EntityID == "" {
		bad("metadata_url needs entity_id: the SP's entity id, which every fetched document must carry")
	}
	if len(c.Metadata) > 0 {
		md, err := parseSPMetadata(c.Metadata)
		if err != nil {
			bad("metadata_file: %v", err)
		} else {
			setDefault(&s.EntityID, md.EntityID)
			// A document from a URL may not choose whom it describes: the
			// entity id is pinned in config.
			if c.MetadataURL != "" && md.EntityID != c.EntityID {
				bad("metadata_url: the document describes entity id %q, not entity_id %q", md.EntityID, c.EntityID)
			}
			s.Certs = append(s.Certs, md.Certs...)
			// Encrypt by default only to a key published for encryption:
			// many SPs publish their signing key without use= and could
			// not decrypt. With encrypt_assertion: true, that key serves.
			encCerts = md.EncryptionCerts
			if len(encCerts) == 0 && c.EncryptAssertion != nil && *c.EncryptAssertion {
				encCerts = md.DualUseCerts
			}
			s.RequireSigned = s.RequireSigned || md.AuthnRequestsSigned
			if len(c.ACSURLs) == 0 {
				s.ACS = md.ACS
			}
			if nameIDFormat == "" && len(md.NameIDFormats) == 1 {
				nameIDFormat = md.NameIDFormats[0]
			}
		}
	}
	var attrs []preset.Attribute
	for _, a := range c.Attributes {
		attrs = append(attrs, preset.Attribute{Name: a.Name, Value: a.Value, Format: a.NameFormat})
	}
	peer, err := preset.Resolve(preset.Config{Preset: c.Preset, Tenant: c.Tenant, CIAM: c.CIAM, Domains: c.Domains, ImmutableID: c.ImmutableID,
		NameIDFormat: nameIDFormat, NameIDValue: c.NameIDValue, Salt: s.Salt, Attributes: attrs}, preset.SAML)
	if err != nil {
		errs = append(errs, err)
	}
	s.NameIDFormat, s.NameIDValue = peer.NameIDFormat, peer.NameIDValue
	// The configured attributes first (friendly names kept), then those
	// the preset adds.
	s.Attributes = slices.Clone(c.Attributes)
	for _, a := range peer.Attributes[len(c.Attributes):] {
		s.Attributes = append(s.Attributes, Attribute{Name: a.Name, Value: a.Value, NameFormat: a.Format})
	}
	signAssertion := c.SignAssertion
	if pr := peer.Preset; pr != nil {
		s.EntityID, s.Accepted, s.Audience = peer.IDs[0], peer.IDs[1:], peer.Audience
		s.ACS = []ACS{{URL: peer.Replies[0], Default: true}}
		s.RequireSigned = s.RequireSigned && !pr.UnsignedRequests
		setDefault(&s.SLOURL, pr.SignOut)
		setDefault(&s.MFAClass, pr.MFAClass)
		if pr.SignedAssertion {
			signAssertion = nil
		}
	}
	if signAssertion != nil {
		s.SignAssertion = *signAssertion
	}
	if c.SignResponse != nil {
		s.SignResponse = *c.SignResponse
	}
	if !s.SignAssertion && !s.SignResponse {
		bad("sign_response and sign_assertion are both false: something must be signed")
	}
	enc, err := c.encryption(s.EntityID, encCerts)
	if err != nil {
		errs = append(errs, err)
	}
	s.Encryption = enc
	s.Accepted = append([]string{s.EntityID}, s.Accepted...)
	setDefault(&s.Audience, s.EntityID)
	setDefault(&s.MFAClass, ClassREFEDSMFA)
	setDur(&s.AssertionTTL, 5*time.Minute)
	setDur(&s.RequestMaxAge, 5*time.Minute)
	setDur(&s.Skew, time.Minute)

	if s.EntityID == "" {
		bad("entity_id is required (or metadata_file, or a preset)")
	}
	if len(s.ACS) == 0 {
		bad("acs_urls: at least one ACS URL is required")
	}
	seen := map[int]bool{}
	defaults := 0
	for i, a := range s.ACS {
		if err := assertion.CheckEndpoint(a.URL); err != nil {
			bad("acs_urls[%d]: %v", i, err)
		}
		if seen[a.Index] && len(s.ACS) > 1 {
			bad("acs_urls[%d]: index %d used twice", i, a.Index)
		}
		seen[a.Index] = true
		if a.Default {
			defaults++
		}
	}
	if defaults > 1 {
		bad("acs_urls: more than one default")
	}
	for i, a := range s.Attributes {
		if a.Name == "" {
			bad("attributes[%d]: name is required", i)
		}
		if !assertion.ValueSource.MatchString(a.Value) {
			bad("attributes[%d] (%s): value %q: use username, upn, email, name, groups, subject, upstream or claim:<name>", i, a.Name, a.Value)
		}
		switch strings.ToLower(a.NameFormat) {
		case "":
			// A name that is a URI (has a scheme) is one; anything else is
			// a plain name.
			if strings.Contains(a.Name, ":") {
				s.Attributes[i].NameFormat = AttrNameFormatURI
			} else {
				s.Attributes[i].NameFormat = AttrNameFormatBasic
			}
		case "uri":
			s.Attributes[i].NameFormat = AttrNameFormatURI
		case "basic":
			s.Attributes[i].NameFormat = AttrNameFormatBasic
		case "unspecified":
			s.Attributes[i].NameFormat = AttrNameFormatUnspecified
		default:
			if !strings.HasPrefix(a.NameFormat, "urn:") {
				bad("attributes[%d]: name_format %q: use uri, basic, unspecified or a URN", i, a.NameFormat)
			}
		}
	}
	if s.SLOURL != "" {
		if err := assertion.CheckEndpoint(s.SLOURL); err != nil {
			bad("slo_url: %v", err)
		}
	}
	if s.RequireSigned && len(s.Certs) == 0 {
		bad("require_signed_requests needs the SP's certificate (certificate_files or metadata_file)")
	}
	if s.IdPInitiated && len(s.ACS) == 0 {
		bad("idp_initiated needs an ACS URL")
	}
	return s, errors.Join(errs...)
}

func (s *sp) accepts(entityID string) bool { return slices.Contains(s.Accepted, entityID) }

// defaultACS is the one marked default, else the lowest index.
func (s *sp) defaultACS() ACS {
	best := s.ACS[0]
	for _, a := range s.ACS {
		if a.Default {
			return a
		}
		if a.Index < best.Index {
			best = a
		}
	}
	return best
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setDur(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

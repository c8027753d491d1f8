package saml

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/samltoken"
)

// UpstreamConfig is a `type: saml` upstream block: fedgate as a SAML 2.0
// service provider of a partner's or legacy IdP (ADFS 2012 R2, Shibboleth).
//
//	upstreams:
//	  - id: partner
//	    type: saml
//	    preset: adfs                        # or generic (the default)
//	    metadata_file: idp/partner.xml      # the IdP's metadata
//	    entity_id: http://adfs.partner.example/adfs/services/trust
//	    keys: [ { file: keys/sp-2026.pem }, { file: keys/sp-2027.pem, status: next } ]
//
// Our own SP metadata is served at <public_url>/upstream/<id>/metadata,
// which is also our entity id unless sp_entity_id says otherwise; the IdP
// answers at <public_url>/callback/<id> by HTTP-POST.
type UpstreamConfig struct {
	ID      string   `yaml:"id"`
	Type    string   `yaml:"type"`
	Name    string   `yaml:"name"`
	Domains []string `yaml:"domains"`

	// Preset is adfs or generic (default): the attribute names and MFA
	// classes it uses.
	Preset string `yaml:"preset"`
	// MetadataFile is the IdP's metadata (SSO URL, signing certificates);
	// cmd reads it into Metadata. MetadataURL fetches it instead (https),
	// keeping the last good copy in data_dir and fetching it again every
	// MetadataRefresh (default 1h, at least 1m); it needs entity_id.
	MetadataFile    string        `yaml:"metadata_file"`
	MetadataURL     string        `yaml:"metadata_url"`
	MetadataRefresh time.Duration `yaml:"metadata_refresh"`
	// EntityID pins the IdP's entity id: the metadata must describe it
	// (and, from an EntitiesDescriptor, selects it).
	EntityID string `yaml:"entity_id"`
	// SPEntityID is our entity id at this IdP (default: our metadata URL).
	SPEntityID string `yaml:"sp_entity_id"`
	// Keys sign our AuthnRequests and decrypt assertions; status: next is
	// published (for the IdP to import ahead) but signs nothing yet.
	Keys []KeyFile `yaml:"keys"`
	// SignRequests: unset signs when the IdP's metadata asks
	// (WantAuthnRequestsSigned) and a key is configured.
	SignRequests *bool `yaml:"sign_requests"`
	// SignedAssertion requires the assertion itself to be signed, not only
	// the Response around it.
	SignedAssertion bool `yaml:"signed_assertion"`
	// EncryptedAssertion refuses assertions sent in the clear.
	EncryptedAssertion bool `yaml:"encrypted_assertion"`
	// SHA1 accepts RSA-SHA1 signatures (ADFS 2012 R2 relying parties set
	// to SHA-1): old peers only.
	SHA1 bool `yaml:"sha1"`
	// NameIDFormat asked for in NameIDPolicy (persistent, emailAddress,
	// unspecified or a URN; default: none asked).
	NameIDFormat string        `yaml:"name_id_format"`
	ClockSkew    time.Duration `yaml:"clock_skew"`

	Claims samltoken.ClaimMap `yaml:"claims"`
	StepUp StepUp             `yaml:"step_up"`

	// Filled by the caller: the metadata file's bytes, the keys read.
	Metadata []byte                 `yaml:"-"`
	SPKeys   []protocols.SigningKey `yaml:"-"`
}

// KeyFile is one of our SP keys: a PEM file with the key and its
// certificate (as `fedgate keys` writes them).
type KeyFile struct {
	File   string `yaml:"file"`
	Status string `yaml:"status"` // "" (active) or next
}

// StepUp is how MFA is asked for: RequestedAuthnContext with Classes
// (ForceAuthn as well), and which AuthnContextClassRef values prove it.
type StepUp struct {
	Classes  []string `yaml:"classes"`
	Evidence []string `yaml:"evidence"`
}

// Upstream presets.
const (
	UpstreamADFS    = samltoken.PresetADFS
	UpstreamGeneric = samltoken.PresetGeneric
)

func (c UpstreamConfig) preset() string {
	if c.Preset == "" {
		return UpstreamGeneric
	}
	return c.Preset
}

func (c UpstreamConfig) skew() time.Duration {
	if c.ClockSkew <= 0 {
		return 2 * time.Minute
	}
	return c.ClockSkew
}

func (c UpstreamConfig) mfaClasses() []string {
	if len(c.StepUp.Classes) > 0 {
		return c.StepUp.Classes
	}
	return samltoken.MFAClasses(c.preset())
}

func (c UpstreamConfig) mfaEvidence() []string {
	if len(c.StepUp.Evidence) > 0 {
		return c.StepUp.Evidence
	}
	return c.mfaClasses()
}

func (c UpstreamConfig) nameIDFormat() string { return preset.NameIDFormat(c.NameIDFormat) }

// Validate reports every problem with the block, joined.
func (c UpstreamConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains([]string{UpstreamADFS, UpstreamGeneric}, c.preset()) {
		bad("preset %q is not one of adfs, generic", c.Preset)
	}
	switch {
	case c.MetadataFile != "" && c.MetadataURL != "":
		bad("metadata_file and metadata_url: use one of them")
	case c.MetadataFile == "" && c.MetadataURL == "" && len(c.Metadata) == 0:
		bad("metadata_file or metadata_url is required: the IdP's SAML metadata")
	case c.MetadataURL != "" && c.EntityID == "":
		bad("metadata_url needs entity_id: the IdP's entity id, which every fetched document must carry")
	}
	for _, k := range c.Keys {
		if k.File == "" || (k.Status != "" && k.Status != "next") {
			bad("keys: each needs file, and status is empty or next")
		}
	}
	if c.EncryptedAssertion && len(c.Keys) == 0 && len(c.SPKeys) == 0 {
		bad("encrypted_assertion needs keys: the IdP encrypts to our published key")
	}
	if c.SignRequests != nil && *c.SignRequests && len(c.Keys) == 0 && len(c.SPKeys) == 0 {
		bad("sign_requests needs keys")
	}
	if c.SPEntityID != "" {
		if u, err := url.Parse(c.SPEntityID); err != nil || (u.Scheme == "" && !strings.HasPrefix(c.SPEntityID, "urn:")) {
			bad("sp_entity_id %q is not a URL or URN", c.SPEntityID)
		}
	}
	return errors.Join(errs...)
}

// CheckMetadata reports whether data is usable IdP metadata for this
// upstream (pinned to entity_id): a fetched document replaces the last
// good copy only then.
func (c UpstreamConfig) CheckMetadata(data []byte) error {
	_, err := parseIdPMetadata(data, c.EntityID)
	return err
}

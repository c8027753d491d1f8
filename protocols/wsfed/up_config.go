package wsfed

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
)

// UpstreamConfig is a `type: wsfed` upstream block: fedgate as a
// WS-Federation passive relying party of an STS (ADFS 2012 R2).
//
//	upstreams:
//	  - id: legacy-adfs
//	    type: wsfed
//	    metadata_file: idp/adfs.xml       # its FederationMetadata.xml
//	    entity_id: http://adfs.corp.example/adfs/services/trust
//	    realm: urn:fedgate:corp           # our relying-party identifier there
//
// The STS posts the token to <public_url>/callback/<id>.
type UpstreamConfig struct {
	ID      string   `yaml:"id"`
	Type    string   `yaml:"type"`
	Name    string   `yaml:"name"`
	Domains []string `yaml:"domains"`

	// Preset is adfs (the default) or generic: the claim names and MFA
	// method expected.
	Preset       string `yaml:"preset"`
	MetadataFile string `yaml:"metadata_file"`
	// EntityID pins the STS: the metadata's entityID and the tokens' Issuer.
	EntityID string `yaml:"entity_id"`
	// Realm is wtrealm, our identifier at the STS and the tokens' audience
	// (default: <public_url>/upstream/<id>).
	Realm     string        `yaml:"realm"`
	SHA1      bool          `yaml:"sha1"`
	ClockSkew time.Duration `yaml:"clock_skew"`

	Claims samltoken.ClaimMap `yaml:"claims"`
	StepUp UpstreamStepUp     `yaml:"step_up"`

	// Metadata is the file's bytes, filled in by the caller.
	Metadata []byte `yaml:"-"`
}

// UpstreamStepUp: wauth sent when policy needs MFA (default: the preset's
// MFA method), and the authentication methods that prove it.
type UpstreamStepUp struct {
	Wauth    string   `yaml:"wauth"`
	Evidence []string `yaml:"evidence"`
}

func (c UpstreamConfig) preset() string {
	if c.Preset == "" {
		return samltoken.PresetADFS
	}
	return c.Preset
}

func (c UpstreamConfig) skew() time.Duration {
	if c.ClockSkew <= 0 {
		return 2 * time.Minute
	}
	return c.ClockSkew
}

func (c UpstreamConfig) wauth() string {
	if c.StepUp.Wauth != "" {
		return c.StepUp.Wauth
	}
	return samltoken.MFAClasses(c.preset())[0]
}

func (c UpstreamConfig) evidence() []string {
	if len(c.StepUp.Evidence) > 0 {
		return c.StepUp.Evidence
	}
	return []string{c.wauth()}
}

// Validate reports every problem with the block, joined.
func (c UpstreamConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains([]string{samltoken.PresetADFS, samltoken.PresetGeneric}, c.preset()) {
		bad("preset %q is not one of adfs, generic", c.Preset)
	}
	if c.MetadataFile == "" && len(c.Metadata) == 0 {
		bad("metadata_file is required: the STS's federation metadata")
	}
	if c.EntityID == "" {
		bad("entity_id is required: the STS's entity id, which its tokens carry as Issuer")
	}
	return errors.Join(errs...)
}

package config

import (
	"fmt"
	"net/netip"
	"time"
)

// MFA configures fedgate's own second factors (docs/mfa.md).
type MFA struct {
	// Issuer names fedgate in authenticator apps (default: branding.name).
	Issuer string `yaml:"issuer"`
	// Contact says whom to ask for a factor; shown when a user without
	// one is denied.
	Contact  Text     `yaml:"contact"`
	Enrol    MFAEnrol `yaml:"enrol"`
	WebAuthn WebAuthn `yaml:"webauthn"`
}

// MFAEnrol is who may enrol a factor by themselves, from where, and when.
// Empty lists do not restrict.
type MFAEnrol struct {
	// Allow: users may enrol at all (off: only `fedgate mfa` helps them).
	Allow     bool           `yaml:"allow"`
	Upstreams []string       `yaml:"upstreams"`
	Groups    []string       `yaml:"groups"`
	Networks  []netip.Prefix `yaml:"networks"`
	// RequiredFor: members of these groups who have no factor are sent to
	// enrol one at sign-in, even where no app asks for MFA yet.
	RequiredFor []string `yaml:"required_for"`
	// Within: only this long after a primary sign-in with credentials
	// (default 10m), so a session cookie stolen later cannot add a factor.
	Within time.Duration `yaml:"within"`
}

func (c *Config) validateMFA(upstreams map[string]bool, add addFunc) {
	for i, u := range c.MFA.Enrol.Upstreams {
		if !upstreams[u] {
			add(fmt.Sprintf("$.mfa.enrol.upstreams[%d]", i), "name an upstream's id", "mfa.enrol: unknown upstream %q", u)
		}
	}
	if c.MFA.Enrol.Within < 0 {
		add("$.mfa.enrol.within", "a positive duration such as 10m", "mfa.enrol.within must be positive")
	}
}

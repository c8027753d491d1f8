package config

import (
	"net/netip"
	"time"
)

// MFA configures fedgate's own second factors (docs/mfa.md).
type MFA struct {
	// Issuer names fedgate in authenticator apps (default: branding.name).
	Issuer string `yaml:"issuer"`
	// Contact says whom to ask for a factor; shown when a user without
	// one is denied.
	Contact Text     `yaml:"contact"`
	Enrol   MFAEnrol `yaml:"enrol"`
}

// MFAEnrol is who may enrol a factor by themselves, from where, and when.
// Empty lists do not restrict.
type MFAEnrol struct {
	// Allow: users may enrol at all (off: only `fedgate mfa` helps them).
	Allow     bool           `yaml:"allow"`
	Upstreams []string       `yaml:"upstreams"`
	Groups    []string       `yaml:"groups"`
	Networks  []netip.Prefix `yaml:"networks"`
	// Within: only this long after a primary sign-in with credentials
	// (default 10m), so a session cookie stolen later cannot add a factor.
	Within time.Duration `yaml:"within"`
}

package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Device is a named kind of trusted device: a TLS client certificate
// issued by one of CAFiles, not revoked by CRLFile, and, when MatchUser is
// set, naming the signed-in user in one of those certificate fields. Policy
// conditions refer to it by Name (`device: corp-pcs`).
type Device struct {
	Name      string   `yaml:"name"`
	CAFiles   []string `yaml:"ca_files"`
	CRLFile   string   `yaml:"crl_file"`
	MatchUser []string `yaml:"match_user"`
	// Factor: the certificate is also a second factor (amr sc).
	Factor bool `yaml:"factor"`
}

// WebAuthn tunes security keys and passkeys (the relying party is
// server.public_url). Empty values take go-webauthn's defaults named here.
type WebAuthn struct {
	// Attestation: none (default), indirect or direct.
	Attestation string `yaml:"attestation"`
	// AAGUIDs, if set, are the only authenticator models that may register.
	AAGUIDs []string `yaml:"aaguids"`
	// UserVerification: preferred (default), required or discouraged.
	UserVerification string `yaml:"user_verification"`
}

var aaguidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (c *Config) validateWebAuthn(add addFunc) {
	w := c.MFA.WebAuthn
	if w.Attestation != "" && !slices.Contains([]string{"none", "indirect", "direct"}, w.Attestation) {
		add("$.mfa.webauthn.attestation", "none, indirect or direct", "unknown attestation %q", w.Attestation)
	}
	if w.UserVerification != "" && !slices.Contains([]string{"preferred", "required", "discouraged"}, w.UserVerification) {
		add("$.mfa.webauthn.user_verification", "preferred, required or discouraged", "unknown user_verification %q", w.UserVerification)
	}
	for i, a := range w.AAGUIDs {
		if !aaguidPattern.MatchString(a) {
			add(fmt.Sprintf("$.mfa.webauthn.aaguids[%d]", i), "an AAGUID such as ee882879-721c-4913-9775-3dfcce97072a", "invalid AAGUID %q", a)
		}
	}
}

// DeviceUserFields are the certificate fields match_user may name.
var DeviceUserFields = []string{"cn", "email", "upn", "dns"}

func (c *Config) validateDevices(add addFunc) {
	seen := map[string]bool{}
	for i, d := range c.Devices {
		p := fmt.Sprintf("$.devices[%d]", i)
		checkID(add, seen, p, "name", "device name", d.Name)
		if len(d.CAFiles) == 0 {
			add(p, "name the PEM file(s) of the CA that issues these certificates", "device %q has no ca_files", d.Name)
		}
		if d.Factor && len(d.MatchUser) == 0 {
			add(p+".factor", "add match_user (e.g. [upn]): as a factor, the certificate must name the user", "device %q is a factor but names no user", d.Name)
		}
		for _, f := range d.MatchUser {
			if !slices.Contains(DeviceUserFields, f) {
				add(p+".match_user", "use "+strings.Join(DeviceUserFields, ", "), "unknown certificate field %q", f)
			}
		}
	}
	for _, name := range c.PolicySet.Devices() {
		if !seen[name] {
			add("$.devices", "define it under devices: (name, ca_files)", "a policy names device %q, which is not defined", name)
		}
	}
	s := c.Server
	if len(c.Devices) > 0 && s.CertHost == "" {
		add("$.server.cert_host", "a host name of its own for the certificate prompt, e.g. certauth.sso.example.co.jp",
			"devices are configured but server.cert_host is not")
	}
	if s.CertHost != "" && (strings.ContainsAny(s.CertHost, "/:@ ") || !strings.Contains(s.CertHost, ".") && s.CertHost != "localhost") {
		add("$.server.cert_host", "a bare host name such as certauth.sso.example.co.jp", "invalid server.cert_host %q", s.CertHost)
	}
	if pub, err := url.Parse(s.PublicURL); err == nil && s.CertHost != "" && strings.EqualFold(pub.Hostname(), s.CertHost) {
		add("$.server.cert_host", "a name of its own, e.g. certauth."+pub.Hostname()+": every page on it asks for a certificate",
			"server.cert_host is public_url's host")
	}
	for i, a := range c.Apps {
		if a.Host != "" && s.CertHost != "" && strings.EqualFold(strings.Split(a.Host, ":")[0], s.CertHost) {
			add(fmt.Sprintf("$.apps[%d].host", i), "give the app or the certificate host another name", "app %q uses server.cert_host as its host", a.ID)
		}
	}
	if s.ClientCertHeader != "" && len(s.TrustedProxies) == 0 {
		add("$.server.client_cert_header", "list the TLS terminator under server.trusted_proxies",
			"client_cert_header is set but no trusted_proxies may send it")
	}
}

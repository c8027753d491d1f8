package main

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const federationConfig = `server: { public_url: "https://sso.example.co.jp", insecure_http: true }
data_dir: data
keys: { signing: [ { file: sign.pem }, { file: next.pem, status: next } ] }
store: { memory: true }
upstreams: [{ id: local, type: local }]
apps:
  - id: partner
    type: saml
    policy: staff-only
    saml: { preset: entra-b2b, tenant: 8f3b2a10-1c2d-4e5f-9a8b-0123456789ab, domains: [example.co.jp, partner-brand.example], persistent_salt: "0123456789abcdef0123" }
  - id: m365
    type: wsfed
    name: Example Corp
    policy: staff-only
    wsfed: { preset: m365, immutable_id: "claim:immutable_id", domains: [example.co.jp], issuer: "http://sso.example.co.jp/adfs/services/trust" }
  - id: m365-saml
    type: saml
    policy: staff-only
    saml: { preset: m365, immutable_id: "claim:immutable_id", domains: [example.co.jp] }
policies: [staff.yaml]
`

func certB64(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			t.Fatal("no certificate")
		}
		if b.Type == "CERTIFICATE" {
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatal(err)
			}
			return base64.StdEncoding.EncodeToString(b.Bytes)
		}
	}
}

// metadataCLI runs `fedgate metadata ARGS...` through the dispatcher.
func metadataCLI(args ...string) (int, string, string) {
	return runCLI(append([]string{"metadata"}, args...)...)
}

// federationDir writes config (federationConfig or a variant), the staff
// policy and the two signing keys it names into a new temp dir; it
// returns the dir and the config's path.
func federationDir(t *testing.T, config string) (dir, cfg string) {
	t.Helper()
	dir = t.TempDir()
	for _, f := range []string{"sign.pem", "next.pem"} {
		if code, _, stderr := runCLI("keys", "generate", "--signing", filepath.Join(dir, f)); code != 0 {
			t.Fatal(stderr)
		}
	}
	writeFile(t, dir, "staff.yaml", staffPolicy)
	writeFile(t, dir, "fedgate.yaml", config)
	return dir, filepath.Join(dir, "fedgate.yaml")
}

func TestMetadataCommand(t *testing.T) {
	dir, cfg := federationDir(t, federationConfig)
	cur, next := certB64(t, filepath.Join(dir, "sign.pem")), certB64(t, filepath.Join(dir, "next.pem"))

	code, out, stderr := metadataCLI("entra-b2b", "--config", cfg, "--app", "partner")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"Identity provider protocol:        SAML",
		"Issuer URI:                        https://sso.example.co.jp/saml/metadata\n",
		"Passive authentication endpoint:   https://sso.example.co.jp/saml/sso/partner\n",
		"Certificate (Base64 DER):          " + cur + "\n",
		"Metadata URL (recommended):        https://sso.example.co.jp/saml/metadata?app=partner\n",
		"preferredAuthenticationProtocol:   saml\n",
		"Next signing certificate",
		next,
		// sso.example.co.jp is inside example.co.jp: no record for it; the other domain needs one.
		"partner-brand.example. IN TXT DirectFedAuthUrl=https://sso.example.co.jp/saml/sso/partner\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("entra-b2b output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "example.co.jp. IN TXT") {
		t.Errorf("no DNS record is needed for example.co.jp:\n%s", out)
	}
	noMEX(t, out)

	code, out, stderr = metadataCLI("m365", "--config", cfg, "--app", "m365")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`New-MgDomainFederationConfiguration -DomainId "example.co.jp" -DisplayName "Example Corp"`,
		`-IssuerUri "http://sso.example.co.jp/adfs/services/trust"`,
		`-PassiveSignInUri "https://sso.example.co.jp/wsfed/m365"`,
		`-SignOutUri "https://sso.example.co.jp/wsfed/m365"`,
		`-SigningCertificate "` + cur + `"`,
		`-NextSigningCertificate "` + next + `"`,
		`-PreferredAuthenticationProtocol "wsFed"`,
		`-FederatedIdpMfaBehavior "acceptIfMfaDoneByFederatedIdp"`,
		// Rollover is handed over by command: no metadata exchange endpoint.
		`Update-MgDomainFederationConfiguration -DomainId "example.co.jp" -InternalDomainFederationId (Get-MgDomainFederationConfiguration -DomainId "example.co.jp").Id`,
		`-SigningCertificate "` + next + `"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("m365 output lacks %q:\n%s", want, out)
		}
	}
	noMEX(t, out)
	// The app's own sign-out endpoint: every m365 app shares its entity id.
	code, out, _ = metadataCLI("m365", "--config", cfg, "--app", "m365-saml")
	if code != 0 || !strings.Contains(out, `-PreferredAuthenticationProtocol "saml"`) || !strings.Contains(out, `-SignOutUri "https://sso.example.co.jp/saml/slo/m365-saml"`) {
		t.Errorf("m365 over SAML:\n%s", out)
	}
	noMEX(t, out)
	if code, _, stderr := metadataCLI("m365", "--config", cfg, "--app", "partner"); code != 1 || !strings.Contains(stderr, "preset m365") {
		t.Errorf("wrong preset: %d %s", code, stderr)
	}
}

// noMEX: fedgate has no WS-Trust metadata exchange endpoint, so neither
// Entra setting that names one may be printed.
func noMEX(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(strings.ToLower(out), "metadataexchangeuri") {
		t.Errorf("prints a metadata exchange URI:\n%s", out)
	}
}

// TestCheckWarnsMicrosoftPresetOnHTTP: Microsoft accepts only https
// endpoints; check says so for every app with a preset, and still passes
// (a test setup may run on http).
func TestCheckWarnsMicrosoftPresetOnHTTP(t *testing.T) {
	dir, cfg := federationDir(t, federationConfig)
	if code, _, stderr := runCLI("check", "--config", cfg); code != 0 || strings.Contains(stderr, "warning") {
		t.Fatalf("https: exit %d, stderr:\n%s", code, stderr)
	}
	writeFile(t, dir, "fedgate.yaml", strings.Replace(federationConfig, "https://sso.example.co.jp", "http://sso.example.co.jp", 1))
	code, _, stderr := runCLI("check", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, app := range []string{"partner", "m365", "m365-saml"} {
		if want := `fedgate.yaml: app "` + app + `": preset `; !strings.Contains(stderr, want) || !strings.Contains(stderr, "http:// public_url") {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

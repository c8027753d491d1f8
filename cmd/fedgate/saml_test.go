package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckSAMLApps: saml: blocks are decoded strictly by protocols/saml
// and their problems positioned at the app.
func TestCheckSAMLApps(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "staff.yaml", staffPolicy)
	writeFile(t, dir, "fedgate.yaml", samlAppsConfig(`  - id: crm
    type: saml
    policy: staff-only
    saml: { entity_id: "https://crm.example/saml", acs_urls: [{ url: "https://crm.example/acs" }], persistent_salt: "0123456789abcdef0123" }
  - id: typo
    type: saml
    policy: staff-only
    saml: { entity_id: "https://t.example", acs_url: "https://t.example/acs" }
  - id: partner
    type: saml
    policy: staff-only
    saml: { preset: entra-b2b, tenant: not-a-guid, persistent_salt: "0123456789abcdef0123" }
`))
	code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	for _, want := range []string{`fedgate.yaml:13:45: unknown key "acs_url" (hint: did you mean "acs_urls"?)`} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Fatalf("exit %d, stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	writeFile(t, dir, "fedgate.yaml", strings.Replace(readFile(t, dir, "fedgate.yaml"), `acs_url: "https://t.example/acs"`, `acs_urls: [{ url: "https://t.example/acs" }], name_id_format: email`, 1))
	code, _, stderr = runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 1 || !strings.Contains(stderr, `fedgate.yaml:17:11: app "partner": preset entra-b2b needs tenant`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	writeFile(t, dir, "fedgate.yaml", strings.Replace(readFile(t, dir, "fedgate.yaml"), "not-a-guid", "8f3b2a10-1c2d-4e5f-9a8b-0123456789ab", 1))
	if code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml")); code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

// TestCheckSAMLEncryption: encryption_certificate_file is read (relative
// to the config) and its problems named after it; encrypt_assertion: true
// without a key is refused.
func TestCheckSAMLEncryption(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "staff.yaml", staffPolicy)
	writeFile(t, dir, "sp-enc.pem", readFile(t, "../../protocols/saml/testdata", "sp-cert.pem"))
	config := func(saml string) string {
		writeFile(t, dir, "fedgate.yaml", samlAppsConfig(`  - id: crm
    type: saml
    policy: staff-only
    saml: { entity_id: "https://crm.example/saml", acs_urls: [{ url: "https://crm.example/acs" }], persistent_salt: "0123456789abcdef0123", `+saml+` }
`))
		return filepath.Join(dir, "fedgate.yaml")
	}
	for _, c := range []struct{ saml, want string }{
		{`encryption_certificate_file: sp-enc.pem, encryption_method: aes256-cbc`, ""},
		{`encryption_certificate_file: missing.pem`, `app "crm": encryption_certificate_file: stat ` + filepath.Join(dir, "missing.pem")},
		{`encryption_certificate_file: staff.yaml`, `app "crm": encryption_certificate_file: staff.yaml has no PEM certificate`},
		{`encrypt_assertion: true`, `app "crm": encrypt_assertion: true needs the SP's encryption certificate`},
	} {
		code, stdout, stderr := runCLI("check", "--config", config(c.saml))
		if c.want == "" && code != 0 {
			t.Fatalf("%s: exit %d:\n%s%s", c.saml, code, stdout, stderr)
		}
		if c.want != "" && (code != 1 || !strings.Contains(stderr, c.want)) {
			t.Errorf("%s: exit %d, stderr lacks %q:\n%s", c.saml, code, c.want, stderr)
		}
	}
}

// samlAppsConfig is a config with local users, the staff policy and apps
// (YAML list items): an app's first line is line 6.
func samlAppsConfig(apps string) string {
	return `server: { public_url: "https://sso.example.co.jp", insecure_http: true }
data_dir: data
store: { memory: true }
upstreams: [{ id: local, type: local }]
apps:
` + apps + "policies: [staff.yaml]\n"
}

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// fedgate check: a domain's user names belong to one upstream, and
// trust_email is for the generic preset only.
func TestCheckNameOwnership(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: corp, type: local, domains: [corp.example] }
  - { id: partner, type: local, domains: [partner.example, corp.example] }
user_names: { default_owner: corp }
`)
	code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if want := `fedgate.yaml:5:60: domain "corp.example" is listed by upstreams "corp" and "partner"`; code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("exit %d, want %q in:\n%s", code, want, stderr)
	}
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: entra, type: oidc, preset: entra, tenant: 0f3c1b2d-4e5c-4a1d-9a55-7c2a6f3e5c1d, client_id: c, client_secret: s, trust_email: true }
`)
	code, _, stderr = runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 1 || !strings.Contains(stderr, "trust_email is for preset generic only") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestMFACommand(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runCLI("keys", "generate", "--cookie", filepath.Join(dir, "cookie.key")); code != 0 {
		t.Fatalf("keys: %s", stderr)
	}
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
keys: { cookie: [cookie.key] }
store: { bolt: state.db }
audit: { file: audit.log }
upstreams:
  - { id: corp, type: local }
mfa: { enrol: { allow: true, upstreams: [corp], networks: [10.0.0.0/8], within: 5m } }
`)
	cfg := filepath.Join(dir, "fedgate.yaml")
	for _, tc := range []struct {
		args     []string
		code     int
		out, err string
	}{
		{[]string{"mfa"}, 2, "", "usage: fedgate mfa list|reset"},
		{[]string{"mfa", "list", "--config", cfg, "alice"}, 2, "", "UPSTREAM/USERNAME"},
		{[]string{"mfa", "list", "--config", cfg, "ghost/alice"}, 1, "", `no upstream "ghost"`},
		{[]string{"mfa", "list", "--config", cfg, "corp/alice"}, 0, "corp/alice: no factors", ""},
		{[]string{"mfa", "reset", "--config", cfg, "--method", "otp", "corp/alice"}, 1, "", "no enrolled factors"},
	} {
		code, stdout, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stdout, tc.out) || !strings.Contains(stderr, tc.err) {
			t.Errorf("%v: exit %d\n%s%s", tc.args, code, stdout, stderr)
		}
	}
}

// docs/mfa.md's config passes `fedgate check` as shown.
func TestMFADocExample(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "users.yaml", "users: []\n")
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: corp-adfs, type: local, users_file: users.yaml }
`+fileSnippet(t, "docs/mfa.md", "<!-- mfa example -->"))
	code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: corp, type: local, users_file: users.yaml }
`+fileSnippet(t, "docs/mfa.md", "<!-- mfa example -->"))
	if code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml")); code != 1 || !strings.Contains(stderr, `mfa.enrol: unknown upstream "corp-adfs"`) {
		t.Fatalf("unknown upstream in mfa.enrol: exit %d\n%s", code, stderr)
	}
}

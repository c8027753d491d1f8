package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKerberosChromium: headless Chromium with alice's ticket cache signs
// in with no page and lands on the app; the same Chromium without the
// allowlist (a browser not set up for Windows sign-in) lands on the
// password form, with no dialog.
func TestKerberosChromium(t *testing.T) {
	chromium := requirePeer(t, "chromium")
	k := startKDC(t)
	port, dir := startWindowsFedgate(t, k, "5m")
	cc := k.kinit(t, "alice.cc")
	tests := []struct {
		name, allow, want string
	}{
		{"allowlisted: signed in, at the app", "sso.fedgate.test", `data-header="X-Remote-User">alice@fedgate.test<`},
		{"not allowlisted: the password form", "", `name="password"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profile := t.TempDir()
			// A fresh profile loads GSSAPI only after a first Negotiate
			// challenge; this marks it seen, as on a desktop in use.
			writeFile(t, profile, "Local State", `{"net":{"received_http_auth_negotiate_headers":true}}`)
			args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
				// A name, not an address: Chromium builds the SPN from
				// the resolved name (HTTP@sso.fedgate.test).
				"--host-resolver-rules=MAP *.fedgate.test localhost",
				"--virtual-time-budget=5000", "--dump-dom", fmt.Sprintf("http://app.fedgate.test:%d/", port)}
			if tt.allow != "" {
				args = append(args, "--auth-server-allowlist="+tt.allow)
			}
			cmd := exec.Command(chromium, args...)
			cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.path("krb5.conf"), "KRB5CCNAME=FILE:"+cc)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("chromium ended on:\n%s", out)
			}
		})
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if !strings.Contains(string(audit), `"upstream":"corp-windows"`) {
		t.Errorf("no Windows sign-in in the audit log:\n%s", audit)
	}
}

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestKerberosChromium: headless Chromium with alice's ticket cache signs
// in with no page and lands on the app; the same Chromium without the
// allowlist (a browser not set up for Windows sign-in) lands on the
// password form, with no dialog; and where fedgate's intranet does not
// include the client, Chromium is never sent a Negotiate challenge.
func TestKerberosChromium(t *testing.T) {
	chromium := requirePeer(t, "chromium")
	k := startKDC(t)
	cc := k.kinit(t, "alice.cc")
	inside, dir := startWindowsFedgate(t, k, "5m", "127.0.0.0/8", inMemory)
	outside, _ := startWindowsFedgate(t, k, "5m", "10.0.0.0/8", inMemory)
	tests := []struct {
		name      string
		port      int
		allow     string
		want      string
		challenge bool // a Negotiate challenge in Chromium's net log
	}{
		{"allowlisted: signed in, at the app", inside, "sso.fedgate.test", `data-header="X-Remote-User">alice@fedgate.test<`, true},
		{"not allowlisted: the password form", inside, "", `name="password"`, true},
		{"outside the intranet: never challenged", outside, "sso.fedgate.test", `name="password"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			profile := t.TempDir()
			// A fresh profile loads GSSAPI only after a first Negotiate
			// challenge; this marks it seen, as on a desktop in use.
			writeFile(t, profile, "Local State", `{"net":{"received_http_auth_negotiate_headers":true}}`)
			netlog := filepath.Join(profile, "net.json")
			args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
				// A name, not an address: Chromium builds the SPN from
				// the resolved name (HTTP@sso.fedgate.test).
				"--host-resolver-rules=MAP *.fedgate.test localhost", "--log-net-log=" + netlog,
				"--virtual-time-budget=5000", "--dump-dom", fmt.Sprintf("http://app.fedgate.test:%d/", tt.port)}
			if tt.allow != "" {
				args = append(args, "--auth-server-allowlist="+tt.allow)
			}
			cmd := exec.Command(chromium, args...)
			cmd.Env = append(os.Environ(), "KRB5_CONFIG="+k.path("krb5.conf"), "KRB5CCNAME=FILE:"+cc)
			// Its own group, so helpers it forks (crashpad) end with it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			out, err := cmd.Output()
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			}
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("chromium ended on:\n%s", out)
			}
			log, err := os.ReadFile(netlog)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(strings.ToLower(string(log)), "www-authenticate: negotiate"); got != tt.challenge {
				t.Errorf("Negotiate challenge in the net log: %v, want %v", got, tt.challenge)
			}
		})
	}
	audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if !strings.Contains(string(audit), `"upstream":"corp-windows"`) {
		t.Errorf("no Windows sign-in in the audit log:\n%s", audit)
	}
}

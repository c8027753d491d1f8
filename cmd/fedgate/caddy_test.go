package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// startCaddy runs Debian's Caddy with docs/proxy.md's Caddyfile in front of
// fedgate's forward_auth app and returns the app's URL.
func startCaddy(t *testing.T) (*forwardAuth, string) {
	t.Helper()
	caddy := requirePeer(t, "caddy")
	port := freePort(t)
	fa := startForwardAuth(t, port)
	app := fmt.Sprintf("http://localhost:%d", port)
	site := docSnippet(t, "<!-- caddy snippet:",
		"wiki.corp.example {", app+" {",
		"https://sso.corp.example", fa.fedgate,
		"10.0.0.5:8080", fa.backend)
	// No admin endpoint, no certificates, nothing written outside the
	// test's directory.
	writeFile(t, fa.dir, "Caddyfile", "{\n  admin off\n  auto_https off\n  storage file_system "+filepath.Join(fa.dir, "caddy")+"\n}\n"+site+"\n")
	cmd := exec.Command(caddy, "run", "--config", filepath.Join(fa.dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+fa.dir, "XDG_DATA_HOME="+fa.dir, "XDG_CONFIG_HOME="+fa.dir)
	cmd.Stderr = &lockedBuffer{}
	// Registered first, so it runs after caddy has stopped.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("caddy:\n%s", cmd.Stderr)
		}
	})
	startPeer(t, cmd, syscall.SIGTERM)
	waitFor(t, "caddy", func() bool {
		r, err := http.Get(app + "/.fedgate/x")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return fa, app
}

// TestCaddyAsDocumented: Debian's Caddy with docs/proxy.md's Caddyfile
// (forward_auth to /auth/verify?rd=1) through a browser's whole visit.
func TestCaddyAsDocumented(t *testing.T) {
	fa, app := startCaddy(t)
	asDocumented(t, fa, app)
}

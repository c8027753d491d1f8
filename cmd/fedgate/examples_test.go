package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Every example config must pass `fedgate check` as shipped (secrets come
// from the environment, so the test provides them).
func TestExamplesPassCheck(t *testing.T) {
	for _, env := range []string{"ADFS_CLIENT_SECRET", "ENTRA_CLIENT_SECRET", "SAML_SALT"} {
		t.Setenv(env, "example-secret-0123456789")
	}
	files, err := filepath.Glob("../../examples/*/fedgate.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f)), func(t *testing.T) {
			code, stdout, stderr := runCLI("check", "--config", f)
			if code != 0 || !strings.Contains(stdout, ": ok — ") {
				t.Fatalf("check %s: exit %d\n%s%s", f, code, stdout, stderr)
			}
		})
	}
}

// A bad oidc block is reported with file:line:col, every problem at once.
func TestCheckReportsBadOIDCBlock(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - id: entra
    type: oidc
    preset: entra
    tenant: organizations
    client_id: fedgate
    client_secret: s
    signing_algs: [HS256]
  - { id: adfs, type: oidc, preset: adfs, issuer: "https://fs.example/adfs", client_id: c, client_secret: s, tennant: x }
apps:
  - { id: demo, type: whoami, policy: p }
policies: [p.yaml]
`)
	writeFile(t, dir, "p.yaml", "policy: p\nrules:\n  - { name: all, allow: {} }\n")
	code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{
		`fedgate.yaml:4:7: upstream "entra": tenant "organizations" needs allowed_tenants`,
		`fedgate.yaml:4:7: upstream "entra": signing_algs: "HS256" is never accepted`,
		`fedgate.yaml:11:110: unknown key "tennant" (hint: did you mean "tenant"?)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestOIDCHTTPClientLimits(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jump" {
			http.Redirect(w, r, "http://other.invalid/", http.StatusFound)
			return
		}
		_, _ = w.Write(make([]byte, 2<<20))
	}))
	defer big.Close()
	c := oidcHTTPClient(5 * time.Second)
	r, err := c.Get(big.URL + "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r.Body); err == nil || !strings.Contains(err.Error(), "larger than 1 MiB") {
		t.Fatalf("2 MiB body read with err %v", err)
	}
	r.Body.Close()
	if _, err := c.Get(big.URL + "/jump"); err == nil || !strings.Contains(err.Error(), "refusing redirect") {
		t.Fatalf("cross-host redirect followed: %v", err)
	}
}

// policy explain for a Windows sign-in says where its groups come from:
// without a readable PAC a Kerberos session has none.
func TestExplainSaysWhereKerberosGroupsComeFrom(t *testing.T) {
	t.Setenv("ADFS_CLIENT_SECRET", "example-secret-0123456789")
	f := "../../examples/windows/fedgate.yaml"
	base := []string{"policy", "explain", "--config", f, "--app", "wiki", "--user", "alice@corp.example", "--ip", "10.1.2.3"}
	_, stdout, stderr := runCLI(append(base, "--upstream", "corp-windows")...)
	if !strings.Contains(stdout, "note:     upstream corp-windows: groups come only from the Kerberos ticket's PAC") {
		t.Fatalf("no note for a Kerberos upstream:\n%s%s", stdout, stderr)
	}
	_, stdout, _ = runCLI(append(base, "--upstream", "corp-windows", "--json")...)
	if !strings.Contains(stdout, `"notes": [`) {
		t.Fatalf("no notes in JSON:\n%s", stdout)
	}
	if _, stdout, _ = runCLI(append(base, "--upstream", "corp-adfs")...); strings.Contains(stdout, "note:") {
		t.Fatalf("a note for an upstream that sends groups itself:\n%s", stdout)
	}
}

package config

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The acceptance case: an unknown key, a bad type and a reference to
// an undefined upstream, all reported at once with file:line:col.
func TestLoadReportsEveryProblem(t *testing.T) {
	// Validation runs only once decoding succeeds, so the undefined upstream
	// is checked in a second file without the decode errors.
	_, err := Load("testdata/three-mistakes.yaml")
	if err == nil {
		t.Fatal("want errors")
	}
	got := err.Error()
	for _, want := range []string{
		`testdata/three-mistakes.yaml:4:3: unknown key "lisen" (hint: did you mean "listen"?)`,
		`testdata/three-mistakes.yaml:7:13: time: invalid duration "forever"`,
		`testdata/three-mistakes.yaml:14:17: app "demo" refers to undefined upstream "ghost"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
}

func TestValidateFindsUndefinedReferences(t *testing.T) {
	dir := t.TempDir()
	cfg := `server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
data_dir: ./data
upstreams:
  - { id: local, type: local }
  - { id: local, type: local }
apps:
  - id: demo
    type: whoami
    policy: nobody
    upstreams: [ghost]
  - { id: bare, type: saml2 }
branding: { primary_color: "red; } body { display:none" }
policies: [staff.yaml]
`
	write(t, dir, "fedgate.yaml", cfg)
	staff, _ := os.ReadFile("testdata/staff.yaml")
	write(t, dir, "staff.yaml", string(staff))
	_, err := Load(filepath.Join(dir, "fedgate.yaml"))
	if err == nil {
		t.Fatal("want errors")
	}
	var problems []*Problem
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var p *Problem
		if !errors.As(e, &p) {
			t.Fatalf("not a *Problem: %v", e)
		}
		problems = append(problems, p)
	}
	want := map[string]string{
		`duplicate upstream id "local"`:               "5:",
		`refers to undefined policy "nobody"`:         "9:",
		`refers to undefined upstream "ghost"`:        "10:",
		`app "bare" has unknown type "saml2"`:         "11:",
		`app "bare" has no policy`:                    "11:",
		`invalid colour "red; } body { display:none"`: "12:",
	}
	for msg, line := range want {
		found := false
		for _, p := range problems {
			if strings.Contains(p.Msg, msg) {
				found = true
				if !strings.Contains(p.Error(), ".yaml:"+line) {
					t.Errorf("%q at %s, want line %s", msg, p.Error(), line)
				}
			}
		}
		if !found {
			t.Errorf("no problem %q in:\n%v", msg, err)
		}
	}
}

func TestLoadGoodConfig(t *testing.T) {
	c, err := Load("testdata/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Keys.Cookie[0] != filepath.Join("testdata", "keys/cookie.key") || c.Store.Bolt != filepath.Join("testdata", "state/fedgate.db") {
		t.Errorf("paths not resolved against the config dir: %q %q", c.Keys.Cookie, c.Store.Bolt)
	}
	if len(c.Server.TrustedProxies) != 2 || c.Server.TrustedProxies[1] != netip.MustParsePrefix("fd00::/8") {
		t.Errorf("trusted proxies = %v", c.Server.TrustedProxies)
	}
	// Defaults, from the one place they are defined.
	if c.Session.Lifetime != 12*time.Hour || c.Throttle.MaxFailures != 5 || c.Throttle.MaxFailuresPerIP != 20 || c.Audit.File != "stdout" {
		t.Errorf("defaults not applied: %+v %+v", c.Session, c.Throttle)
	}
	if c.Upstreams[0].Name != "Local" || c.Upstreams[0].Domains[0] != "example.co.jp" {
		t.Errorf("upstream head = %+v", c.Upstreams[0])
	}
	if len(c.Files) != 2 {
		t.Errorf("files = %v, want the config and the policy", c.Files)
	}
}

func TestTLSRequiredUnlessInsecure(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.yaml", "server: { public_url: 'http://sso.example' }\ndata_dir: d\nupstreams: [{id: a, type: local}]\n")
	_, err := Load(filepath.Join(dir, "f.yaml"))
	if err == nil || !strings.Contains(err.Error(), "TLS is required") || !strings.Contains(err.Error(), "public_url is plain http") {
		t.Fatalf("err = %v", err)
	}
}

func TestBlockDecodeIsStrict(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.yaml", `server: { public_url: "http://127.0.0.1", insecure_http: true }
data_dir: d
upstreams:
  - id: a
    type: local
    users_fil: users.yaml
`)
	c, err := Load(filepath.Join(dir, "f.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		ID        string `yaml:"id"`
		Type      string `yaml:"type"`
		UsersFile string `yaml:"users_file"`
	}
	err = c.Upstreams[0].Decode(&v)
	if err == nil || !strings.Contains(err.Error(), `f.yaml:6:5: unknown key "users_fil" (hint: did you mean "users_file"?)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestBrokenYAML(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.yaml", "server:\n  public_url: [unclosed\n")
	_, err := Load(filepath.Join(dir, "f.yaml"))
	var p *Problem
	if !errors.As(err, &p) || p.Line == 0 {
		t.Fatalf("err = %#v", err)
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestWarnsAAGUIDListIsSelfAsserted: an AAGUID allow-list is only as good
// as the authenticator's word; check says so.
func TestWarnsAAGUIDListIsSelfAsserted(t *testing.T) {
	c := &Config{Path: "fedgate.yaml"}
	c.warn()
	if len(c.Warnings) != 0 {
		t.Fatalf("warnings without an AAGUID list: %v", c.Warnings)
	}
	c.MFA.WebAuthn.AAGUIDs = []string{"ee882879-721c-4913-9775-3dfcce97072a"}
	c.warn()
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0].Error(), "mfa.webauthn.aaguids") {
		t.Fatalf("warnings = %v", c.Warnings)
	}
}

// TestNegativeTimeoutRefused: a negative timeout once meant "none" to the
// server; as a deadline it would fail every request, so it is refused.
func TestNegativeTimeoutRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "f.yaml", "server: { public_url: 'http://sso.example', insecure_http: true, timeouts: { write: -1s, read: 5s } }\ndata_dir: d\nupstreams: [{id: a, type: local}]\n")
	_, err := Load(filepath.Join(dir, "f.yaml"))
	if err == nil || !strings.Contains(err.Error(), "server.timeouts.write is negative") || strings.Contains(err.Error(), "timeouts.read") {
		t.Fatalf("err = %v", err)
	}
}

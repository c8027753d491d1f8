package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

// requirePeer finds a real peer's binary. Missing peers fail under the
// README's test command (FEDGATE_REQUIRE_PEERS=1) and skip elsewhere.
func requirePeer(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FEDGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is required: %v", name, err)
		}
		t.Skipf("%s not installed (./test/all.sh installs it)", name)
	}
	return p
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestNginxAuthRequest: Debian's nginx guards an app with auth_request
// against fedgate's /auth/verify: allowed, denied and signed-out users.
func TestNginxAuthRequest(t *testing.T) {
	nginx := requirePeer(t, "nginx")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "user=%q groups=%q cookie=%q", r.Header.Get("X-Remote-User"), r.Header.Get("X-Remote-Groups"), r.Header.Get("Cookie"))
	}))
	defer backend.Close()
	dir := t.TempDir()
	fgPort, ngPort := freePort(t), freePort(t)
	users, _ := os.ReadFile("../../examples/quickstart/users.yaml")
	writeFile(t, dir, "users.yaml", string(users))
	writeFile(t, dir, "staff.yaml", staffPolicy)
	writeFile(t, dir, "fedgate.yaml", fmt.Sprintf(`server:
  public_url: http://127.0.0.1:%d
  listen: 127.0.0.1:%d
  insecure_http: true
  trusted_proxies: [127.0.0.1/32]
data_dir: data
store: { memory: true }
audit: { file: audit.jsonl }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
apps:
  - id: wiki
    type: forward_auth
    host: localhost:%d
    headers: { X-Remote-User: username, X-Remote-Groups: groups }
    policy: staff-only
policies: [staff.yaml]
`, fgPort, fgPort, ngPort))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() { done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), logs, nil) }()
	defer func() { cancel(); <-done }()

	var conf strings.Builder
	tmpl := template.Must(template.ParseFiles("testdata/nginx.conf.tmpl"))
	_, bport, _ := net.SplitHostPort(strings.TrimPrefix(backend.URL, "http://"))
	if err := tmpl.Execute(&conf, map[string]any{"Dir": dir, "NginxPort": ngPort, "FedgatePort": fgPort, "BackendPort": bport}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "nginx.conf", conf.String())
	cmd := exec.Command(nginx, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	app := fmt.Sprintf("http://localhost:%d", ngPort)
	waitFor(t, "nginx and fedgate", func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", fgPort))
		if err != nil {
			return false
		}
		r.Body.Close()
		r, err = http.Get(app + "/.fedgate/x")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})

	// Signed out: nginx sends the browser to fedgate's sign-in.
	c := browserNoRedirect()
	r := get(t, c, app+"/docs?id=7", "X-Remote-User", "mallory")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), fmt.Sprintf("http://127.0.0.1:%d/login?app=wiki&return=", fgPort)) {
		t.Fatalf("signed out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// Allowed: bob signs in and lands back on the app through nginx.
	// The app's own cookie reaches it; fedgate's does not.
	appU, _ := url.Parse(app)
	bob := browser()
	bob.Jar.SetCookies(appU, []*http.Cookie{{Name: "theirs", Value: "1"}})
	if code, body := signIn(t, bob, app+"/docs?id=7", "bob", "bob-demo-pw", "X-Remote-User", "mallory", "X_Remote_User", "mallory"); code != 200 || body != `user="bob" groups="staff" cookie="theirs=1"` {
		t.Fatalf("backend saw %d %s", code, body)
	}

	// Denied at sign-in: carol is not staff.
	if code, body := signIn(t, browser(), app+"/", "carol", "carol-demo-pw"); code != http.StatusForbidden {
		t.Fatalf("carol: %d %s", code, body)
	}
	// Denied by auth_request: bob's session stays, but the policy changes
	// under it; every request is decided again, and nginx answers 403.
	writeFile(t, dir, "staff.yaml", strings.Replace(staffPolicy, "[staff]", "[nobody]", 1))
	waitFor(t, "the new policy", func() bool {
		r, err := bob.Get(app + "/docs")
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode == http.StatusForbidden
	})

	// The verify endpoint refuses callers that are not trusted proxies'
	// answers about made-up hosts.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/auth/verify", fgPort), nil)
	req.Header.Set("X-Forwarded-Host", "other.example")
	req.Header.Set("X-Original-URI", "/")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("verify for an unknown host: %v %v", err, r)
	}
}

func browserNoRedirect() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

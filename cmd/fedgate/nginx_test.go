package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/fedgate/fedgate/broker/store/storetest"
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

// freePort: see storetest.FreePort (a port no outgoing connection takes).
var freePort = storetest.FreePort

// startNginx runs Debian's nginx with docs/proxy.md's snippet in front of
// fedgate's forward_auth app and returns the app's URL.
func startNginx(t *testing.T) (*forwardAuth, string) {
	t.Helper()
	nginx := requirePeer(t, "nginx")
	port := freePort(t)
	fa := startForwardAuth(t, port)
	snippet := docSnippet(t, "<!-- nginx snippet:",
		"server_name wiki.corp.example;", fmt.Sprintf("listen 127.0.0.1:%d;\n  server_name localhost;", port),
		"https://sso.corp.example", fa.fedgate,
		"http://10.0.0.5:8080", "http://"+fa.backend)
	var conf strings.Builder
	tmpl := template.Must(template.ParseFiles("testdata/nginx.conf.tmpl"))
	if err := tmpl.Execute(&conf, map[string]any{"Dir": fa.dir, "Snippet": snippet}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fa.dir, "nginx.conf", conf.String())
	cmd := exec.Command(nginx, "-c", filepath.Join(fa.dir, "nginx.conf"), "-p", fa.dir)
	cmd.Stderr = os.Stderr
	// SIGQUIT is nginx's graceful shutdown: the master waits for its worker.
	startPeer(t, cmd, syscall.SIGQUIT)
	app := fmt.Sprintf("http://localhost:%d", port)
	waitFor(t, "nginx", func() bool {
		r, err := http.Get(app + "/.fedgate/x")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return fa, app
}

// TestNginxAuthRequest: Debian's nginx guards an app with auth_request
// against fedgate's /auth/verify: allowed, denied and signed-out users.
func TestNginxAuthRequest(t *testing.T) {
	fa, app := startNginx(t)

	// Signed out: nginx sends the browser to fedgate's sign-in.
	c := browserNoRedirect()
	r := get(t, c, app+"/docs?id=7", "X-Remote-User", "mallory")
	if loc, _ := url.Parse(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || loc == nil ||
		loc.Scheme+"://"+loc.Host+loc.Path != fa.fedgate+"/login" || loc.Query().Get("app") != "wiki" || loc.Query().Get("return") != app+"/docs?id=7" {
		t.Fatalf("signed out: %d %q", r.StatusCode, r.Header.Get("Location"))
	}

	// Allowed: bob signs in and lands back on the page he asked for.
	// The app's own cookie reaches it; fedgate's does not.
	appU, _ := url.Parse(app)
	bob := browser()
	bob.Jar.SetCookies(appU, []*http.Cookie{{Name: "theirs", Value: "1"}})
	if code, body := signIn(t, bob, app+"/docs?id=7", "bob", "bob-demo-pw", "X-Remote-User", "mallory", "X_Remote_User", "mallory"); code != 200 || body != `path="/docs?id=7" user="bob" groups="staff" cookie="theirs=1"` {
		t.Fatalf("backend saw %d %s", code, body)
	}

	// Denied at sign-in: carol is not staff.
	if code, body := signIn(t, browser(), app+"/", "carol", "carol-demo-pw"); code != http.StatusForbidden {
		t.Fatalf("carol: %d %s", code, body)
	}
	// Denied by auth_request: bob's session stays, but the policy changes
	// under it; every request is decided again, and nginx answers 403.
	writeFile(t, fa.dir, "staff.yaml", strings.Replace(staffPolicy, "[staff]", "[nobody]", 1))
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
	req, _ := http.NewRequest("GET", fa.fedgate+"/auth/verify", nil)
	req.Header.Set("X-Forwarded-Host", "other.example")
	req.Header.Set("X-Original-URI", "/")
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Fatalf("verify for an unknown host: %v %v", err, r)
	}
}

// TestNginxAsDocumented runs what an admin copies from docs/proxy.md
// through a browser's whole visit; each subtest of asDocumented is a way
// the earlier snippet failed (proxy_redirect rewrote fedgate's redirects,
// return= was not encoded, the cookie map merged neighbours, verify's
// Set-Cookie was dropped).
func TestNginxAsDocumented(t *testing.T) {
	fa, app := startNginx(t)
	asDocumented(t, fa, app)
}

// fetch GETs u without a cookie jar, with header pairs hdr, and returns the
// status and body.
func fetch(t *testing.T, u string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(body)
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

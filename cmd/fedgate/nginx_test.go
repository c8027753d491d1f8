package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
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
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), fa.fedgate+"/login?app=wiki&return=") {
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
// through the whole of a browser's visit: each subtest is a way the earlier
// snippet failed (proxy_redirect rewrote fedgate's redirects, return= was
// not encoded, the cookie map merged neighbours, verify's Set-Cookie was
// dropped).
func TestNginxAsDocumented(t *testing.T) {
	fa, app := startNginx(t)
	appU, _ := url.Parse(app)
	bob := browser()
	const deep = "/page?y=2&z=3&q=%26x%3D1"

	t.Run("signed-out browser goes to sign-in with the whole URL", func(t *testing.T) {
		r := get(t, browserNoRedirect(), app+deep)
		u, err := url.Parse(r.Header.Get("Location"))
		if r.StatusCode != http.StatusSeeOther || err != nil || u.Scheme+"://"+u.Host+u.Path != fa.fedgate+"/login" ||
			u.Query().Get("app") != "wiki" || u.Query().Get("return") != app+deep {
			t.Fatalf("signed out: %d %q, want sign-in returning to %s", r.StatusCode, r.Header.Get("Location"), app+deep)
		}
	})
	t.Run("sign-in lands on the deep link", func(t *testing.T) {
		code, body := signIn(t, bob, app+deep, "bob", "bob-demo-pw")
		if want := fmt.Sprintf(`path=%q user="bob" groups="staff" cookie=""`, deep); code != 200 || body != want {
			t.Fatalf("backend saw %d %s, want %s", code, body, want)
		}
	})

	var session string
	for _, c := range bob.Jar.Cookies(appU) {
		if c.Name == "fedgate_app" {
			session = "fedgate_app=" + c.Value
		}
	}
	if session == "" {
		t.Fatal("no app-host session after sign-in")
	}
	t.Run("fedgate's cookies never reach the backend", func(t *testing.T) {
		for _, tc := range []struct{ name, cookie, want string }{
			{"first", session + "; theme=dark; sid=abc", "theme=dark; sid=abc"},
			{"middle", "theme=dark; " + session + "; sid=abc", "theme=dark; sid=abc"},
			{"last", "theme=dark; sid=abc; " + session, "theme=dark; sid=abc"},
			{"alone", session, ""},
			{"duplicated", session + "; theme=dark; " + session + "; sid=abc; " + session, "theme=dark; sid=abc"},
			{"__Host- prefix", session + "; theme=dark; __Host-" + session + "; sid=abc", "theme=dark; sid=abc"},
			{"binding cookie too", session + "; fedgate_bind=b; theme=dark", "theme=dark"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, body := fetch(t, app+"/c", "Cookie", tc.cookie)
				if want := fmt.Sprintf(`path="/c" user="bob" groups="staff" cookie=%q`, tc.want); code != 200 || body != want {
					short := strings.NewReplacer(session, "fedgate_app=…")
					t.Fatalf("Cookie: %s\nbackend saw %d %s, want %s", short.Replace(tc.cookie), code, short.Replace(body), want)
				}
			})
		}
	})

	t.Run("Set-Cookie from verify reaches the browser", func(t *testing.T) {
		// A max_session cap that arrives while the session lives makes
		// verify rewrite the session cookie; ask verify directly (as
		// nginx would) until it does, then through nginx.
		writeFile(t, fa.dir, "staff.yaml", strings.Replace(staffPolicy, "allow: {}", "allow: { max_session: 1h }", 1))
		var want []string
		waitFor(t, "verify to set a cookie", func() bool {
			req, _ := http.NewRequest("GET", fa.fedgate+"/auth/verify", nil)
			req.Header.Set("X-Forwarded-Host", appU.Host)
			req.Header.Set("X-Original-URI", "/v")
			req.Header.Set("Cookie", session)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			want = setCookieNames(r.Header)
			return r.StatusCode == 200 && len(want) > 0
		})
		req, _ := http.NewRequest("GET", app+"/v", nil)
		req.Header.Set("Cookie", session)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if got := setCookieNames(r.Header); r.StatusCode != 200 || !slices.Equal(got, want) {
			t.Fatalf("through nginx: %d sets %q, verify set %q", r.StatusCode, got, want)
		}
	})

	t.Run("sign-out continues to fedgate's sign-out page", func(t *testing.T) {
		c := &http.Client{Jar: bob.Jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		r := get(t, c, app+"/.fedgate/signout")
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != fa.fedgate+"/logout" {
			t.Fatalf("sign-out: %d %q, want 303 to %s/logout", r.StatusCode, r.Header.Get("Location"), fa.fedgate)
		}
		if r := get(t, c, app+"/after"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("after sign-out the app host still lets bob in: %d", r.StatusCode)
		}
	})
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

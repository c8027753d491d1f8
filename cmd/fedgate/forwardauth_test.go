package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// forwardAuth is fedgate serving a forward_auth app "wiki" whose host is the
// reverse proxy's address (localhost:<proxy port>), trusting 127.0.0.1, and
// the backend behind that proxy, which echoes what reaches it.
type forwardAuth struct {
	dir     string
	fedgate string // fedgate's public URL
	backend string // host:port
}

func startForwardAuth(t *testing.T, proxyPort int) *forwardAuth {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "path=%q user=%q groups=%q cookie=%q", r.URL.RequestURI(), r.Header.Get("X-Remote-User"),
			r.Header.Get("X-Remote-Groups"), strings.Join(r.Header.Values("Cookie"), " | "))
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	fgPort := freePort(t)
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
`, fgPort, fgPort, proxyPort))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), &lockedBuffer{}, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	fa := &forwardAuth{dir: dir, fedgate: fmt.Sprintf("http://127.0.0.1:%d", fgPort), backend: strings.TrimPrefix(backend.URL, "http://")}
	waitFor(t, "fedgate", func() bool {
		r, err := http.Get(fa.fedgate + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return fa
}

// docSnippet is the fenced block that follows marker in docs/proxy.md, with
// each old string of pairs replaced by its new one: the tests run what the
// docs show, so the two cannot drift apart. A missing marker or old string
// fails the test (the docs changed under it).
func docSnippet(t *testing.T, marker string, pairs ...string) string {
	t.Helper()
	return fileSnippet(t, "docs/proxy.md", marker, pairs...)
}

// fileSnippet is docSnippet for any file of the repository.
func fileSnippet(t *testing.T, file, marker string, pairs ...string) string {
	t.Helper()
	doc, err := os.ReadFile("../../" + file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), marker)
	if ok {
		_, rest, ok = strings.Cut(rest, "```")
	}
	if ok {
		_, rest, ok = strings.Cut(rest, "\n") // the fence's language
	}
	block, _, closed := strings.Cut(rest, "\n```")
	if !ok || !closed {
		t.Fatalf("%s has no fenced block after %q", file, marker)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(block, pairs[i]) {
			t.Fatalf("the snippet after %q in %s no longer contains %q", marker, file, pairs[i])
		}
		block = strings.ReplaceAll(block, pairs[i], pairs[i+1])
	}
	return block
}

// setCookieNames are the names of the cookies a response sets.
func setCookieNames(h http.Header) []string {
	var names []string
	for _, c := range (&http.Response{Header: h}).Cookies() {
		names = append(names, c.Name)
	}
	return names
}

// TestForwardAuthRedirectDocumented: /auth/verify?rd=1 sends a signed-out
// browser to sign in with the status docs/proxy.md names (303: the browser
// follows with a GET whatever it sent).
func TestForwardAuthRedirectDocumented(t *testing.T) {
	port := freePort(t)
	fa := startForwardAuth(t, port)
	req, _ := http.NewRequest("GET", fa.fedgate+"/auth/verify?rd=1", nil)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Forwarded-Host", fmt.Sprintf("localhost:%d", port))
	req.Header.Set("X-Forwarded-Uri", "/page?y=2&z=3")
	req.Header.Set("X-Forwarded-Method", "GET")
	r, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	doc, _ := os.ReadFile("../../docs/proxy.md")
	m := regexp.MustCompile("with `\\?rd=1`, a\\s+`(\\d{3})`").FindSubmatch(doc)
	if m == nil || string(m[1]) != strconv.Itoa(r.StatusCode) || r.StatusCode != http.StatusSeeOther {
		t.Fatalf("verify?rd=1 answers %d; docs/proxy.md says %q", r.StatusCode, m)
	}
}

// asDocumented walks a browser through a forward_auth app behind a reverse
// proxy configured as docs/proxy.md shows: sign-in to a deep link and back,
// fedgate's cookies kept from the backend, verify's Set-Cookie passed on,
// sign-out.
func asDocumented(t *testing.T, fa *forwardAuth, app string) {
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
		// verify rewrite the session cookie once. Ask through the proxy
		// until the reload has made it do so: the rewrite must reach the
		// browser. Asked again directly, verify sets nothing (a rewrite is
		// told once per touch interval, not on every response).
		writeFile(t, fa.dir, "staff.yaml", strings.Replace(staffPolicy, "allow: {}", "allow: { max_session: 1h }", 1))
		get := func(url string, h ...string) (int, []string) {
			req, _ := http.NewRequest("GET", url, nil)
			for i := 0; i < len(h); i += 2 {
				req.Header.Set(h[i], h[i+1])
			}
			req.Header.Set("Cookie", session)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			return r.StatusCode, setCookieNames(r.Header)
		}
		waitFor(t, "a rewritten session cookie through the proxy", func() bool {
			code, got := get(app + "/v")
			if code != 200 {
				t.Fatalf("through the proxy: %d", code)
			}
			return slices.Equal(got, []string{"fedgate_app"})
		})
		if code, got := get(fa.fedgate+"/auth/verify", "X-Forwarded-Host", appU.Host, "X-Original-URI", "/v"); code != 200 || len(got) != 0 {
			t.Fatalf("verify asked again: %d sets %q, want 200 and no cookie", code, got)
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

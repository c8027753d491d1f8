package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
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
	doc, err := os.ReadFile("../../docs/proxy.md")
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
		t.Fatalf("docs/proxy.md has no fenced block after %q", marker)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(block, pairs[i]) {
			t.Fatalf("the snippet after %q in docs/proxy.md no longer contains %q", marker, pairs[i])
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

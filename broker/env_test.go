package broker

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/local"
)

// testEnv is a broker behind httptest with a fake clock, an in-memory store
// and a captured audit log.
type testEnv struct {
	t      testing.TB
	srv    *Server
	http   *httptest.Server
	clock  *storetest.Clock
	keys   []keys.CookieKey
	audit  *syncBuffer
	client *http.Client
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// events returns the audit events recorded so far.
func (s *syncBuffer) events(t *testing.T) []AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []AuditEvent
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var e AuditEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const testConfig = `
server:
  public_url: http://127.0.0.1:8080
  insecure_http: true
keys:
  cookie: [unused.key]
store: { memory: true }
upstreams:
  - { id: local, type: local, name: Corp users, domains: [corp.example] }
  - { id: partner, type: local, name: Partner users, domains: [partner.example] }
user_names: { default_owner: local }
apps:
  - { id: demo, type: whoami, name: Demo, policy: staff, upstreams: [local] }
  - { id: multi, type: whoami, policy: staff }
  - { id: mfa, type: whoami, policy: needs-mfa, upstreams: [local] }
policies: [policies/*.yaml]
`

// brokerHead starts a test config: fedgate on 127.0.0.1:8080 over plain
// HTTP, memory store, and the two local upstreams newEnvWith builds (local,
// partner); a config goes on with its further upstreams.
const brokerHead = `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: local, type: local }
  - { id: partner, type: local }
`

// loadTestConfig writes the config and policies to a temp dir and loads them.
func loadTestConfig(t testing.TB, cfgYAML string, policies map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fedgate.yaml"), []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, body := range policies {
		if err := os.WriteFile(filepath.Join(dir, "policies", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(filepath.Join(dir, "fedgate.yaml"))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

var defaultPolicies = map[string]string{
	"staff.yaml": `policy: staff
message: { en: "Staff only.", ja: "スタッフ専用です。" }
rules:
  - name: staff
    when: { groups: [staff] }
    allow: {}
`,
	"netstaff.yaml": `policy: netstaff
rules:
  - name: staff in the office
    when: { networks: [10.0.0.0/8, "2001:db8::/32"], groups: [staff] }
    allow: {}
`,
	"capped.yaml": `policy: capped
rules:
  - name: staff for 30 minutes
    when: { groups: [staff] }
    allow: { max_session: 30m }
`,
	"mfa.yaml": `policy: needs-mfa
rules:
  - name: everyone with MFA
    allow: { mfa: { max_age: 1h } }
`,
}

func hashOf(t testing.TB, pw string) protocols.Secret {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return protocols.NewSecret(string(h))
}

// newEnv starts a broker on testConfig with users alice (staff), eve (no
// groups) in "local" and pat in "partner".
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnvWith(t, testConfig, nil)
}

// newEnvWith starts a broker on cfgYAML; its upstreams are local, partner,
// then extra (in the config's order).
func newEnvWith(t testing.TB, cfgYAML string, extra []protocols.Upstream) *testEnv {
	t.Helper()
	return newEnvOn(t, cfgYAML, extra, func(now func() time.Time) store.Store { return store.NewMemory(now) })
}

// newEnvOn is newEnvWith on the store open makes (on the test's clock).
func newEnvOn(t testing.TB, cfgYAML string, extra []protocols.Upstream, open func(now func() time.Time) store.Store) *testEnv {
	t.Helper()
	clock := storetest.NewClock()
	cfg := loadTestConfig(t, cfgYAML, defaultPolicies)
	corp, err := local.Open(local.Config{ID: "local", Users: []local.User{
		{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), DisplayName: "Alice", Groups: []string{"staff"}},
		{Username: "eve", PasswordHash: hashOf(t, "eve-pw")},
	}}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	partner, err := local.Open(local.Config{ID: "partner", Users: []local.User{
		{Username: "pat", PasswordHash: hashOf(t, "pat-pw"), Groups: []string{"staff"}},
	}}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	var ks []keys.CookieKey
	for range 2 {
		k, err := keys.GenerateCookieKey()
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, k)
	}
	snap, err := NewSnapshot(cfg, ks[:1], append([]protocols.Upstream{corp, partner}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	audit := &syncBuffer{}
	st := open(clock.Now)
	t.Cleanup(func() { _ = st.Close() }) // ends the sign-out replica's goroutines
	srv, err := NewServer(Deps{
		Logger: slog.New(slog.DiscardHandler), Audit: NewAuditor(audit), Metrics: NewMetrics(),
		Store: st, Now: clock.Now,
	}, snap)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &testEnv{t: t, srv: srv, http: hs, clock: clock, keys: ks, audit: audit}
	e.client = e.newClient()
	return e
}

// newClient is a browser-like client: a cookie jar, no automatic redirects.
func (e *testEnv) newClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type resp struct {
	code     int
	location string
	body     string
	header   http.Header
}

func (e *testEnv) do(c *http.Client, req *http.Request) resp {
	e.t.Helper()
	if !strings.HasPrefix(req.URL.String(), "http") {
		u, _ := url.Parse(e.http.URL + req.URL.String())
		req.URL = u
	}
	r, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{code: r.StatusCode, location: r.Header.Get("Location"), body: string(body), header: r.Header}
}

func (e *testEnv) get(c *http.Client, path string) resp {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+path, nil)
	return e.do(c, req)
}

func (e *testEnv) post(c *http.Client, path string, form url.Values) resp {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(c, req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", body)
	}
	return m[1]
}

// beginLogin follows the redirects from path to the sign-in form and returns
// the form's URL and CSRF token.
func (e *testEnv) beginLogin(c *http.Client, path string) (formURL, csrf string) {
	e.t.Helper()
	r := e.get(c, path)
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?l=") {
		e.t.Fatalf("GET %s = %d %q, want 303 to /login?l=", path, r.code, r.location)
	}
	page := e.get(c, r.location)
	if page.code != http.StatusOK {
		e.t.Fatalf("GET %s = %d", r.location, page.code)
	}
	return r.location, csrfOf(e.t, page.body)
}

// signIn signs c in through app demo and returns the final response.
func (e *testEnv) signIn(c *http.Client, user, pw string) resp {
	e.t.Helper()
	return e.signInTo(c, "/apps/demo/", user, pw)
}

// signInTo signs c in at the local upstream, starting from path, and
// returns the answer to the sign-in form.
func (e *testEnv) signInTo(c *http.Client, path, user, pw string) resp {
	e.t.Helper()
	formURL, csrf := e.beginLogin(c, path)
	return e.post(c, formURL, url.Values{"csrf": {csrf}, "upstream": {"local"}, "username": {user}, "password": {pw}})
}

func protoIdentity(user string, groups []string) protocols.Identity {
	return protocols.Identity{Subject: user, Upstream: "local", Username: user, Groups: groups, AMR: []string{"pwd"}}
}

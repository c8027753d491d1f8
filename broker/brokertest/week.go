// Package brokertest runs a real broker for tests outside package broker
// (Broker), and records traffic through it: the week of sign-ins that
// `policy replay` is shown over, by the library (broker) and by the
// command (cmd/fedgate).
package brokertest

import (
	"bytes"
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

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/local"
)

// WeekConfig is the config the week is recorded under: app portal with
// policies/portal.yaml, users of the local upstream, requests through the
// trusted proxy 127.0.0.1.
const WeekConfig = `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true, trusted_proxies: [127.0.0.1/32] }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: local, type: local }
apps:
  - { id: portal, type: whoami, policy: portal, upstreams: [local] }
policies: [policies/*.yaml]
`

// PortalPolicy is the policy in force while the week is recorded; tests
// replay the week through edits of it.
const PortalPolicy = `policy: portal
timezone: Asia/Tokyo
networks: { office: [10.0.0.0/8] }
rules:
  - name: office
    when: { networks: [office] }
    allow: {}
  - name: staff anywhere
    when: { groups: [staff] }
    allow: {}
`

// Where the users sign in from.
const (
	Home   = "203.0.113.5"
	Office = "10.1.2.3"
)

// WeekStart is when the week begins (a Wednesday, noon in Tokyo): the
// sign-ins of day d are at WeekStart + d×24h.
var WeekStart = storetest.NewClock().Now()

// Broker is a broker on cfgYAML, written to a temp dir with files (name
// → content) beside it, and upstreams already built; now is its clock.
// It returns the broker's handler and its audit log.
func Broker(t testing.TB, cfgYAML string, files map[string]string, upstreams []protocols.Upstream, now func() time.Time) (http.Handler, *Buffer) {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "fedgate.yaml"), cfgYAML)
	for name, body := range files {
		write(t, filepath.Join(dir, name), body)
	}
	cfg, err := config.Load(filepath.Join(dir, "fedgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ck, err := keys.GenerateCookieKey()
	if err != nil {
		t.Fatal(err)
	}
	snap, err := broker.NewSnapshot(cfg, []keys.CookieKey{ck}, upstreams)
	if err != nil {
		t.Fatal(err)
	}
	audit := &Buffer{}
	srv, err := broker.NewServer(broker.Deps{Logger: slog.New(slog.DiscardHandler), Audit: broker.NewAuditor(audit),
		Metrics: broker.NewMetrics(), Store: store.NewMemory(now), Now: now}, snap)
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler(), audit
}

// RecordWeek has alice (staff) and eve (no groups) sign in to portal from
// Home and from Office every day for 7 days, checks that exactly the
// sign-ins PortalPolicy allows succeed, and returns the audit log written.
func RecordWeek(t testing.TB) []byte {
	t.Helper()
	clock := storetest.NewClock()
	var users []local.User
	for _, u := range []local.User{{Username: "alice", Groups: []string{"staff"}}, {Username: "eve"}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u.Username+"-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		u.PasswordHash = protocols.NewSecret(string(h))
		users = append(users, u)
	}
	up, err := local.Open(local.Config{ID: "local", Users: users}, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h, audit := Broker(t, WeekConfig, map[string]string{"policies/portal.yaml": PortalPolicy}, []protocols.Upstream{up}, clock.Now)
	hs := httptest.NewServer(h)
	defer hs.Close()
	for day := range 7 {
		for _, v := range [][2]string{{"alice", Home}, {"alice", Office}, {"eve", Home}, {"eve", Office}} {
			user, from := v[0], v[1]
			code := signIn(t, hs.URL, from, user)
			if allowed := code == http.StatusSeeOther; allowed != (user == "alice" || from == Office) {
				t.Fatalf("day %d: %s from %s: sign-in answered %d", day, user, from, code)
			}
		}
		clock.Advance(24 * time.Hour)
	}
	return audit.Bytes()
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs user in to portal in a new browser behind the trusted
// proxy, on behalf of from; it returns the answer to the sign-in form.
func signIn(t testing.TB, base, from, user string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Transport: forwardedFor(from),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r := do(t, c, "GET", base+"/apps/portal/", nil)
	form := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(form, "/login?l=") {
		t.Fatalf("GET /apps/portal/ = %d %q, want the sign-in form", r.StatusCode, form)
	}
	page := do(t, c, "GET", base+form, nil)
	m := csrfRE.FindSubmatch(page.body)
	if m == nil {
		t.Fatalf("no csrf token in the sign-in form (%d)", page.StatusCode)
	}
	return do(t, c, "POST", base+form, url.Values{"csrf": {string(m[1])}, "upstream": {"local"}, "username": {user}, "password": {user + "-pw"}}).StatusCode
}

type answer struct {
	*http.Response
	body []byte
}

func do(t testing.TB, c *http.Client, method, to string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, to, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return answer{r, b}
}

// forwardedFor sends requests as the trusted proxy would for a client at
// its address.
type forwardedFor string

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", string(f))
	return http.DefaultTransport.RoundTrip(r)
}

func write(t testing.TB, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Buffer is a bytes.Buffer that the broker may write while a test reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Buffer) String() string { return string(l.Bytes()) }

// Bytes is a copy of what was written so far.
func (l *Buffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

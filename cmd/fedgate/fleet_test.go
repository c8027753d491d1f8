package main

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/fedgate/fedgate/broker/store/storetest"
)

// TestMain lets a test run the fedgate CLI as a real child process (the
// fleet test's replicas): the test binary re-executes itself. Afterwards it
// removes what BenchmarkAuditCommand made.
func TestMain(m *testing.M) {
	if os.Getenv("FEDGATE_TEST_CLI") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	code := m.Run()
	if auditBench.dir != "" {
		os.RemoveAll(auditBench.dir)
	}
	os.Exit(code)
}

// replica is one `fedgate serve` process of the fleet.
type replica struct {
	addr string // host:port it listens on
	cmd  *exec.Cmd
	logs *lockedBuffer
}

func startReplica(t *testing.T, config string, addr string) *replica {
	t.Helper()
	r := &replica{addr: addr, logs: &lockedBuffer{}}
	r.cmd = exec.Command(os.Args[0], "serve", "--config", config)
	r.cmd.Env = append(os.Environ(), "FEDGATE_TEST_CLI=1")
	r.cmd.Stderr = r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.stop(syscall.SIGTERM)
		if strings.Contains(r.logs.String(), "DATA RACE") { // under -race, the child reports here
			t.Errorf("replica %s:\n%s", addr, r.logs)
		}
	})
	waitFor(t, "replica "+addr, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return r
}

// stop sends sig (SIGTERM drains; SIGKILL is a crash) and waits.
func (r *replica) stop(sig syscall.Signal) {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(sig)
	_ = r.cmd.Wait()
	r.cmd = nil
}

// pinned sends every request to one replica, whatever URL the client
// asked for, so a test says which replica serves which step.
type pinned struct{ to string }

func (p pinned) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.Host = r.URL.Host
	r2.URL.Host = p.to
	resp, err := http.DefaultTransport.RoundTrip(r2)
	if resp != nil {
		resp.Request = r // the client (and its jar) see the URL they asked for
	}
	return resp, err
}

// user is a browser whose requests a test can send to either replica.
type user struct {
	jar *cookiejar.Jar
	to  *pinned
	c   *http.Client
}

func newUser() *user {
	jar, _ := cookiejar.New(nil)
	p := &pinned{}
	return &user{jar: jar, to: p, c: &http.Client{Jar: jar, Transport: p, Timeout: 10 * time.Second}}
}

// via pins the user's next requests to replica r.
func (u *user) via(r *replica) *http.Client { u.to.to = r.addr; return u.c }

type fleet struct {
	public string // nginx's URL, fedgate's public_url
	a, b   *replica
	redis  *storetest.RedisServer
	dir    string
}

// startFleet runs examples/fleet as documented: Redis (with the AOF the
// operations guide asks for), two replicas with the same keys, and nginx
// in front, on free loopback ports.
func startFleet(t *testing.T) *fleet {
	t.Helper()
	nginx := requirePeer(t, "nginx")
	// docs/operations.md's settings: AOF, and an ACL user limited to the prefix.
	rs := storetest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "everysec",
		"--user", "fedgate", "on", ">fleet-redis-pw-0123", "~fedgate:*", "&fedgate:*", "+@all", "-@dangerous", "--user", "default", "off")
	t.Setenv("REDIS_PASSWORD", "fleet-redis-pw-0123")
	dir := t.TempDir()
	f := &fleet{redis: rs, dir: dir}
	port := freePort(t)
	f.public = fmt.Sprintf("http://localhost:%d", port)
	aAddr, bAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, k := range [][]string{{"--cookie", "keys/cookie.key"}, {"--signing", "keys/signing.pem"}} {
		if code, _, stderr := runCLI("keys", "generate", k[0], filepath.Join(dir, k[1])); code != 0 {
			t.Fatalf("keys generate: %s", stderr)
		}
	}
	users, _ := os.ReadFile("../../examples/quickstart/users.yaml")
	writeFile(t, dir, "users.yaml", string(users))
	writeFile(t, dir, "staff.yaml", staffPolicy)
	for name, addr := range map[string]string{"a": aAddr, "b": bAddr} {
		ex, err := os.ReadFile("../../examples/fleet/fedgate-" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		cfg := replaceAll(t, string(ex),
			"http://localhost:8080", f.public, "127.0.0.1:808"+map[string]string{"a": "1", "b": "2"}[name], addr,
			"127.0.0.1:6379", rs.Addr,
			"../quickstart/users.yaml", "users.yaml", "../quickstart/policies/*.yaml", "staff.yaml",
			"log: { format: text }", "log: { format: text }\naudit: { file: audit-"+name+".jsonl }",
			"  - { id: demo, type: whoami, name: Who am I, policy: staff-only }\n", oidcApp)
		writeFile(t, dir, "fedgate-"+name+".yaml", cfg)
	}
	f.a = startReplica(t, filepath.Join(dir, "fedgate-a.yaml"), aAddr)
	f.b = startReplica(t, filepath.Join(dir, "fedgate-b.yaml"), bAddr)

	ex, err := os.ReadFile("../../examples/fleet/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	snippet := replaceAll(t, string(ex), "127.0.0.1:8081", aAddr, "127.0.0.1:8082", bAddr, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port))
	var conf strings.Builder
	tmpl := template.Must(template.ParseFiles("testdata/nginx.conf.tmpl"))
	if err := tmpl.Execute(&conf, map[string]any{"Dir": dir, "Snippet": snippet}); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "nginx.conf", strings.Replace(conf.String(), "worker_connections 64", "worker_connections 512", 1))
	ng := exec.Command(nginx, "-c", filepath.Join(dir, "nginx.conf"), "-p", dir)
	ng.Stderr = os.Stderr
	if err := ng.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ng.Process.Signal(syscall.SIGQUIT); _ = ng.Wait() }) // graceful: workers go too
	waitFor(t, "nginx", func() bool {
		r, err := http.Get(f.public + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil && r.StatusCode == 200
	})
	return f
}

const oidcApp = `  - { id: demo, type: whoami, name: Who am I, policy: staff-only }
  - id: notes
    type: oidc
    policy: staff-only
    oidc: { client_id: notes, client_secret: fleet-notes-secret-0123456789, redirect_uris: ["http://127.0.0.1:9/cb"] }
  - id: crm
    type: saml
    policy: staff-only
    saml: { entity_id: "https://crm.example/saml", acs_urls: [{ url: "https://crm.example/acs" }], persistent_salt: "0123456789abcdef0123" }
`

// replaceAll replaces each old string of pairs with its new one; an old
// string missing from s fails: the example changed under the test.
func replaceAll(t *testing.T, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("%q not found in the example", pairs[i])
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

func status(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(body)
}

// TestFleet: two replicas behind nginx share one Redis, and behave as one.
func TestFleet(t *testing.T) {
	f := startFleet(t)
	app := f.public + "/apps/demo/"

	// Signed in through A, bob continues through B without a prompt.
	bob := newUser()
	if code, body := signInVia(t, bob, f.a, app, "bob", "bob-demo-pw"); code != 200 || !strings.Contains(body, "bob") {
		t.Fatalf("sign-in at A: %d %s", code, body)
	}
	if code, body := status(t, bob.via(f.b), app); code != 200 || !strings.Contains(body, "bob") {
		t.Fatalf("B with A's session: %d %.200s", code, body)
	}

	t.Run("OIDCCodeOnceAcrossReplicas", func(t *testing.T) {
		code, verifier := authorize(t, bob.via(f.a), f.public)
		if st, body := redeem(t, f.b, f.public, code, verifier); st != 200 || !strings.Contains(body, "id_token") {
			t.Fatalf("code from A redeemed at B: %d %s", st, body)
		}
		if st, body := redeem(t, f.a, f.public, code, verifier); st != 400 || !strings.Contains(body, "invalid_grant") {
			t.Fatalf("same code again at A: %d %s; want 400 invalid_grant", st, body)
		}
	})

	t.Run("SAMLRequestOnceAcrossReplicas", func(t *testing.T) {
		sso := samlRedirect(t, f.public, "_fleet-"+strconv.FormatInt(time.Now().UnixNano(), 36))
		if code, body := status(t, bob.via(f.a), sso); code != 200 || !strings.Contains(body, `name="SAMLResponse"`) {
			t.Fatalf("AuthnRequest at A: %d %.300s", code, body)
		}
		if code, body := status(t, bob.via(f.b), sso); code < 400 || strings.Contains(body, `name="SAMLResponse"`) {
			t.Fatalf("the same AuthnRequest replayed at B: %d %.300s; want refused", code, body)
		}
		// A fresh request at B is answered: B refused the replay, not SAML.
		if code, body := status(t, bob.via(f.b), samlRedirect(t, f.public, "_fleet-fresh")); code != 200 || !strings.Contains(body, `name="SAMLResponse"`) {
			t.Fatalf("a fresh AuthnRequest at B: %d %.300s", code, body)
		}
	})

	t.Run("ThrottleCountedAcrossReplicas", func(t *testing.T) {
		// 3 failures at each replica: 6 > max_failures 5 only if they share
		// the count; each alone would still be under the limit.
		for i := range 6 {
			r := []*replica{f.a, f.b}[i%2]
			if code, _ := signInVia(t, newUser(), r, app, "alice", "wrong-password"); code != 401 && code != 429 {
				t.Fatalf("failure %d: %d", i, code)
			}
		}
		if code, _ := signInVia(t, newUser(), f.a, app, "alice", "alice-demo-pw"); code != http.StatusTooManyRequests {
			t.Fatalf("right password after 6 shared failures: %d, want 429", code)
		}
	})

	var stolen []*http.Cookie // a signed-out session's cookies, kept elsewhere
	t.Run("SignOutAtARefusedAtB", func(t *testing.T) {
		carol := newUser()
		signInVia(t, carol, f.b, app, "bob", "bob-demo-pw")
		stolen = carol.jar.Cookies(mustURL(t, f.public))
		if code, _ := status(t, carol.via(f.b), app); code != 200 {
			t.Fatalf("before sign-out at B: %d (B caches: not revoked)", code)
		}
		signOut(t, carol.via(f.a), f.public)
		replay := newUser()
		replay.jar.SetCookies(mustURL(t, f.public), stolen)
		start := time.Now()
		waitFor(t, "B to refuse the signed-out session", func() bool {
			return firstStatus(t, replay, f.b, app) == http.StatusSeeOther
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("B refused after %v, beyond the documented 5s", d)
		}
	})

	t.Run("RedisDownFailsClosedAndRecovers", func(t *testing.T) {
		dana := newUser()
		signInVia(t, dana, f.a, app, "bob", "bob-demo-pw")
		f.redis.Stop()
		waitFor(t, "readyz false", func() bool { c, _ := status(t, http.DefaultClient, "http://"+f.a.addr+"/readyz"); return c == 503 })
		if code, body := signInVia(t, newUser(), f.b, app, "bob", "bob-demo-pw"); code != 503 || !strings.Contains(body, "temporarily unavailable") {
			t.Fatalf("sign-in with Redis down: %d %.300s", code, body)
		}
		waitFor(t, "the session refused with a page", func() bool {
			code, body := status(t, dana.via(f.b), app)
			return code == 503 && strings.Contains(body, "temporarily unavailable")
		})
		// A protocol app gets the same page, not a denial in its protocol.
		if code, body := status(t, dana.via(f.a), samlRedirect(t, f.public, "_fleet-down")); code != 503 || !strings.Contains(body, "temporarily unavailable") {
			t.Fatalf("SAML request with Redis down: %d %.300s", code, body)
		}
		f.redis.Start()
		waitFor(t, "readyz true", func() bool { c, _ := status(t, http.DefaultClient, "http://"+f.b.addr+"/readyz"); return c == 200 })
		if code, _ := status(t, dana.via(f.b), app); code != 200 {
			t.Fatalf("session after Redis returned: %d", code)
		}
		if code, _ := signInVia(t, newUser(), f.a, app, "bob", "bob-demo-pw"); code != 200 {
			t.Fatalf("sign-in after Redis returned: %d", code)
		}
		// The sign-out survived Redis's restart (AOF, docs/operations.md).
		if stolen == nil {
			t.Fatal("run with SignOutAtARefusedAtB: it keeps the signed-out cookies")
		}
		replay := newUser()
		replay.jar.SetCookies(mustURL(t, f.public), stolen)
		if code := firstStatus(t, replay, f.a, app); code != http.StatusSeeOther {
			t.Fatalf("a session signed out before Redis restarted: %d; want 303 to sign in", code)
		}
	})

	t.Run("KillReplicaUnderLoad", func(t *testing.T) {
		wrk := requirePeer(t, "wrk")
		// A sign-in begun at A, whose form is posted after A died.
		eve := newUser()
		form := loginForm(t, eve.via(f.a), app)
		var cookies []string
		for _, c := range bob.jar.Cookies(mustURL(t, f.public)) {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		load := exec.CommandContext(ctx, wrk, "-t2", "-c16", "-d4s", "-H", "Cookie: "+strings.Join(cookies, "; "), "-H", "Accept: text/html", app)
		out := &lockedBuffer{}
		load.Stdout = out
		if err := load.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		f.a.stop(syscall.SIGKILL)
		if err := load.Wait(); err != nil {
			t.Fatalf("wrk: %v\n%s", err, out)
		}
		report := out.String()
		t.Logf("wrk through nginx, A killed after 1s:\n%s", report)
		if strings.Contains(report, "Non-2xx") || strings.Contains(report, "Socket errors") {
			t.Fatalf("requests failed while A died:\n%s", report)
		}
		if !regexp.MustCompile(`\d+ requests in`).MatchString(report) {
			t.Fatalf("no load ran:\n%s", report)
		}
		if code, body := postLogin(t, eve.via(f.b), form, "bob", "bob-demo-pw"); code != 200 || !strings.Contains(body, "bob") {
			t.Fatalf("sign-in begun at A finished at B: %d %.200s", code, body)
		}
	})
}

// samlRedirect is an SP's HTTP-Redirect binding AuthnRequest with ID id.
func samlRedirect(t *testing.T, public, id string) string {
	t.Helper()
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="` + id +
		`" Version="2.0" IssueInstant="` + time.Now().UTC().Format(time.RFC3339) + `" AssertionConsumerServiceURL="https://crm.example/acs"><saml:Issuer>https://crm.example/saml</saml:Issuer></samlp:AuthnRequest>`
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = w.Write([]byte(xml))
	_ = w.Close()
	return public + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(b.Bytes()))
}

// firstStatus is the status of u's request to r, redirects not followed.
func firstStatus(t *testing.T, u *user, r *replica, target string) int {
	t.Helper()
	resp, err := (&http.Client{Jar: u.jar, Transport: pinned{r.addr}, CheckRedirect: noFollow}).Get(target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func noFollow(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signInVia signs in at replica r (every step pinned to it).
func signInVia(t *testing.T, u *user, r *replica, target, name, pw string) (int, string) {
	t.Helper()
	return postLogin(t, u.via(r), loginForm(t, u.via(r), target), name, pw)
}

type form struct{ action, csrf string }

func loginForm(t *testing.T, c *http.Client, target string) form {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Accept", "text/html")
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form at %s (%d)", r.Request.URL, r.StatusCode)
	}
	return form{action: r.Request.URL.String(), csrf: string(m[1])}
}

func postLogin(t *testing.T, c *http.Client, f form, name, pw string) (int, string) {
	t.Helper()
	r, err := c.PostForm(f.action, url.Values{"csrf": {f.csrf}, "upstream": {"local"}, "username": {name}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return r.StatusCode, string(body)
}

// signOut confirms the sign-out page's form.
func signOut(t *testing.T, c *http.Client, public string) {
	t.Helper()
	_, page := status(t, c, public+"/logout")
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-out form: %.300s", page)
	}
	r, err := c.PostForm(public+"/logout", url.Values{"csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("sign-out: %d", r.StatusCode)
	}
}

// authorize runs the code flow's front channel with PKCE and returns the code.
func authorize(t *testing.T, c *http.Client, public string) (code, verifier string) {
	t.Helper()
	verifier = strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {"notes"}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s1"}, "nonce": {"n1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	nc := *c
	nc.CheckRedirect = noFollow
	next := public + "/oauth2/authorize?" + q.Encode()
	for range 5 {
		r, err := nc.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		loc, err := r.Location()
		if err != nil {
			t.Fatalf("authorize: %d without Location", r.StatusCode)
		}
		if strings.HasPrefix(loc.String(), "http://127.0.0.1:9/cb") {
			return loc.Query().Get("code"), verifier
		}
		next = loc.String()
	}
	t.Fatal("authorize: no code")
	return "", ""
}

func redeem(t *testing.T, r *replica, public, code, verifier string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: pinned{r.addr}, Timeout: 10 * time.Second}
	req, _ := http.NewRequest("POST", public+"/oauth2/token", strings.NewReader(url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"http://127.0.0.1:9/cb"}, "code_verifier": {verifier},
	}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("notes", "fleet-notes-secret-0123456789")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestCheckShowsConfigDigest: check and /readyz name the config in force by
// one digest, equal for equal files and different when any file (a key
// included) differs — what a fleet roll-out compares.
func TestCheckShowsConfigDigest(t *testing.T) {
	digest := func(dir string) string {
		code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
		m := regexp.MustCompile(`config digest (sha256:[0-9a-f]{16})`).FindStringSubmatch(stdout)
		if code != 0 || m == nil {
			t.Fatalf("check: %d %s %s", code, stdout, stderr)
		}
		return m[1]
	}
	key := filepath.Join(t.TempDir(), "cookie.key")
	if code, _, stderr := runCLI("keys", "generate", "--cookie", key); code != 0 {
		t.Fatal(stderr)
	}
	withKey := func(dir string) string {
		cfg := readFile(t, dir, "fedgate.yaml")
		writeFile(t, dir, "fedgate.yaml", replaceAll(t, cfg, "data_dir: data", "keys: { cookie: ["+key+"] }\ndata_dir: data"))
		return dir
	}
	one, two := withKey(writeServerConfig(t, "127.0.0.1:0")), withKey(writeServerConfig(t, "127.0.0.1:0"))
	if d1, d2 := digest(one), digest(two); d1 != d2 {
		t.Fatalf("same files, digests %s and %s", d1, d2)
	}
	writeFile(t, filepath.Join(two, "policies"), "staff.yaml", strings.Replace(staffPolicy, "[staff]", "[admins]", 1))
	if digest(one) == digest(two) {
		t.Fatal("a changed policy file kept the digest")
	}
	// The same files, but another cookie key in the key file.
	before := digest(one)
	other := filepath.Join(t.TempDir(), "cookie.key")
	runCLI("keys", "generate", "--cookie", other)
	writeFile(t, filepath.Dir(key), "cookie.key", readFile(t, filepath.Dir(other), "cookie.key"))
	if digest(one) == before {
		t.Fatal("another cookie key kept the digest")
	}
	base, dir, _, _ := startServer(t)
	_, body := status(t, http.DefaultClient, base+"/readyz")
	if !strings.Contains(body, `"config":"`+digest(dir)+`"`) {
		t.Fatalf("readyz does not show check's digest %s: %s", digest(dir), body)
	}
}

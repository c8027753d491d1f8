package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"
)

// mitKDC is a throwaway MIT Kerberos realm, FEDGATE.TEST, on a loopback
// port: its own krb5.conf and kdc.conf in a temp dir, a database made by
// kdb5_util, principals and keytabs by kadmin.local, and krb5kdc running
// until the test ends.
type mitKDC struct {
	dir  string
	env  []string // KRB5_CONFIG and KRB5_KDC_PROFILE
	bins map[string]string
}

const kdcRealm = "FEDGATE.TEST"

// krbPeer finds an MIT tool; the daemons live in /usr/sbin, which a
// non-root PATH may lack.
func krbPeer(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := "/usr/sbin/" + name; fileExists(p) {
		return p
	}
	return requirePeer(t, name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func startKDC(t *testing.T) *mitKDC {
	t.Helper()
	k := &mitKDC{dir: t.TempDir(), bins: map[string]string{}}
	for _, b := range []string{"krb5kdc", "kdb5_util", "kadmin.local", "kinit", "curl"} {
		k.bins[b] = krbPeer(t, b)
	}
	port := freePort(t)
	writeFile(t, k.dir, "krb5.conf", fmt.Sprintf(`[libdefaults]
  default_realm = %[1]s
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  %[1]s = {
    kdc = 127.0.0.1:%[2]d
  }
[domain_realm]
  .fedgate.test = %[1]s
`, kdcRealm, port))
	writeFile(t, k.dir, "kdc.conf", fmt.Sprintf(`[kdcdefaults]
  kdc_listen = 127.0.0.1:%[2]d
  kdc_tcp_listen = 127.0.0.1:%[2]d
[realms]
  %[1]s = {
    database_name = %[3]s/principal
    key_stash_file = %[3]s/stash
    acl_file = %[3]s/kadm5.acl
    max_life = 1h
  }
[logging]
  kdc = FILE:%[3]s/kdc.log
`, kdcRealm, port, k.dir))
	k.env = append(os.Environ(), "KRB5_CONFIG="+filepath.Join(k.dir, "krb5.conf"), "KRB5_KDC_PROFILE="+filepath.Join(k.dir, "kdc.conf"))
	k.run(t, "kdb5_util", "create", "-s", "-r", kdcRealm, "-P", "throwaway-master-pw")
	for _, q := range []string{
		"addprinc -pw alice-pw alice",
		"addprinc -randkey HTTP/sso.fedgate.test",
		"addprinc -randkey HTTP/other.fedgate.test",
		"ktadd -k " + k.path("http.keytab") + " HTTP/sso.fedgate.test",
		"ktadd -k " + k.path("alice.keytab") + " -norandkey alice",
	} {
		k.run(t, "kadmin.local", "-r", kdcRealm, "-q", q)
	}
	cmd := exec.Command(k.bins["krb5kdc"], "-n", "-r", kdcRealm)
	cmd.Env = k.env
	startPeer(t, cmd, syscall.SIGTERM)
	waitFor(t, "krb5kdc", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return k
}

func (k *mitKDC) path(name string) string { return filepath.Join(k.dir, name) }

// run runs an MIT tool in the realm's environment, with extra env.
func (k *mitKDC) run(t *testing.T, tool string, args ...string) string {
	t.Helper()
	return k.runEnv(t, nil, tool, args...)
}

func (k *mitKDC) runEnv(t *testing.T, env []string, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(k.bins[tool], args...)
	cmd.Env = append(append([]string(nil), k.env...), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return string(out)
}

// kinit gets alice a TGT in a new ticket cache and returns its path.
func (k *mitKDC) kinit(t *testing.T, name string, args ...string) string {
	t.Helper()
	cc := k.path(name)
	k.runEnv(t, []string{"KRB5CCNAME=FILE:" + cc}, "kinit", append(args, "-k", "-t", k.path("alice.keytab"), "alice")...)
	return cc
}

// inMemory is the store of a fedgate alone (a store: value).
const inMemory = "{ memory: true }"

// startWindowsFedgate runs fedgate with a kerberos upstream for the realm
// (offered on the intranet network, a CIDR), a local upstream to fall back
// to, and a proxy app on app.fedgate.test, on store. It returns the port
// and the config dir.
func startWindowsFedgate(t *testing.T, k *mitKDC, skew, intranet, store string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	users, _ := os.ReadFile("../../examples/quickstart/users.yaml")
	writeFile(t, dir, "users.yaml", string(users))
	writeFile(t, dir, "policy.yaml", "networks:\n  intranet: ["+intranet+"]\n")
	writeFile(t, dir, "app.yaml", `policy: windows-or-staff
rules:
  - name: signed in with Windows
    when: { upstreams: [corp-windows] }
    allow: {}
  - name: staff
    when: { groups: [staff] }
    allow: {}
`)
	writeFile(t, dir, "fedgate.yaml", fmt.Sprintf(`server:
  public_url: http://sso.fedgate.test:%[1]d
  listen: 127.0.0.1:%[1]d
  insecure_http: true
  trusted_proxies: [127.0.0.1/32]
data_dir: data
store: %[4]s
audit: { file: audit.jsonl }
upstreams:
  - id: corp-windows
    type: kerberos
    name: Windows sign-in
    keytab: %[2]s
    service_principal: HTTP/sso.fedgate.test@FEDGATE.TEST
    username_domain: fedgate.test
    domains: [fedgate.test]
    clock_skew: %[3]s
    networks: [intranet]
  - { id: local, type: local, users_file: users.yaml }
apps:
  - id: wiki
    type: proxy
    host: app.fedgate.test:%[1]d
    to: [builtin:echo]
    headers: { X-Remote-User: username }
    policy: windows-or-staff
policies: [policy.yaml, app.yaml]
`, port, k.path("http.keytab"), skew, store))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &lockedBuffer{}
	go func() { done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), logs, nil) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("fedgate logs:\n%s", logs)
		}
	})
	waitFor(t, "fedgate", func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return port, dir
}

// fedgateTestBrowser resolves *.fedgate.test to fedgate on loopback and
// keeps cookies; it records every WWW-Authenticate it is sent.
func fedgateTestBrowser(port int, challenges *[]string) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{TLSClientConfig: &tls.Config{}, DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port))
	}}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: htmlAccepting{tr},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if challenges != nil {
				*challenges = append(*challenges, req.Response.Header.Values("WWW-Authenticate")...)
			}
			return nil
		}}
}

// htmlAccepting asks for pages, as a browser does (fedgate answers other
// clients with JSON and a Bearer challenge).
type htmlAccepting struct{ http.RoundTripper }

func (h htmlAccepting) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "text/html")
	return h.RoundTripper.RoundTrip(r)
}

// presentToken opens the app, answers fedgate's Negotiate challenge with
// token, and returns where the browser ended: status and body.
func presentToken(t *testing.T, port int, token string) (int, string) {
	t.Helper()
	c := fedgateTestBrowser(port, nil)
	r, err := c.Get(fmt.Sprintf("http://app.fedgate.test:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != "Negotiate" {
		t.Fatalf("want a Negotiate challenge, got %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", r.Request.URL.String(), nil)
	req.Header.Set("Authorization", "Negotiate "+token)
	r, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(body)
}

func auditReasons(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// negotiateHeader is the token curl sent where fedgate took it: at the
// in-flight login (curl also sends one, unused, on other requests).
var negotiateHeader = regexp.MustCompile(`> GET /login\?l=[^\n]*\n(?:> [^\n]*\n)*?> Authorization: Negotiate (\S+)`)

// TestKerberosMITKDC: Windows integrated sign-in against a real MIT KDC.
// kinit + curl --negotiate reaches a proxied app as the user; tokens that
// cannot be accepted fall back to the password form with an audit reason.
func TestKerberosMITKDC(t *testing.T) {
	k := startKDC(t)
	port, dir := startWindowsFedgate(t, k, "5m", "127.0.0.0/8", inMemory)
	cc := k.kinit(t, "alice.cc")
	app := fmt.Sprintf("http://app.fedgate.test:%d/hello", port)

	out := k.runEnv(t, []string{"KRB5CCNAME=FILE:" + cc}, "curl", "-sS", "-v", "-L", "-H", "Accept: text/html", "--location-trusted", "--negotiate", "-u", ":",
		"-c", k.path("jar"), "-b", k.path("jar"), "--max-time", "20",
		"--resolve", fmt.Sprintf("sso.fedgate.test:%d:127.0.0.1", port), "--resolve", fmt.Sprintf("app.fedgate.test:%d:127.0.0.1", port), app)
	if !strings.Contains(out, `data-header="X-Remote-User">alice@fedgate.test<`) {
		t.Fatalf("curl --negotiate did not reach the app as alice:\n%s", out)
	}
	if strings.Contains(out, "< HTTP/1.1 500") {
		t.Errorf("a 500 on the way:\n%s", out)
	}
	// curl asks for mutual authentication: the sign-in answers with the AP-REP.
	if !regexp.MustCompile(`(?i)< Www-Authenticate: Negotiate oY\S+`).MatchString(out) {
		t.Errorf("no mutual authentication token to curl:\n%s", out)
	}
	m := negotiateHeader.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("curl sent no Negotiate token:\n%s", out)
	}

	t.Run("a replayed authenticator", func(t *testing.T) {
		code, body := presentToken(t, port, m[1])
		if code != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("replay: %d\n%s", code, body)
		}
	})
	t.Run("an NTLM token", func(t *testing.T) {
		code, body := presentToken(t, port, "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
		if code != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("NTLM: %d\n%s", code, body)
		}
	})
	t.Run("a ticket for another service principal", func(t *testing.T) {
		code, body := presentToken(t, port, gssToken(t, k, cc, "HTTP/other.fedgate.test", 0))
		if code != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("other SPN: %d\n%s", code, body)
		}
	})
	t.Run("a client outside the intranet is never challenged", func(t *testing.T) {
		var seen []string
		c := fedgateTestBrowser(port, &seen)
		req, _ := http.NewRequest("GET", app, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		seen = append(seen, r.Header.Values("WWW-Authenticate")...)
		if r.StatusCode != http.StatusOK || !strings.Contains(string(body), `name="password"`) || len(seen) != 0 {
			t.Fatalf("outside: %d, WWW-Authenticate %q\n%s", r.StatusCode, seen, body)
		}
	})
	t.Run("a rotated keytab is read again on reload", func(t *testing.T) {
		// The SPN gets a new random key (kvno 3), in a keytab fedgate does
		// not read yet: a ticket with it is declined for its key version.
		k.run(t, "kadmin.local", "-r", kdcRealm, "-q", "ktadd -k "+k.path("new.keytab")+" HTTP/sso.fedgate.test")
		fresh := k.kinit(t, "fresh.cc") // no cached service ticket of kvno 2
		if code, body := presentToken(t, port, gssToken(t, k, fresh, "HTTP/sso.fedgate.test", 0)); code != http.StatusOK || !strings.Contains(body, `name="password"`) {
			t.Fatalf("kvno 3 before the rotation: %d\n%s", code, body)
		}
		b, err := os.ReadFile(k.path("new.keytab"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, k.dir, "http.keytab", string(b))
		waitFor(t, "fedgate to take the new key", func() bool {
			_, body := presentToken(t, port, gssToken(t, k, fresh, "HTTP/sso.fedgate.test", 0))
			return strings.Contains(body, `data-header="X-Remote-User">alice@fedgate.test<`)
		})
	})
	audit := auditReasons(t, dir)
	for _, want := range []string{`"reason":"negotiate-replay"`, `"reason":"negotiate-ntlm"`, `"reason":"negotiate-wrong-spn"`, `"reason":"negotiate-kvno"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %s:\n%s", want, audit)
		}
	}
	if !regexp.MustCompile(`"outcome":"success".*"user":"alice@fedgate.test".*"upstream":"corp-windows"`).MatchString(audit) {
		t.Errorf("audit lacks alice's Windows sign-in:\n%s", audit)
	}
}

// TestKerberosMITKDCExpired: a ticket that expired falls back, audited.
// Its own fedgate allows 1s of clock skew, so the test waits seconds, not
// minutes.
func TestKerberosMITKDCExpired(t *testing.T) {
	k := startKDC(t)
	port, dir := startWindowsFedgate(t, k, "1s", "127.0.0.0/8", inMemory)
	cc := k.kinit(t, "short.cc", "-l", "2s")
	token := gssToken(t, k, cc, "HTTP/sso.fedgate.test", 4*time.Second)
	code, body := presentToken(t, port, token)
	if code != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Fatalf("expired: %d\n%s", code, body)
	}
	if audit := auditReasons(t, dir); !strings.Contains(audit, `"reason":"negotiate-expired"`) {
		t.Errorf("audit lacks negotiate-expired:\n%s", audit)
	}
}

// gssToken asks the KDC, with the TGT in ccache cc, for a service ticket to
// spn and, after wait, makes the SPNEGO token a browser would send (gokrb5
// as the client, for tickets curl would not send).
func gssToken(t *testing.T, k *mitKDC, cc, spn string, wait time.Duration) string {
	t.Helper()
	cfg, err := krbconfig.Load(k.path("krb5.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ccache, err := credentials.LoadCCache(cc)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewFromCCache(ccache, cfg, client.DisablePAFXFAST(true))
	if err != nil {
		t.Fatal(err)
	}
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	init, err := spnego.NewNegTokenInitKRB5(cl, tkt, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := (&spnego.SPNEGOToken{Init: true, NegTokenInit: init}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// TestCheckKerberos: fedgate check lists the keytab's principals, key
// versions and encryption types, and fails when the SPN is not there.
func TestCheckKerberos(t *testing.T) {
	dir := t.TempDir()
	kt := keytab.New()
	for _, e := range []struct {
		p     string
		etype int32
	}{{"HTTP/sso.corp.example", etypeID.AES256_CTS_HMAC_SHA1_96}, {"HTTP/sso.corp.example", etypeID.RC4_HMAC}, {"host/web1.corp.example", etypeID.AES128_CTS_HMAC_SHA1_96}} {
		if err := kt.AddEntry(e.p, "CORP.EXAMPLE", "pw", time.Now(), 3, e.etype); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := kt.Marshal()
	writeFile(t, dir, "http.keytab", string(b))
	writeFile(t, dir, "networks.yaml", "networks:\n  intranet: [10.0.0.0/8]\n")
	conf := func(spn string) string {
		return `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: corp-windows, type: kerberos, keytab: http.keytab, service_principal: "` + spn + `", networks: [intranet] }
policies: [networks.yaml]
`
	}
	writeFile(t, dir, "fedgate.yaml", conf("HTTP/sso.corp.example@CORP.EXAMPLE"))
	code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	for _, want := range []string{
		`upstream "corp-windows":`,
		"HTTP/sso.corp.example@CORP.EXAMPLE kvno 3: aes256-cts-hmac-sha1-96, arcfour-hmac (RC4, weak) (the service principal)",
		"host/web1.corp.example@CORP.EXAMPLE kvno 3: aes128-cts-hmac-sha1-96",
	} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("exit %d, want %q in:\n%s%s", code, want, stdout, stderr)
		}
	}
	writeFile(t, dir, "fedgate.yaml", conf("HTTP/sso.corp.example.co.jp@CORP.EXAMPLE"))
	code, _, stderr = runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if want := "has no key for HTTP/sso.corp.example.co.jp@CORP.EXAMPLE; it holds [HTTP/sso.corp.example@CORP.EXAMPLE, host/web1.corp.example@CORP.EXAMPLE]"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, want %q in:\n%s", code, want, stderr)
	}
}

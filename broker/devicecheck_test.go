package broker

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/device"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

// TestDeviceCheckForProxyApp: a proxied app whose policy names device:
// sends the browser once to the certificate host (here behind a trusted
// TLS terminator that forwards the certificate), and the app host's session
// carries the device kinds found; without a certificate the policy denies.
func TestDeviceCheckForProxyApp(t *testing.T) {
	dir := t.TempDir()
	now := storetest.NewClock().Now() // the test server's clock
	ca, err := device.NewCA("Corp Devices", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	certPEM, _, err := ca.Issue(device.Subject{CN: "PC-1"}, now.Add(-time.Minute), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "device.yaml"), []byte("policy: device\nrules:\n  - name: company pcs\n    when: { device: corp-pcs }\n    allow: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  cert_host: certauth.example\n"+
		"  client_cert_header: X-SSL-Client-Cert\n  trusted_proxies: [127.0.0.1/32]\n", 1)
	cfg = strings.Replace(cfg, "policies: [policies/*.yaml]", fmt.Sprintf("policies: [policies/*.yaml, %s]\ndevices: [{ name: corp-pcs, ca_files: [%s] }]",
		filepath.Join(dir, "device.yaml"), filepath.Join(dir, "ca", "ca.pem")), 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") }))
	t.Cleanup(be.Close)
	cfg = strings.Replace(cfg, "apps:\n", "apps:\n  - { id: wiki, type: proxy, host: app.example, to: ['"+be.URL+"'], policy: device }\n", 1)
	e := newEnvWith(t, cfg, nil)

	visit := func(cert string) resp {
		c := hostClient()
		_, at := e.follow(c, "app.example", "/page", 5)
		target := strings.TrimPrefix(at, "127.0.0.1:8080")
		form := e.onHost(c, "127.0.0.1:8080", target)
		req, _ := http.NewRequest("POST", e.http.URL+target, strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)},
			"upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()))
		req.Host = "127.0.0.1:8080"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := e.do(c, req)
		ask, _ := url.Parse(r.location)
		if r.code != http.StatusSeeOther || ask.Host != "certauth.example:8080" || ask.Path != devicePath {
			t.Fatalf("after sign-in: %d %q, want the certificate host", r.code, r.location)
		}
		r = e.onHost(c, ask.Host, ask.RequestURI(), "X-SSL-Client-Cert", url.PathEscape(cert))
		done, _ := url.Parse(r.location)
		if r.code != http.StatusSeeOther || done.Path != deviceDonePath {
			t.Fatalf("certificate host: %d %q", r.code, r.location)
		}
		last, _ := e.follow(c, done.Host, done.RequestURI(), 6)
		return last
	}
	if r := visit(string(certPEM)); r.code != http.StatusOK || r.body != "the page" {
		t.Fatalf("with the device certificate: %d\n%s", r.code, e.audit)
	}
	if r := visit(""); r.code != http.StatusForbidden {
		t.Fatalf("without a certificate: %d\n%s", r.code, r.body)
	}
	if !strings.Contains(e.audit.String(), `"event":"device","outcome":"success","user":"alice","reason":"corp-pcs"`) {
		t.Fatalf("no device success event:\n%s", e.audit)
	}
}

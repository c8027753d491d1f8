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

// TestDeviceTripNotRelayed: browser A (no certificate) signs in; its
// certificate-host URL is opened on machine B (a company PC with the
// certificate, elsewhere on the network) to carry B's result back into A.
// The certificate host answers only the address that asked.
func TestDeviceTripNotRelayed(t *testing.T) {
	dir := t.TempDir()
	now := storetest.NewClock().Now()
	ca, _ := device.NewCA("Corp Devices", now, time.Hour)
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	certPEM, _, _ := ca.Issue(device.Subject{CN: "PC-1"}, now.Add(-time.Minute), now.Add(time.Hour))
	os.WriteFile(filepath.Join(dir, "device.yaml"), []byte("policy: device\nrules:\n  - name: company pcs\n    when: { device: corp-pcs }\n    allow: {}\n"), 0o600)
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  cert_host: certauth.example\n"+
		"  client_cert_header: X-SSL-Client-Cert\n  trusted_proxies: [127.0.0.1/32]\n", 1)
	cfg = strings.Replace(cfg, "policies: [policies/*.yaml]", fmt.Sprintf("policies: [policies/*.yaml, %s]\ndevices: [{ name: corp-pcs, ca_files: [%s] }]",
		filepath.Join(dir, "device.yaml"), filepath.Join(dir, "ca", "ca.pem")), 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") }))
	t.Cleanup(be.Close)
	cfg = strings.Replace(cfg, "apps:\n", "apps:\n  - { id: wiki, type: proxy, host: app.example, to: ['"+be.URL+"'], policy: device }\n", 1)
	e := newEnvWith(t, cfg, nil)

	a := hostClient()
	_, at := e.follow(a, "app.example", "/page", 5)
	target := strings.TrimPrefix(at, "127.0.0.1:8080")
	form := e.onHost(a, "127.0.0.1:8080", target)
	req, _ := http.NewRequest("POST", e.http.URL+target, strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)},
		"upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.do(a, req)
	ask, _ := url.Parse(r.location)
	b := hostClient() // the company PC: another browser
	r = e.onHost(b, ask.Host, ask.RequestURI(), "X-SSL-Client-Cert", url.PathEscape(string(certPEM)), "X-Forwarded-For", "198.51.100.7")
	if r.code != http.StatusBadRequest {
		t.Fatalf("the certificate host answered another machine: %d %q", r.code, r.location)
	}
	if ev := e.audit.events(t); ev[len(ev)-1].Event != "device" || ev[len(ev)-1].Reason != "other-client" {
		t.Fatalf("audit = %+v", ev[len(ev)-1])
	}
	// From A itself, with the certificate, the trip works.
	r = e.onHost(a, ask.Host, ask.RequestURI(), "X-SSL-Client-Cert", url.PathEscape(string(certPEM)))
	done, _ := url.Parse(r.location)
	if last, _ := e.follow(a, done.Host, done.RequestURI(), 6); last.code != http.StatusOK || last.body != "the page" {
		t.Fatalf("the same browser with the certificate: %d %q", last.code, last.body)
	}
}

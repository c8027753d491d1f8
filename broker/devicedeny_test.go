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

// TestDeviceDenyBeforeAllowIsChecked: a rule that denies a device kind
// comes before a broader allow. The session is sent to the certificate
// host although the policy would allow without the device: an allow made
// without knowing the device proves nothing.
func TestDeviceDenyBeforeAllowIsChecked(t *testing.T) {
	dir := t.TempDir()
	now := storetest.NewClock().Now()
	ca, err := device.NewCA("Kiosks", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	pol := "policy: device\nrules:\n  - name: kiosks refused\n    when: { device: kiosk }\n    deny: {}\n  - name: staff\n    when: { groups: [staff] }\n    allow: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "device.yaml"), []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  cert_host: certauth.example\n"+
		"  client_cert_header: X-SSL-Client-Cert\n  trusted_proxies: [127.0.0.1/32]\n", 1)
	cfg = strings.Replace(cfg, "policies: [policies/*.yaml]", fmt.Sprintf("policies: [policies/*.yaml, %s]\ndevices: [{ name: kiosk, ca_files: [%s] }]",
		filepath.Join(dir, "device.yaml"), filepath.Join(dir, "ca", "ca.pem")), 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") }))
	t.Cleanup(be.Close)
	cfg = strings.Replace(cfg, "apps:\n", "apps:\n  - { id: wiki, type: proxy, host: app.example, to: ['"+be.URL+"'], policy: device }\n", 1)
	e := newEnvWith(t, cfg, nil)

	c := hostClient()
	_, at := e.follow(c, "app.example", "/page", 5)
	target := strings.TrimPrefix(at, "127.0.0.1:8080")
	form := e.onHost(c, "127.0.0.1:8080", target)
	req, _ := http.NewRequest("POST", e.http.URL+target, strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)},
		"upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := e.do(c, req)
	if next, _ := url.Parse(r.location); r.code != http.StatusSeeOther || next.Host != "certauth.example:8080" {
		t.Fatalf("after sign-in: %d %q, want the certificate host (the kiosk rule can only be decided there)", r.code, r.location)
	}
}

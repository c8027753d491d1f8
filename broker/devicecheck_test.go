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

// deviceEnv is a broker whose proxied app "wiki" (app.example) uses the
// policy rules given, with one device kind (kind, from a fresh CA) checked
// at certauth.example behind a trusted TLS terminator; certPEM is a device
// certificate from that CA.
func deviceEnv(t *testing.T, kind, rules string) (e *testEnv, certPEM []byte) {
	t.Helper()
	dir := t.TempDir()
	now := storetest.NewClock().Now() // the test server's clock
	ca, err := device.NewCA("Corp Devices", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "ca")); err != nil {
		t.Fatal(err)
	}
	if certPEM, _, err = ca.Issue(device.Subject{CN: "PC-1"}, now.Add(-time.Minute), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "device.yaml"), []byte("policy: device\nrules:\n"+rules), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  cert_host: certauth.example\n"+
		"  client_cert_header: X-SSL-Client-Cert\n  trusted_proxies: [127.0.0.1/32]\n", 1)
	cfg = strings.Replace(cfg, "policies: [policies/*.yaml]", fmt.Sprintf("policies: [policies/*.yaml, %s]\ndevices: [{ name: %s, ca_files: [%s] }]",
		filepath.Join(dir, "device.yaml"), kind, filepath.Join(dir, "ca", "ca.pem")), 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the page") }))
	t.Cleanup(be.Close)
	cfg = strings.Replace(cfg, "apps:\n", "apps:\n  - { id: wiki, type: proxy, host: app.example, to: ['"+be.URL+"'], policy: device }\n", 1)
	return newEnvWith(t, cfg, nil), certPEM
}

// signInAtApp starts at the app host in a new browser, signs alice in and
// returns that browser and where the sign-in sent it.
func (e *testEnv) signInAtApp(t *testing.T) (*http.Client, resp) {
	t.Helper()
	c := hostClient()
	_, at := e.follow(c, "app.example", "/page", 5)
	target := strings.TrimPrefix(at, "127.0.0.1:8080")
	form := e.onHost(c, "127.0.0.1:8080", target)
	req, _ := http.NewRequest("POST", e.http.URL+target, strings.NewReader(url.Values{"csrf": {csrfOf(t, form.body)},
		"upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}}.Encode()))
	req.Host = "127.0.0.1:8080"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c, e.do(c, req)
}

// TestDeviceCheckForProxyApp: a proxied app whose policy names device:
// sends the browser once to the certificate host (here behind a trusted
// TLS terminator that forwards the certificate), and the app host's session
// carries the device kinds found; without a certificate the policy denies.
func TestDeviceCheckForProxyApp(t *testing.T) {
	e, certPEM := deviceEnv(t, "corp-pcs", "  - name: company pcs\n    when: { device: corp-pcs }\n    allow: {}\n")
	visit := func(cert string) resp {
		c, r := e.signInAtApp(t)
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

// TestDeviceDenyBeforeAllowIsChecked: a rule that denies a device kind
// comes before a broader allow. The session is sent to the certificate
// host although the policy would allow without the device: an allow made
// without knowing the device proves nothing.
func TestDeviceDenyBeforeAllowIsChecked(t *testing.T) {
	e, _ := deviceEnv(t, "kiosk", "  - name: kiosks refused\n    when: { device: kiosk }\n    deny: {}\n  - name: staff\n    when: { groups: [staff] }\n    allow: {}\n")
	if _, r := e.signInAtApp(t); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "http://certauth.example:8080/") {
		t.Fatalf("after sign-in: %d %q, want the certificate host (the kiosk rule can only be decided there)", r.code, r.location)
	}
}

// TestDeviceTripNotRelayed: browser A (no certificate) signs in; its
// certificate-host URL is opened on machine B (a company PC with the
// certificate, elsewhere on the network) to carry B's result back into A.
// The certificate host answers only the address that asked.
func TestDeviceTripNotRelayed(t *testing.T) {
	e, certPEM := deviceEnv(t, "corp-pcs", "  - name: company pcs\n    when: { device: corp-pcs }\n    allow: {}\n")
	a, r := e.signInAtApp(t)
	ask, _ := url.Parse(r.location)
	b := hostClient() // the company PC: another browser, another address
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

package broker

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/local"
)

// TestFactorOfAnotherUpstreamsUser: alice of "local" enrols TOTP; alice
// of "other", another person with the same name, reaches a step-up. The
// first alice's factor is neither offered nor accepted: the second is
// asked to enrol her own, with an audit event saying so.
func TestFactorOfAnotherUpstreamsUser(t *testing.T) {
	cfg := strings.Replace(mfaTestConfig, "  - { id: partner, type: local, name: Partner users, domains: [partner.example] }\n",
		"  - { id: partner, type: local, name: Partner users, domains: [partner.example] }\n  - { id: other, type: local, name: Other users, domains: [other.example] }\n", 1)
	cfg = strings.Replace(cfg, "  - { id: mfa, type: whoami, policy: needs-mfa, upstreams: [local] }\n",
		"  - { id: mfa, type: whoami, policy: needs-mfa, upstreams: [local] }\n  - { id: mfa-other, type: whoami, policy: needs-mfa, upstreams: [other] }\n", 1)
	var now func() time.Time // the env's clock, once there is an env
	other, err := local.Open(local.Config{ID: "other", Users: []local.User{{Username: "alice", PasswordHash: hashOf(t, "other-alice-pw")}}},
		func() time.Time { return now() })
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, cfg, []protocols.Upstream{other})
	now = e.clock.Now
	secret, _, _ := enrolTOTP(t, e)

	c := e.newClient()
	formURL, csrf := e.beginLogin(c, "/apps/mfa-other/")
	r := e.post(c, formURL, url.Values{"csrf": {csrf}, "upstream": {"other"}, "username": {"alice"}, "password": {"other-alice-pw"}})
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/mfa/enrol?l=") {
		t.Fatalf("other's alice at a step-up: %d %q, want the enrolment (no factor of hers exists)\n%s\n%s", r.code, r.location, r.body, e.audit)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Event != "access" || last.Outcome != "step-up" || last.Upstream != "other" || last.User != "alice@other" {
		t.Fatalf("audit = %+v, want other's alice sent to a step-up", last)
	}
	page := e.followLocal(c, r)
	if page.code != http.StatusOK || !strings.Contains(page.body, `id="totp-secret"`) || strings.Contains(page.body, "/mfa/otp") {
		t.Fatalf("enrolment page = %d, want a new authenticator and no way to the other alice's\n%s", page.code, page.body)
	}
	// The first alice's factor page, asked for this login, is refused, and
	// her code posted there (with this login's CSRF token) admits nobody.
	login := strings.TrimPrefix(r.location, "/mfa/enrol?l=")
	if otpPage := e.get(c, "/mfa/otp?l="+login); otpPage.code != http.StatusForbidden || strings.Contains(otpPage.body, `name="code"`) {
		t.Fatalf("the other alice's factor page = %d\n%s", otpPage.code, otpPage.body)
	}
	code, _ := totp.GenerateCode(secret, e.clock.Now().Add(totpPeriod))
	if got := e.post(c, "/mfa/otp?l="+login, url.Values{"csrf": {csrfOf(t, page.body)}, "code": {code}}); got.code == http.StatusSeeOther || got.code == http.StatusOK {
		t.Fatalf("the other alice's code admitted: %d %q", got.code, got.location)
	}
	if app := e.get(c, "/apps/mfa-other/"); app.code == http.StatusOK {
		t.Fatal("other's alice reached the app without a factor of her own")
	}
}

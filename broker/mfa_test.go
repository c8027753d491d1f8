package broker

import (
	"bytes"
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/protocols"
)

// fedgate's own second factor: enrolment, step-up, and every way a code is
// refused (each with a page and an audit event).

const mfaTestConfig = testConfig + "mfa: { enrol: { allow: true }, contact: { en: \"Call IT on 1234.\" } }\n"

var (
	secretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7 ]+)<`)
	codesRE  = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

// follow GETs through redirects within fedgate and returns the last answer.
func (e *testEnv) followLocal(c *http.Client, r resp) resp {
	e.t.Helper()
	for i := 0; r.code == http.StatusSeeOther && strings.HasPrefix(r.location, "/") && i < 10; i++ {
		r = e.get(c, r.location)
	}
	return r
}

func formAction(t *testing.T, body string) string {
	t.Helper()
	m := actionRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form in page:\n%s", body)
	}
	return html.UnescapeString(m[1])
}

// enrolTOTP signs alice in to the MFA app, enrols an authenticator and
// returns its secret, the recovery codes and the code it was confirmed with.
func enrolTOTP(t *testing.T, e *testEnv) (secret string, codes []string, used string) {
	t.Helper()
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/mfa/enrol?l=") {
		t.Fatalf("sign-in = %d %q, want the enrolment", r.code, r.location)
	}
	page := e.followLocal(e.client, r)
	m := secretRE.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil || !strings.Contains(page.body, `src="data:image/png;base64,`) {
		t.Fatalf("enrolment page = %d\n%s", page.code, page.body)
	}
	secret = strings.ReplaceAll(m[1], " ", "")
	used, _ = totp.GenerateCode(secret, e.clock.Now())
	form := url.Values{"csrf": {csrfOf(t, page.body)}, "code": {used}}
	form.Set("secret", regexp.MustCompile(`name="secret" value="([^"]+)"`).FindStringSubmatch(page.body)[1])
	done := e.post(e.client, formAction(t, page.body), form)
	for _, c := range codesRE.FindAllStringSubmatch(done.body, -1) {
		codes = append(codes, c[1])
	}
	if done.code != http.StatusOK || len(codes) != recoveryCount {
		t.Fatalf("confirm = %d, %d recovery codes\n%s", done.code, len(codes), done.body)
	}
	app := e.followLocal(e.client, e.get(e.client, regexp.MustCompile(`href="(/mfa/continue[^"]+)"`).FindStringSubmatch(done.body)[1]))
	if app.code != http.StatusOK || !strings.Contains(app.body, "one-time code") || !strings.Contains(app.body, "multi-factor") {
		t.Fatalf("app after enrolment = %d\n%s", app.code, app.body)
	}
	return secret, codes, used
}

// stepUp signs alice in again in a new browser and returns the factor page
// the step-up lands on.
func mfaStepUp(t *testing.T, e *testEnv) (*http.Client, resp) {
	t.Helper()
	c := e.newClient()
	r := e.signInTo(c, "/apps/mfa/", "alice", "alice-pw")
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/mfa?l=") {
		t.Fatalf("sign-in = %d %q, want the step-up", r.code, r.location)
	}
	return c, e.followLocal(c, r)
}

func (e *testEnv) lastMFA(t *testing.T) AuditEvent {
	t.Helper()
	evs := e.audit.events(t)
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Event == "mfa" {
			return evs[i]
		}
	}
	t.Fatalf("no mfa audit event:\n%s", e.audit)
	return AuditEvent{}
}

func TestTOTPStepUpAndRefusals(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	secret, _, used := enrolTOTP(t, e)
	if ev := e.lastMFA(t); ev.Outcome != "success" || ev.Rule != "otp" || ev.User != "alice" {
		t.Fatalf("enrolment audit = %+v", ev)
	}
	c, page := mfaStepUp(t, e)
	if !strings.Contains(page.body, "Recovery code") {
		// Two factors: the chooser.
		t.Fatalf("step-up page, want a chooser:\n%s", page.body)
	}
	page = e.get(c, regexp.MustCompile(`href="(/mfa/otp[^"]+)"`).FindStringSubmatch(page.body)[1])
	action := formAction(t, page.body)
	csrf := csrfOf(t, page.body)
	old, _ := totp.GenerateCode(secret, e.clock.Now().Add(-5*totpPeriod))
	for _, tc := range []struct{ name, code, reason, msg string }{
		{"wrong", "000000", "mfa-wrong", "That code is not valid."},
		{"expired", old, "mfa-expired", "That code is not valid."},
		{"replayed", used, "mfa-replayed", "This code was already used."},
		{"not digits", "12ab56", "mfa-wrong", "That code is not valid."},
	} {
		r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {tc.code}})
		if r.code != http.StatusUnauthorized || !strings.Contains(r.body, tc.msg) || !strings.Contains(r.body, `role="alert"`) {
			t.Fatalf("%s code = %d\n%s", tc.name, r.code, r.body)
		}
		if ev := e.lastMFA(t); ev.Outcome != "failure" || ev.Reason != tc.reason || ev.CorrelationID == "" {
			t.Fatalf("%s code audit = %+v", tc.name, ev)
		}
	}
	// A code of the next step (the app's clock a little ahead) is good once.
	next, _ := totp.GenerateCode(secret, e.clock.Now().Add(totpPeriod))
	r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {next}})
	if r.code != http.StatusSeeOther || r.location != "/apps/mfa/" {
		t.Fatalf("good code = %d %q\n%s", r.code, r.location, r.body)
	}
	if app := e.get(c, "/apps/mfa/"); app.code != http.StatusOK {
		t.Fatalf("app after step-up = %d", app.code)
	}
	// Without the CSRF token of this session and login: refused.
	c2, page2 := mfaStepUp(t, e)
	page2 = e.get(c2, regexp.MustCompile(`href="(/mfa/otp[^"]+)"`).FindStringSubmatch(page2.body)[1])
	if r := e.post(c2, formAction(t, page2.body), url.Values{"csrf": {csrf}, "code": {next}}); r.code != http.StatusForbidden {
		t.Fatalf("foreign csrf = %d", r.code)
	}
	if r := e.post(c2, formAction(t, page2.body), url.Values{"csrf": {csrfOf(t, page2.body)}, "code": {next}}); r.code != http.StatusUnauthorized {
		t.Fatalf("replayed in another browser = %d", r.code)
	}
}

func TestTOTPGuessingThrottled(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	secret, _, _ := enrolTOTP(t, e)
	c, page := mfaStepUp(t, e)
	page = e.get(c, regexp.MustCompile(`href="(/mfa/otp[^"]+)"`).FindStringSubmatch(page.body)[1])
	action, csrf := formAction(t, page.body), csrfOf(t, page.body)
	max := e.srv.Current().Config.Throttle.MaxFailures
	for i := range max {
		if r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {"11111" + string(rune('0'+i))}}); r.code != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d", i, r.code)
		}
	}
	good, _ := totp.GenerateCode(secret, e.clock.Now().Add(totpPeriod))
	r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {good}})
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed attempts") {
		t.Fatalf("after %d guesses, even a good code = %d\n%s", max, r.code, r.body)
	}
	if ev := e.lastMFA(t); ev.Reason != "throttled" {
		t.Fatalf("audit = %+v", ev)
	}
}

func TestRecoveryCodeOnce(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	_, codes, _ := enrolTOTP(t, e)
	v := vault{st: e.srv.Store, keys: e.srv.Current().vaultKeys}
	alice := factorUser{Upstream: "local", Subject: "alice"}
	var all recoveryRecord
	if err := v.get(context.Background(), "recovery", alice, &all); err != nil {
		t.Fatal(err)
	}
	c, page := mfaStepUp(t, e)
	page = e.get(c, regexp.MustCompile(`href="(/mfa/recovery[^"]+)"`).FindStringSubmatch(page.body)[1])
	action, csrf := formAction(t, page.body), csrfOf(t, page.body)
	if r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {strings.ToUpper(codes[3])}}); r.code != http.StatusSeeOther {
		t.Fatalf("recovery code = %d\n%s", r.code, r.body)
	}
	c2, page2 := mfaStepUp(t, e)
	page2 = e.get(c2, regexp.MustCompile(`href="(/mfa/recovery[^"]+)"`).FindStringSubmatch(page2.body)[1])
	r := e.post(c2, formAction(t, page2.body), url.Values{"csrf": {csrfOf(t, page2.body)}, "code": {codes[3]}})
	if r.code != http.StatusUnauthorized {
		t.Fatalf("the same recovery code again = %d", r.code)
	}
	if ev := e.lastMFA(t); ev.Reason != "mfa-wrong" || ev.Rule != "recovery" {
		t.Fatalf("audit = %+v", ev)
	}
	// A concurrent use of another code wrote back the list with this one
	// still in it (a read-modify-write): its marker still refuses it, days
	// later.
	if err := v.put(context.Background(), "recovery", alice, all); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(72 * time.Hour)
	c3, page3 := mfaStepUp(t, e)
	page3 = e.get(c3, regexp.MustCompile(`href="(/mfa/recovery[^"]+)"`).FindStringSubmatch(page3.body)[1])
	if r := e.post(c3, formAction(t, page3.body), url.Values{"csrf": {csrfOf(t, page3.body)}, "code": {codes[3]}}); r.code != http.StatusUnauthorized {
		t.Fatalf("a spent code written back by a lost update = %d, want refused", r.code)
	}
	if ev := e.lastMFA(t); ev.Reason != "mfa-replayed" {
		t.Fatalf("audit = %+v", ev)
	}
}

func TestEnrolNeedsFreshSignIn(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	enrol := e.get(e.client, r.location) // -> /mfa/enrol/otp
	e.clock.Advance(11 * time.Minute)
	page := e.get(e.client, enrol.location)
	if page.code != http.StatusForbidden || !strings.Contains(page.body, "sign in again") || !strings.Contains(page.body, "Call IT on 1234.") {
		t.Fatalf("stale enrolment = %d\n%s", page.code, page.body)
	}
	if ev := e.lastMFA(t); ev.Outcome != "deny" || ev.Reason != "mfa-enrol-not-fresh" {
		t.Fatalf("audit = %+v", ev)
	}
	// The app sends a stale session to sign in again, with credentials.
	if r := e.get(e.client, "/apps/mfa/"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?l=") {
		t.Fatalf("app with a stale session = %d %q", r.code, r.location)
	}
}

func TestNoEnrolmentDeniedWithContact(t *testing.T) {
	e := newEnvWith(t, testConfig+"mfa: { enrol: { allow: true, networks: [10.0.0.0/8] }, contact: { en: \"Call IT on 1234.\" } }\n", nil)
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	if r.code != http.StatusForbidden || !strings.Contains(r.body, "Call IT on 1234.") {
		t.Fatalf("outside the enrolment network = %d\n%s", r.code, r.body)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Event != "access" || last.Reason != "mfa-not-enrolled" {
		t.Fatalf("audit = %+v", last)
	}
}

func TestVaultBindsRecordToUser(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	v := vault{st: e.srv.Store, keys: e.srv.Current().vaultKeys}
	ctx := context.Background()
	alice := factorUser{Upstream: "local", Subject: "alice"}
	other := factorUser{Upstream: "partner", Subject: "alice"} // the same name at another upstream
	if err := v.put(ctx, "otp", alice, totpRecord{Secret: "JBSWY3DPEHPK3PXP"}); err != nil {
		t.Fatal(err)
	}
	raw, err := e.srv.Store.Get(ctx, recordKey("otp", alice))
	if err != nil || bytes.Contains(raw, []byte("JBSWY3DPEHPK3PXP")) || bytes.Contains(raw, []byte("alice")) {
		t.Fatalf("stored record shows the secret or the user: %q %v", raw, err)
	}
	if has, _ := v.has(ctx, "otp", other); has {
		t.Fatal("another upstream's user has alice's factor")
	}
	// Copied under the other user's key (or another method's), it does not open.
	_ = e.srv.Store.Put(ctx, recordKey("otp", other), raw, time.Time{})
	var rec totpRecord
	if err := v.get(ctx, "otp", other, &rec); !errors.Is(err, errVaultSeal) {
		t.Fatalf("moved record opened: %v %+v", err, rec)
	}
	if err := v.get(ctx, "otp", factorUser{Upstream: "local", Subject: "bob"}, &rec); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent record: %v", err)
	}
	// Other keys (a stolen state file without the key files) open nothing.
	stranger, _ := newVault(e.srv.Store, e.keys[1:])
	if err := stranger.get(ctx, "otp", alice, &rec); !errors.Is(err, errVaultSeal) {
		t.Fatalf("record opened without fedgate's keys: %v", err)
	}
	if has, err := stranger.has(ctx, "otp", alice); has || !errors.Is(err, errVaultSeal) {
		t.Fatalf("a record under a dropped key: has %v, err %v; want errVaultSeal (neither enrolled nor none)", has, err)
	}
	// Rotation: a new first key seals, the old one still opens.
	rotated, _ := newVault(e.srv.Store, []keys.CookieKey{e.keys[1], e.keys[0]})
	if err := rotated.get(ctx, "otp", alice, &rec); err != nil || rec.Secret != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("after rotation: %v %+v", err, rec)
	}
}

func TestMFAAdminListAndReset(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	enrolTOTP(t, e)
	out := &syncBuffer{}
	admin := e.mfaAdmin(t, out)
	ctx := context.Background()
	fs, err := admin.List(ctx, "local", "ALICE")
	if err != nil || len(fs) != 2 || fs[0].Method != "otp" || fs[1].Method != "recovery" || fs[1].Detail[0] != "10 codes left" {
		t.Fatalf("list = %+v %v", fs, err)
	}
	if _, err := admin.List(ctx, "partner", "alice"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("alice at another upstream: %v", err)
	}
	if _, err := admin.Reset(ctx, "local", "alice", []string{"sms"}, "root"); err == nil {
		t.Fatal("unknown method accepted")
	}
	removed, err := admin.Reset(ctx, "local", "alice", []string{"otp"}, "root")
	if err != nil || len(removed) != 1 || removed[0] != "otp" {
		t.Fatalf("reset = %v %v", removed, err)
	}
	evs := out.events(t)
	if len(evs) != 1 || evs[0].Event != "mfa-reset" || evs[0].User != "alice" || evs[0].Actor != "root" || evs[0].Rule != "otp" {
		t.Fatalf("audit = %+v", evs)
	}
	// Only the recovery codes are left: the step-up goes straight to them.
	_, page := mfaStepUp(t, e)
	if !strings.Contains(page.body, "Enter a recovery code") {
		t.Fatalf("after resetting otp:\n%s", page.body)
	}
	if removed, _ := admin.Reset(ctx, "local", "alice", nil, "root"); len(removed) != 1 || removed[0] != "recovery" {
		t.Fatalf("reset all = %v", removed)
	}
	if fs, _ := admin.List(ctx, "local", "alice"); len(fs) != 0 {
		t.Fatalf("after reset: %+v", fs)
	}
}

func TestMFAPagesJapaneseAndKeyboard(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	enrol := e.get(e.client, r.location)
	req, _ := http.NewRequest("GET", enrol.location, nil)
	req.Header.Set("Accept-Language", "ja,en;q=0.5")
	page := e.do(e.client, req)
	for _, want := range []string{`<html lang="ja">`, "認証アプリの設定", "QR コード", `<label for="code">6 桁のコード</label>`,
		`autocomplete="one-time-code"`, `inputmode="numeric"`, "autofocus", `<button type="submit">確認</button>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("Japanese enrolment page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(page.body)
	}
}

// A proxied app that needs MFA: the factor is asked on fedgate's host, and
// the app host's cookie is minted from the session that has it.
func TestTOTPForProxyApp(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("backend")) }))
	t.Cleanup(be.Close)
	cfg := strings.Replace(mfaTestConfig, "apps:\n", "apps:\n  - { id: wiki, type: proxy, host: app.example, to: [\""+be.URL+"\"], policy: needs-mfa }\n", 1)
	e := newEnvWith(t, cfg, nil)
	c := hostClient()
	_, at := e.follow(c, "app.example", "/page", 5)
	fed := func(method, target string, form url.Values) resp {
		req, _ := http.NewRequest(method, e.http.URL+strings.TrimPrefix(target, "127.0.0.1:8080"), strings.NewReader(form.Encode()))
		req.Host = "127.0.0.1:8080"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return e.do(c, req)
	}
	form := fed("GET", at, nil)
	r := fed("POST", at, url.Values{"csrf": {csrfOf(t, form.body)}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	for r.code == http.StatusSeeOther && strings.HasPrefix(r.location, "/mfa") {
		r = fed("GET", r.location, nil)
	}
	m := secretRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("want the enrolment page, got %d\n%s", r.code, r.body)
	}
	code, _ := totp.GenerateCode(strings.ReplaceAll(m[1], " ", ""), e.clock.Now())
	secret := regexp.MustCompile(`name="secret" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	codes := fed("POST", formAction(t, r.body), url.Values{"csrf": {csrfOf(t, r.body)}, "secret": {html.UnescapeString(secret)}, "code": {code}})
	cont := fed("GET", html.UnescapeString(regexp.MustCompile(`href="(/mfa/continue[^"]+)"`).FindStringSubmatch(codes.body)[1]), nil)
	if cont.code != http.StatusSeeOther || !strings.HasPrefix(cont.location, "http://app.example/.fedgate/callback?t=") {
		t.Fatalf("after the factor: %d %q", cont.code, cont.location)
	}
	cb, _ := url.Parse(cont.location)
	if back := e.onHost(c, "app.example", cb.RequestURI()); back.code != http.StatusSeeOther {
		t.Fatalf("ticket: %d", back.code)
	}
	if page := e.onHost(c, "app.example", "/page"); page.code != http.StatusOK || page.body != "backend" {
		t.Fatalf("app after MFA: %d %q", page.code, page.body)
	}
}

// A refresh learns from the session reference which methods fedgate's own
// factors added, and when: it does not take them for the upstream's.
func TestSessionRefCarriesFactors(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	sl := e.srv.Current().sealer
	now := e.clock.Now().Truncate(time.Second)
	s := &Session{ID: "sess-0123456789abcdefgh", Created: now, Expires: now.Add(time.Hour), MFATime: now,
		Identity: protocols.Identity{Subject: "alice", Upstream: "local", AMR: []string{"pwd", "mfa"}, AuthTime: now},
		Factors:  []string{"otp", "mfa"}}
	id := s.identity()
	id.SessionID, id.Ref = s.ID, sl.makeRef(s, "10.0.0.1")
	ref, ok := sl.openRef(id)
	if !ok || !ref.MFATime.Equal(now) || strings.Join(ref.Factors, ",") != "otp,mfa" || strings.Join(ref.Added, ",") != "otp" {
		t.Fatalf("ref = %+v %v", ref, ok)
	}
	forged := id
	forged.Ref = strings.Replace(id.Ref, "~otp,mfa~", "~hwk,mfa~", 1)
	if _, ok := sl.openRef(forged); ok || forged.Ref == id.Ref {
		t.Fatal("a reference with other factors opened")
	}
	plain := *s
	plain.Factors = nil
	id.Ref = sl.makeRef(&plain, "10.0.0.1")
	if ref, ok := sl.openRef(id); !ok || ref.Factors != nil || strings.Count(id.Ref, "~") != 3 {
		t.Fatalf("a reference without factors: %+v %v %q", ref, ok, id.Ref)
	}
}

func TestEnrolRequiredAtSignIn(t *testing.T) {
	e := newEnvWith(t, testConfig+"mfa: { enrol: { allow: true, required_for: [staff] } }\n", nil)
	r := e.signIn(e.client, "alice", "alice-pw") // the demo app needs no MFA
	if r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/mfa/enrol?l=") {
		t.Fatalf("staff without a factor: %d %q", r.code, r.location)
	}
	evs := e.audit.events(t)
	if last := evs[len(evs)-1]; last.Outcome != "step-up" || last.Reason != "mfa-enrol-required" {
		t.Fatalf("audit = %+v", last)
	}
	// Only at sign-in: the session can use the app meanwhile.
	if page := e.get(e.client, "/apps/demo/"); page.code != http.StatusOK {
		t.Fatalf("app = %d", page.code)
	}
	// eve is not in the group: not asked.
	if r := e.signIn(e.newClient(), "eve", "eve-pw"); r.code != http.StatusForbidden || strings.Contains(r.location, "/mfa") {
		t.Fatalf("eve: %d %q", r.code, r.location)
	}
}

// TestEnrolRequiredOnlyAtSignIn: required_for is a prompt at sign-in, not
// a gate (who must use MFA is policy's): a reload that adds alice's group
// leaves her open session alone, and her next sign-in asks; a reload whose
// policy demands MFA reaches the same open session at its next request.
func TestEnrolRequiredOnlyAtSignIn(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	if r := e.followLocal(e.client, e.signIn(e.client, "alice", "alice-pw")); r.code != http.StatusOK {
		t.Fatalf("sign-in = %d %q", r.code, r.location)
	}
	required := testConfig + "mfa: { enrol: { allow: true, required_for: [staff] } }\n"
	e.reconfigure(required, nil)
	if page := e.get(e.client, "/apps/demo/"); page.code != http.StatusOK {
		t.Fatalf("open session after required_for = %d %q", page.code, page.location)
	}
	if r := e.signIn(e.newClient(), "alice", "alice-pw"); r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/mfa/enrol?l=") {
		t.Fatalf("next sign-in = %d %q, want the enrolment", r.code, r.location)
	}
	e.reconfigure(required, map[string]string{"staff.yaml": "policy: staff\nrules:\n  - { name: staff, when: { groups: [staff] }, allow: { mfa: {} } }\n"})
	if page := e.get(e.client, "/apps/demo/"); page.code != http.StatusSeeOther || !strings.HasPrefix(page.location, "/mfa/enrol?l=") {
		t.Fatalf("open session after an MFA policy = %d %q, want the step-up (to enrolment)", page.code, page.location)
	}
}

// Whoever knows only the password cannot enrol a factor of their own in
// place of the user's: the enrolment pages need the existing one proved.
func TestEnrolRefusedWhileAFactorExists(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	enrolTOTP(t, e)
	c, page := mfaStepUp(t, e)
	l := regexp.MustCompile(`\?l=([A-Za-z0-9_-]+)`).FindStringSubmatch(page.body)[1]
	for _, path := range []string{"/mfa/enrol?l=" + l, "/mfa/enrol/otp?l=" + l} {
		if r := e.get(c, path); r.code != http.StatusForbidden || !strings.Contains(r.body, "You already have a second factor") || !strings.Contains(r.body, "Call IT on 1234.") {
			t.Fatalf("GET %s = %d\n%s", path, r.code, r.body)
		}
		if ev := e.lastMFA(t); ev.Outcome != "deny" || ev.Reason != "mfa-enrol-has-factor" {
			t.Fatalf("audit = %+v", ev)
		}
	}
}

// A factor the demand does not accept, or one that cannot be enrolled by
// the user, is not offered: 404 with an audit event.
func TestMFAMethodNotOffered(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	l := strings.TrimPrefix(r.location, "/mfa/enrol?l=")
	for _, path := range []string{"/mfa/enrol/recovery?l=" + l, "/mfa/enrol/sms?l=" + l, "/mfa/sms?l=" + l} {
		if r := e.get(e.client, path); r.code != http.StatusNotFound || !strings.Contains(r.body, `id="correlation-id"`) {
			t.Fatalf("GET %s = %d", path, r.code)
		}
		if ev := e.lastMFA(t); ev.Reason != "mfa-method-not-offered" {
			t.Fatalf("audit = %+v", ev)
		}
	}
	// Without the step-up's login, or with another browser's: expired.
	if r := e.get(e.newClient(), "/mfa/otp?l="+l); r.code != http.StatusBadRequest || !strings.Contains(r.body, "took too long") {
		t.Fatalf("another browser = %d", r.code)
	}
}

// TestFactorSurvivesARecentReseal: a session whose cookie was just resealed
// (its idle timeout slid) and then proves a factor gets a cookie with the
// factor, not the resealed old one that a stale-cookie client is given
// again (a changed session drops what was derived from its old cookie).
func TestFactorSurvivesARecentReseal(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	secret, _, _ := enrolTOTP(t, e)
	c, page := mfaStepUp(t, e)
	page = e.get(c, regexp.MustCompile(`href="(/mfa/otp[^"]+)"`).FindStringSubmatch(page.body)[1])
	action, csrf := formAction(t, page.body), csrfOf(t, page.body)
	base, _ := url.Parse(e.http.URL)
	before := c.Jar.Cookies(base)
	e.clock.Advance(touchEvery + time.Second)
	if r := e.get(c, "/apps/demo/"); r.code != http.StatusOK || r.header.Get("Set-Cookie") == "" {
		t.Fatalf("a use after the touch interval = %d, Set-Cookie %q: want the idle timeout slid", r.code, r.header.Get("Set-Cookie"))
	}
	// The code comes with the old cookie (another tab's request, or a
	// client that ignores Set-Cookie).
	c.Jar.SetCookies(base, before)
	code, _ := totp.GenerateCode(secret, e.clock.Now())
	if r := e.post(c, action, url.Values{"csrf": {csrf}, "code": {code}}); r.code != http.StatusSeeOther {
		t.Fatalf("good code = %d\n%s", r.code, r.body)
	}
	if app := e.get(c, "/apps/mfa/"); app.code != http.StatusOK {
		t.Fatalf("app after step-up = %d %q: the factor was lost", app.code, app.location)
	}
}

// TestUnopenableFactorFailsClosed: alice's factor was sealed under a cookie
// key that is no longer listed. Her password alone must not let her (or
// whoever has it) enrol a new factor: the step-up is refused.
func TestUnopenableFactorFailsClosed(t *testing.T) {
	e := newEnvWith(t, mfaTestConfig, nil)
	dropped, _ := newVault(e.srv.Store, e.keys[1:]) // a key fedgate no longer lists
	if err := dropped.put(context.Background(), "otp", factorUser{Upstream: "local", Subject: "alice"}, totpRecord{Secret: "JBSWY3DPEHPK3PXP"}); err != nil {
		t.Fatal(err)
	}
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	if strings.HasPrefix(r.location, "/mfa/enrol") {
		t.Fatalf("sign-in sent alice to enrolment over a factor that does not open: %d %q", r.code, r.location)
	}
	if page := e.followLocal(e.client, r); page.code != http.StatusForbidden {
		t.Fatalf("final answer = %d, want 403\n%s", page.code, page.body)
	}
}

// mfaAdmin is `fedgate mfa` on the test server's store, auditing to out, on
// the test's clock (its lock expiries are checked against the store's).
func (e *testEnv) mfaAdmin(t *testing.T, out *syncBuffer) *MFAAdmin {
	t.Helper()
	admin, err := NewMFAAdmin(e.srv.Store, e.keys[:1], NewAuditor(out))
	if err != nil {
		t.Fatal(err)
	}
	admin.now, admin.vault.now = e.clock.Now, e.clock.Now
	return admin
}

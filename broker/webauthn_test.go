package broker

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedgate/fedgate/broker/fido"
	"github.com/fedgate/fedgate/broker/fido/fidotest"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

// WebAuthn needs a host name as the RP ID: these tests serve as localhost.
var webauthnTestConfig = strings.Replace(mfaTestConfig, "http://127.0.0.1:8080", "http://localhost:8080", 1)

const (
	waOrigin = "http://localhost:8080"
	waRPID   = "localhost"
)

var optionsRE = regexp.MustCompile(`data-options="([^"]+)"`)

// waChallenge is the challenge of the ceremony on a WebAuthn page.
func waChallenge(t *testing.T, page resp) string {
	t.Helper()
	m := optionsRE.FindStringSubmatch(page.body)
	if page.code != http.StatusOK || m == nil {
		t.Fatalf("no ceremony on page %d:\n%s", page.code, page.body)
	}
	return fidotest.Challenge(t, []byte(html.UnescapeString(m[1])))
}

// enrolKey signs alice in to the MFA app and registers k, named name, at
// her first step-up.
func enrolKey(t *testing.T, e *testEnv, k *fidotest.Key, name string) {
	t.Helper()
	r := e.signInTo(e.client, "/apps/mfa/", "alice", "alice-pw")
	chooser := e.followLocal(e.client, r)
	m := regexp.MustCompile(`href="(/mfa/enrol/webauthn\?l=[^"]+)"`).FindStringSubmatch(chooser.body)
	if m == nil {
		t.Fatalf("no security key at enrolment:\n%s", chooser.body)
	}
	page := e.get(e.client, html.UnescapeString(m[1]))
	answer := k.Register(t, waChallenge(t, page), waRPID, waOrigin)
	done := e.post(e.client, formAction(t, page.body), url.Values{"csrf": {csrfOf(t, page.body)}, "name": {name}, "credential": {string(answer)}})
	if done.code != http.StatusOK || !strings.Contains(done.body, "recovery-codes") {
		t.Fatalf("registration = %d\n%s", done.code, done.body)
	}
}

// keyStepUp starts a step-up for alice in a new browser and returns the
// security-key page it offers.
func keyStepUp(t *testing.T, e *testEnv) (*http.Client, resp) {
	t.Helper()
	c, chooser := mfaStepUp(t, e)
	m := regexp.MustCompile(`href="(/mfa/webauthn\?l=[^"]+)"`).FindStringSubmatch(chooser.body)
	if m == nil {
		t.Fatalf("no security key offered:\n%s", chooser.body)
	}
	return c, e.get(c, html.UnescapeString(m[1]))
}

func TestWebAuthnStepUpAndRefusals(t *testing.T) {
	e := newEnvWith(t, webauthnTestConfig, nil)
	k := fidotest.New(t)
	enrolKey(t, e, k, "YubiKey blue")
	if ev := e.lastMFA(t); ev.Outcome != "success" || ev.Rule != "webauthn" || ev.User != "alice" {
		t.Fatalf("registration audit = %+v", ev)
	}

	tests := []struct {
		name    string
		answer  func(chal string) []byte
		reason  string // "" for a success
		message string
	}{
		{"good", func(c string) []byte { return k.Assert(t, c, waRPID, waOrigin, 5) }, "", ""},
		{"another RP ID", func(c string) []byte { return k.Assert(t, c, "evil.example", waOrigin, 6) }, "webauthn-rp-id", "answered for another site"},
		{"lower sign counter", func(c string) []byte { return k.Assert(t, c, waRPID, waOrigin, 4) }, "webauthn-counter", "counter went backwards"},
		{"another key", func(c string) []byte { return fidotest.New(t).Assert(t, c, waRPID, waOrigin, 9) }, "webauthn-unknown-key", "not registered for your account"},
		{"another origin", func(c string) []byte { return k.Assert(t, c, waRPID, "http://evil.example", 9) }, "webauthn-invalid", "could not be verified"},
		{"counter advanced", func(c string) []byte { return k.Assert(t, c, waRPID, waOrigin, 9) }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(6 * time.Minute) // past the throttle's window: each case is judged alone
			c, page := keyStepUp(t, e)
			r := e.post(c, formAction(t, page.body), url.Values{"csrf": {csrfOf(t, page.body)}, "credential": {string(tt.answer(waChallenge(t, page)))}})
			ev := e.lastMFA(t)
			if tt.reason == "" {
				app := e.followLocal(c, r)
				if app.code != http.StatusOK || !strings.Contains(app.body, "security key") || ev.Outcome != "success" {
					t.Fatalf("step-up = %d %+v\n%s", app.code, ev, app.body)
				}
				return
			}
			if r.code != http.StatusUnauthorized || !strings.Contains(r.body, tt.message) || ev.Outcome != "failure" || ev.Reason != tt.reason {
				t.Fatalf("refusal = %d %+v\n%s", r.code, ev, r.body)
			}
			// The challenge is spent: an answer to it, sent again, meets the new one.
			again := e.post(c, formAction(t, page.body), url.Values{"csrf": {csrfOf(t, page.body)}, "credential": {string(k.Assert(t, waChallenge(t, page), waRPID, waOrigin, 100))}})
			if again.code != http.StatusUnauthorized || e.lastMFA(t).Reason != "webauthn-invalid" {
				t.Fatalf("second answer to one challenge = %d %+v", again.code, e.lastMFA(t))
			}
		})
	}

	// Two step-ups that read the key record before either wrote it (two
	// replicas): the same counter is accepted once only.
	ctx := context.Background()
	alice := factorUser{Upstream: "local", Subject: "alice"}
	v, _ := newVault(e.srv.Store, e.keys[:1])
	var before []fido.Key
	if err := v.get(ctx, "webauthn", alice, &before); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"success", "webauthn-counter"} {
		if i > 0 {
			_ = v.put(ctx, "webauthn", alice, before) // the other replica's stale view
		}
		c, page := keyStepUp(t, e)
		e.post(c, formAction(t, page.body), url.Values{"csrf": {csrfOf(t, page.body)}, "credential": {string(k.Assert(t, waChallenge(t, page), waRPID, waOrigin, 50))}})
		if ev := e.lastMFA(t); ev.Outcome != want && ev.Reason != want {
			t.Fatalf("counter 50, step-up %d: %+v", i+1, ev)
		}
	}

	// fedgate mfa list names the key; another upstream's alice has none.
	admin := e.mfaAdmin(t, &syncBuffer{})
	fs, err := admin.List(ctx, "local", "alice")
	if err != nil || len(fs) < 1 || fs[0].Method != "webauthn" || !strings.Contains(fs[0].Detail[0], `key "YubiKey blue"`) {
		t.Fatalf("list = %+v %v", fs, err)
	}
	if _, err := admin.List(context.Background(), "partner", "alice"); err == nil {
		t.Fatal("alice at another upstream has factors")
	}
}

// A second key at /mfa/keys needs the factor proven in this session.
func TestWebAuthnSecondKey(t *testing.T) {
	e := newEnvWith(t, webauthnTestConfig, nil)
	k := fidotest.New(t)
	enrolKey(t, e, k, "YubiKey blue")

	// A fresh password sign-in alone cannot add a key.
	c := e.newClient()
	e.signInTo(c, "/apps/demo/", "alice", "alice-pw")
	if r := e.get(c, "/mfa/keys"); r.code != http.StatusForbidden || e.lastMFA(t).Reason != "mfa-enrol-has-factor" {
		t.Fatalf("password only: %d %+v", r.code, e.lastMFA(t))
	}

	// The enrolling session has proven it: a second key, named; a taken name is refused.
	page := e.get(e.client, "/mfa/keys")
	spare := fidotest.New(t)
	for _, tc := range []struct {
		name string
		code int
	}{{"yubikey BLUE", http.StatusUnauthorized}, {"Spare", http.StatusSeeOther}} {
		r := e.post(e.client, "/mfa/keys", url.Values{"csrf": {csrfOf(t, page.body)}, "name": {tc.name},
			"credential": {string(spare.Register(t, waChallenge(t, page), waRPID, waOrigin))}})
		if r.code != tc.code {
			t.Fatalf("%s: %d\n%s", tc.name, r.code, r.body)
		}
		page = e.get(e.client, "/mfa/keys")
	}
	if !strings.Contains(page.body, "<li>YubiKey blue</li><li>Spare</li>") {
		t.Fatalf("keys page:\n%s", page.body)
	}
}

// TestWebAuthnConcurrentRegistrations: keys registered at the same time
// (several tabs, several replicas on one store) all stay, on a local and on
// a shared store: each rewrite of the list holds the user's lock.
func TestWebAuthnConcurrentRegistrations(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(t *testing.T) func(now func() time.Time) store.Store
	}{
		{"memory", func(*testing.T) func(now func() time.Time) store.Store {
			return func(now func() time.Time) store.Store { return store.NewMemory(now) }
		}},
		{"redis", func(t *testing.T) func(now func() time.Time) store.Store {
			srv := storetest.StartRedis(t)
			return func(now func() time.Time) store.Store {
				s := store.NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr}), "fedgate:", now)
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Every registration is an attempt in flight: room for all of them.
			e := newEnvOn(t, webauthnTestConfig+"throttle: { max_failures: 20 }\n", nil, tc.open(t))
			enrolKey(t, e, fidotest.New(t), "first")

			// Each registration in its own tab: the session's cookies, its own ceremony.
			const n = 8
			base, _ := url.Parse(e.http.URL + "/")
			tabs := make([]*http.Client, n)
			forms := make([]url.Values, n)
			for i := range tabs {
				tabs[i] = e.newClient()
				tabs[i].Jar.SetCookies(base, e.client.Jar.Cookies(base))
				page := e.get(tabs[i], "/mfa/keys")
				name := fmt.Sprintf("key %d", i)
				forms[i] = url.Values{"csrf": {csrfOf(t, page.body)}, "name": {name},
					"credential": {string(fidotest.New(t).Register(t, waChallenge(t, page), waRPID, waOrigin))}}
			}
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range tabs {
				wg.Go(func() {
					if r, err := tabs[i].PostForm(e.http.URL+"/mfa/keys", forms[i]); err == nil {
						codes[i] = r.StatusCode
						r.Body.Close()
					}
				})
			}
			wg.Wait()
			page := e.get(e.client, "/mfa/keys")
			for i, code := range codes {
				if want := fmt.Sprintf("<li>key %d</li>", i); code != http.StatusSeeOther || !strings.Contains(page.body, want) {
					t.Errorf("registration %d = %d; in the list: %v", i, code, strings.Contains(page.body, want))
				}
			}
		})
	}
}

// TestVaultLockBusy: a change waits for the user's lock a bounded time,
// then fails with a clear error without running; a released lock is free.
func TestVaultLockBusy(t *testing.T) {
	clock := storetest.NewClock()
	v := vault{st: store.NewMemory(clock.Now), now: clock.Now}
	ctx := context.Background()
	alice := factorUser{Upstream: "local", Subject: "alice"}
	err := v.locked(ctx, alice, func() error {
		return v.locked(ctx, alice, func() error { return errors.New("ran without the lock") })
	})
	if !errors.Is(err, errVaultBusy) {
		t.Fatalf("second holder: %v, want errVaultBusy", err)
	}
	ran := false
	if err := v.locked(ctx, alice, func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("after release: %v, ran %v", err, ran)
	}
}

// TestVaultLockOverrun: a change that outlives its lock (a store that
// stalled) must not release the lock another request took meanwhile, and
// says so in the log.
func TestVaultLockOverrun(t *testing.T) {
	defer func(d time.Duration) { vaultLockTTL = d }(vaultLockTTL)
	vaultLockTTL = 50 * time.Millisecond
	var logs strings.Builder
	v := vault{st: store.NewMemory(time.Now), now: time.Now, log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx := context.Background()
	alice := factorUser{Upstream: "local", Subject: "alice"}
	bTook, aDone, bDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		_ = v.locked(ctx, alice, func() error {
			time.Sleep(2 * vaultLockTTL) // A stalls past its lock's expiry
			return nil
		})
		close(aDone)
	}()
	time.Sleep(vaultLockTTL + 20*time.Millisecond)
	go func() {
		_ = v.locked(ctx, alice, func() error { // B takes the expired lock
			close(bTook)
			<-aDone // and still holds it when A finishes
			held, err := v.st.Claim(ctx, "mfa-lock:"+alice.id(), time.Now().Add(time.Minute))
			if err != nil || held {
				t.Errorf("while B holds the lock, another Claim got it (%v, %v): A released B's lock", held, err)
			}
			return nil
		})
		close(bDone)
	}()
	<-bTook
	<-bDone
	if !strings.Contains(logs.String(), "outlived its lock") {
		t.Errorf("no warning logged for the overrun: %q", logs.String())
	}
}

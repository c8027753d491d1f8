package broker

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/local"
)

// gate holds every credential check until each of the test's n parallel
// requests is either inside a check or answered: on a throttle that reads
// the lock before the check and writes it after, all n get in; on one that
// counts first, only the limit does.
type gate struct{ n, checks, answered atomic.Int32 }

func newGate(n int32) *gate {
	g := &gate{}
	g.n.Store(n)
	return g
}

func (g *gate) check() {
	g.checks.Add(1)
	for deadline := time.Now().Add(20 * time.Second); g.checks.Load()+g.answered.Load() < g.n.Load() && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// countingUpstream counts the password checks that reach the upstream.
type countingUpstream struct {
	protocols.PasswordAuthenticator
	gate *gate
	err  error // answered instead of checking, when set
}

func (c *countingUpstream) Authenticate(ctx context.Context, user, pw string) (protocols.Identity, error) {
	if c.gate != nil {
		c.gate.check()
	}
	switch {
	case c.err != nil:
		return protocols.Identity{}, c.err
	case user != "alice": // not the real (hashed) check: the test counts, not hashes
		return protocols.Identity{}, protocols.ErrInvalidCredentials
	}
	return c.PasswordAuthenticator.Authenticate(ctx, user, pw)
}

const countedConfig = brokerHead + `  - { id: counted, type: fake }
apps:
  - { id: demo, type: whoami, policy: staff, upstreams: [counted] }
policies: [policies/*.yaml]
`

func countedEnv(t *testing.T) (*testEnv, *countingUpstream) {
	t.Helper()
	u, err := local.Open(local.Config{ID: "counted", Users: []local.User{
		{Username: "alice", PasswordHash: hashOf(t, "alice-pw"), Groups: []string{"staff"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &countingUpstream{PasswordAuthenticator: u}
	return newEnvWith(t, countedConfig, []protocols.Upstream{c}), c
}

// TestParallelGuessesCountedBeforeChecking: 60 guesses at once, at one user
// or sprayed over 60 user names from one address: only the configured
// number of failures is checked; the rest are refused unchecked with 429
// and Retry-After in whole seconds.
func TestParallelGuessesCountedBeforeChecking(t *testing.T) {
	for _, tc := range []struct {
		name  string
		user  func(i int) string
		limit int32 // throttle.max_failures (5) or max_failures_per_ip (20)
	}{
		{"one user", func(int) string { return "alice" }, 5},
		{"spray from one address", func(i int) string { return fmt.Sprintf("user%02d", i) }, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 60
			e, up := countedEnv(t)
			g := newGate(n)
			up.gate = g
			type form struct {
				c    *http.Client
				url  string
				vals url.Values
			}
			forms := make([]form, n)
			for i := range forms {
				c := e.newClient()
				u, csrf := e.beginLogin(c, "/apps/demo/")
				forms[i] = form{c, u, url.Values{"csrf": {csrf}, "upstream": {"counted"}, "username": {tc.user(i)}, "password": {"guess"}}}
			}
			answers := make(chan resp, n)
			var wg sync.WaitGroup
			for _, f := range forms {
				wg.Go(func() {
					r := e.post(f.c, f.url, f.vals)
					g.answered.Add(1)
					answers <- r
				})
			}
			wg.Wait()
			close(answers)
			var failed, throttled int32
			for r := range answers {
				switch {
				case r.code == http.StatusUnauthorized:
					failed++
				case r.code == http.StatusTooManyRequests && r.header.Get("Retry-After") == "300":
					throttled++
				default:
					t.Errorf("answer %d, Retry-After %q", r.code, r.header.Get("Retry-After"))
				}
			}
			if got := g.checks.Load(); got != tc.limit || failed != tc.limit || throttled != n-tc.limit {
				t.Fatalf("checked %d, 401 %d, 429 %d; want %d, %d, %d", got, failed, throttled, tc.limit, tc.limit, n-tc.limit)
			}
			// Locked for the window, even with the right password.
			up.gate = nil
			if r := e.signInAt(e.newClient(), "alice", "alice-pw"); r.code != http.StatusTooManyRequests {
				t.Fatalf("right password while locked = %d", r.code)
			}
			e.clock.Advance(5*time.Minute + time.Second)
			if r := e.signInAt(e.newClient(), "alice", "alice-pw"); r.code != http.StatusSeeOther {
				t.Fatalf("after the window = %d", r.code)
			}
		})
	}
}

func (e *testEnv) signInAt(c *http.Client, user, pw string) resp {
	e.t.Helper()
	u, csrf := e.beginLogin(c, "/apps/demo/")
	return e.post(c, u, url.Values{"csrf": {csrf}, "upstream": {"counted"}, "username": {user}, "password": {pw}})
}

// TestSuccessGivesBack: a success forgets the user's failures and does not
// use up the address's budget (an office signs in from one address).
func TestSuccessGivesBack(t *testing.T) {
	e, _ := countedEnv(t)
	for range 3 {
		for range 4 {
			if r := e.signInAt(e.newClient(), "alice", "wrong"); r.code != http.StatusUnauthorized {
				t.Fatalf("wrong password = %d", r.code)
			}
		}
		if r := e.signInAt(e.newClient(), "alice", "alice-pw"); r.code != http.StatusSeeOther {
			t.Fatalf("right password after 4 failures = %d", r.code)
		}
	}
	// 12 failures and 3 successes from this address so far; 25 more
	// successes leave room for 8 failures (max_failures_per_ip 20).
	for range 25 {
		if r := e.signInAt(e.newClient(), "alice", "alice-pw"); r.code != http.StatusSeeOther {
			t.Fatalf("success = %d", r.code)
		}
	}
	for i := range 8 {
		if r := e.signInAt(e.newClient(), fmt.Sprintf("user%d", i), "wrong"); r.code != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d", i, r.code)
		}
	}
	if r := e.signInAt(e.newClient(), "bob", "wrong"); r.code != http.StatusTooManyRequests {
		t.Fatalf("21st failure from the address = %d, want 429", r.code)
	}
}

// TestBusyIsNotAFailure: a check the upstream did not make (too many at
// once) answers 503 with Retry-After: 1 and is given back, not counted.
func TestBusyIsNotAFailure(t *testing.T) {
	e, up := countedEnv(t)
	up.err = fmt.Errorf("local: %w", protocols.ErrBusy)
	for range 30 {
		r := e.signInAt(e.newClient(), "alice", "alice-pw")
		if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "1" {
			t.Fatalf("busy = %d, Retry-After %q", r.code, r.header.Get("Retry-After"))
		}
	}
	up.err = nil
	if r := e.signInAt(e.newClient(), "alice", "alice-pw"); r.code != http.StatusSeeOther {
		t.Fatalf("after busy answers = %d", r.code)
	}
	for _, k := range []string{"fail:u:counted:alice", "fail:ip:127.0.0.1"} {
		if v, err := e.srv.Store.Get(t.Context(), k); err == nil && string(v) != "0" {
			t.Errorf("%s = %s after busy answers and a success", k, v)
		}
	}
}

// secretProtocol checks a client secret the way the OpenID token endpoint
// does: POST /fake/token with client_id and client_secret.
type secretProtocol struct{ gate *gate }

func (p secretProtocol) Mount(mux *http.ServeMux, sp protocols.SessionProvider) {
	mux.HandleFunc("POST /fake/token", func(w http.ResponseWriter, r *http.Request) {
		done, wait, err := sp.Attempt(r, "client:"+r.FormValue("client_id"))
		switch {
		case err != nil:
			w.WriteHeader(http.StatusInternalServerError)
		case wait > 0:
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())))
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			p.gate.check()
			if r.FormValue("client_secret") == "right" {
				done(nil)
				return
			}
			done(fmt.Errorf("wrong secret: %w", protocols.ErrInvalidCredentials))
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
}

// TestParallelClientSecretGuesses: 40 guesses at one client's secret at
// once: the broker lets max_failures be checked; the client's failures do
// not lock another client.
func TestParallelClientSecretGuesses(t *testing.T) {
	const n = 40
	e := newEnvWith(t, downstreamConfig, nil)
	g := newGate(n)
	snap := e.srv.Current()
	snap.AddDownstream(secretProtocol{g})
	if err := e.srv.Swap(snap); err != nil {
		t.Fatal(err)
	}
	guess := func(client, secret string) resp {
		return e.post(e.newClient(), "/fake/token", url.Values{"client_id": {client}, "client_secret": {secret}})
	}
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := guess("portal", fmt.Sprint("guess", i))
			g.answered.Add(1)
			codes <- r.code
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int32{}
	for c := range codes {
		count[c]++
	}
	if g.checks.Load() != 5 || count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != n-5 {
		t.Fatalf("checked %d, answers %v; want 5 checked, 5×401, %d×429", g.checks.Load(), count, n-5)
	}
	g.n.Store(0) // no more holding
	if r := guess("portal", "right"); r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "300" {
		t.Fatalf("right secret while locked = %d %q", r.code, r.header.Get("Retry-After"))
	}
	if r := guess("other", "right"); r.code != http.StatusOK {
		t.Fatalf("another client = %d", r.code)
	}
}

// TestLongUserNameAuditedNotCut: a typed user name longer than any account
// name is refused unchecked and uncounted, and the audit shows it cut at a
// character boundary with a visible "…" (never silently); a name at the
// bound is checked, throttled and audited whole, under one key.
func TestLongUserNameAuditedNotCut(t *testing.T) {
	e, up := countedEnv(t)
	g := newGate(0)
	up.gate = g
	long := strings.Repeat("あ", 100) // 300 bytes
	if r := e.signInAt(e.newClient(), long, "pw"); r.code != http.StatusUnauthorized {
		t.Fatalf("long name = %d", r.code)
	}
	evs := e.audit.events(t)
	last := evs[len(evs)-1]
	if want := strings.Repeat("あ", 85) + "…"; last.User != want || last.Reason != "username-too-long" || !utf8.ValidString(last.User) {
		t.Fatalf("audit user %q (%d bytes), reason %q", last.User, len(last.User), last.Reason)
	}
	if g.checks.Load() != 0 {
		t.Fatal("a too-long name reached the upstream")
	}
	if _, err := e.srv.Store.Get(t.Context(), "fail:ip:127.0.0.1"); err == nil {
		t.Fatal("a too-long name was counted")
	}
	atBound := strings.Repeat("a", maxUsername)
	for range 5 {
		e.signInAt(e.newClient(), atBound, "pw")
	}
	evs = e.audit.events(t)
	if last := evs[len(evs)-1]; last.User != atBound || last.Reason != "invalid-credentials" || g.checks.Load() != 5 {
		t.Fatalf("name at the bound: audit %q %q, checks %d", last.User, last.Reason, g.checks.Load())
	}
	if r := e.signInAt(e.newClient(), " "+strings.ToUpper(atBound)+" ", "pw"); r.code != http.StatusTooManyRequests {
		t.Fatalf("same name, other case and spaces = %d, want 429 (one throttle key)", r.code)
	}
}

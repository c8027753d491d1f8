package broker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

// sharedStore is a memory store that behaves as Redis does to the broker:
// its change feed is the test's (a write "elsewhere" is told by calling
// changed), it counts reads, and going down breaks the feed, as a lost
// connection does. Keys can be held after listing (listed, release).
type sharedStore struct {
	*store.Memory
	gets    atomic.Int64
	down    atomic.Bool
	changed func(string)
	lost    func()
	reset   func()
	hidden  sync.Map      // ids Keys leaves out, as a listing that misses a key
	watched chan struct{} // closed once Watch has registered
	hold    chan struct{} // when set, Watch registers once it is closed
	listed  chan struct{} // when set, Keys sends on it once it has listed…
	release chan struct{} // …and then waits for this
}

func newSharedStore(clock *storetest.Clock) *sharedStore {
	return &sharedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{})}
}

var errRefused = errors.New("connection refused")

func (w *sharedStore) Get(ctx context.Context, key string) ([]byte, error) {
	w.gets.Add(1)
	if w.down.Load() {
		return nil, errRefused
	}
	return w.Memory.Get(ctx, key)
}

func (w *sharedStore) Ping(ctx context.Context) error {
	if w.down.Load() {
		return errRefused
	}
	return w.Memory.Ping(ctx)
}

func (w *sharedStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	keys, err := w.Memory.Keys(ctx, prefix)
	keys = slices.DeleteFunc(keys, func(k string) bool {
		_, hide := w.hidden.Load(strings.TrimPrefix(k, revokedPrefix))
		return hide
	})
	if w.listed != nil {
		w.listed <- struct{}{}
		<-w.release
	}
	if w.down.Load() {
		return nil, errRefused
	}
	return keys, err
}

// Watch registers, says so (reset), and runs until ctx ends or the store
// is closed, as the real ones do.
func (w *sharedStore) Watch(ctx context.Context, changed func(string), lost, reset func()) {
	if w.hold != nil {
		<-w.hold
	}
	w.changed, w.lost, w.reset = changed, lost, reset
	reset()
	close(w.watched)
	w.Memory.Watch(ctx, func(string) {}, func() {}, func() {})
}

// setDown breaks the feed (down: lost) or restores it (reset), as Redis's
// Watch tells a lost connection and a new subscription.
func (w *sharedStore) setDown(down bool) {
	<-w.watched
	w.down.Store(down)
	if down {
		w.lost()
	} else {
		w.reset()
	}
}

// signOutElsewhere writes a sign-out as another replica would: to the
// store, told through the feed.
func (w *sharedStore) signOutElsewhere(t *testing.T, id string) {
	t.Helper()
	if err := w.Memory.Put(t.Context(), revokedPrefix+id, []byte{1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	w.changed(revokedPrefix + id)
}

func (rv *revocations) answering() bool {
	rv.mu.RLock()
	defer rv.mu.RUnlock()
	return rv.inStep
}

// waitFor polls ok for up to 5 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for i := 0; !ok(); i++ {
		if i == 500 {
			t.Fatal("timed out waiting: " + what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitInStep(t *testing.T, rv *revocations) {
	t.Helper()
	waitFor(t, "the replica of sign-outs in step with the store", rv.answering)
}

// wantCheck asserts one check's answer and how many store reads it made.
func wantCheck(t *testing.T, rv *revocations, w *sharedStore, id string, revoked, failed bool, reads int64) {
	t.Helper()
	before := w.gets.Load()
	got, err := rv.check(t.Context(), id)
	if got != revoked || (err != nil) != failed || w.gets.Load()-before != reads {
		t.Fatalf("check(%s) = %v, %v with %d store reads; want revoked=%v, failed=%v, %d reads", id, got, err, w.gets.Load()-before, revoked, failed, reads)
	}
	if failed && !errors.Is(err, errStoreDown) {
		t.Fatalf("check(%s): %v, want errStoreDown", id, err)
	}
}

// TestRevocationReplica: in step with the store, checks read nothing, a
// sign-out on another replica is refused at the very next check, and the
// replica holds sign-outs, not the sessions it was asked about (memory
// flat in signed-in users).
func TestRevocationReplica(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	rv := newRevocations(t.Context(), w)
	waitInStep(t, rv)
	wantCheck(t, rv, w, "s1", false, false, 0)
	w.signOutElsewhere(t, "s1")
	wantCheck(t, rv, w, "s1", true, false, 0)
	w.changed("code:x")
	wantCheck(t, rv, w, "s2", false, false, 0)
	for i := range 10_000 {
		_, _ = rv.check(t.Context(), "u"+strconv.Itoa(i))
	}
	rv.mu.RLock()
	n := len(rv.revoked)
	rv.mu.RUnlock()
	if n != 1 {
		t.Fatalf("replica holds %d entries after 10,000 sessions were checked and 1 signed out", n)
	}
}

// TestRevocationFeedLostFailsClosed: when the feed breaks the replica
// stops answering, so checks read the store, and a store that cannot
// answer means signed out; when it is back, the reload finds the sign-outs
// the feed missed meanwhile.
func TestRevocationFeedLostFailsClosed(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	rv := newRevocations(t.Context(), w)
	waitInStep(t, rv)
	w.setDown(true)
	wantCheck(t, rv, w, "s2", true, true, 1)
	time.Sleep(200 * time.Millisecond) // reloads fail meanwhile
	wantCheck(t, rv, w, "s2", true, true, 1)
	if err := w.Memory.Put(t.Context(), revokedPrefix+"s3", []byte{1}, time.Time{}); err != nil {
		t.Fatal(err) // a sign-out the broken feed did not tell
	}
	w.setDown(false)
	waitInStep(t, rv)
	wantCheck(t, rv, w, "s3", true, false, 0)
	wantCheck(t, rv, w, "s2", false, false, 0)
}

// TestRevocationReloadRaces: a sign-out heard while a reload lists is
// kept; a listing begun before a reset is not used (it may lack what the
// feed missed), so the replica answers only from a listing made after.
func TestRevocationReloadRaces(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	w.listed, w.release = make(chan struct{}), make(chan struct{})
	rv := newRevocations(t.Context(), w)
	<-w.listed // the first reload has listed
	w.signOutElsewhere(t, "late")
	w.release <- struct{}{}
	waitInStep(t, rv)
	wantCheck(t, rv, w, "late", true, false, 0)

	w.reset()
	<-w.listed // a reload has listed…
	if err := w.Memory.Put(t.Context(), revokedPrefix+"missed", []byte{1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	w.reset() // …and the feed says it may have missed something since
	w.release <- struct{}{}
	<-w.listed // the next reload has listed
	wantCheck(t, rv, w, "missed", true, false, 1)
	w.release <- struct{}{}
	waitInStep(t, rv)
	wantCheck(t, rv, w, "missed", true, false, 0)
}

// TestRevocationNotInStepBeforeWatching: until the store has registered
// the watcher a sign-out would not be told, so checks read the store: one
// made in that window is refused.
func TestRevocationNotInStepBeforeWatching(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	w.hold = make(chan struct{})
	rv := newRevocations(t.Context(), w)
	wantCheck(t, rv, w, "s6", false, false, 1)
	if err := w.Memory.Put(t.Context(), revokedPrefix+"s6", []byte{1}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantCheck(t, rv, w, "s6", true, false, 1)
	close(w.hold)
	waitInStep(t, rv)
	wantCheck(t, rv, w, "s6", true, false, 0)
	wantCheck(t, rv, w, "s7", false, false, 0)
}

// TestRevocationLostWaitsForListening: once the feed is lost the replica
// is not reloaded, even though the store answers, until the feed listens
// again: a listing made meanwhile could lack a sign-out that then goes
// unheard. Checks read the store until then.
func TestRevocationLostWaitsForListening(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	rv := newRevocations(t.Context(), w)
	waitInStep(t, rv)
	w.lost()
	time.Sleep(200 * time.Millisecond) // a reload would have run by now
	wantCheck(t, rv, w, "s8", false, false, 1)
	if err := w.Memory.Put(t.Context(), revokedPrefix+"s8", []byte{1}, time.Time{}); err != nil {
		t.Fatal(err) // not told: the feed is lost
	}
	wantCheck(t, rv, w, "s8", true, false, 1)
	w.reset()
	waitInStep(t, rv)
	wantCheck(t, rv, w, "s8", true, false, 0)
}

// TestRevocationResync: the periodic reload keeps a sign-out the listing
// lacks while the store still has it (a Cluster moving slots can hide a
// key from SCAN), drops one the store has forgotten (expired), and does
// nothing before the feed first listens.
func TestRevocationResync(t *testing.T) {
	w := newSharedStore(storetest.NewClock())
	w.hold = make(chan struct{})
	rv := newRevocations(t.Context(), w)
	if !rv.reload(t.Context(), w) || rv.answering() {
		t.Fatal("a reload before the feed listens put the replica in step")
	}
	close(w.hold)
	waitInStep(t, rv)
	w.signOutElsewhere(t, "kept")
	w.signOutElsewhere(t, "gone")
	w.hidden.Store("kept", true)
	if err := w.Memory.Delete(t.Context(), revokedPrefix+"gone"); err != nil {
		t.Fatal(err)
	}
	if !rv.reload(t.Context(), w) {
		t.Fatal("resync failed")
	}
	wantCheck(t, rv, w, "kept", true, false, 0)
	wantCheck(t, rv, w, "gone", false, false, 0)
}

// TestRevocationLocalStores: memory and bolt feed the replica too (their
// reads take a store lock, bolt's a read transaction, on every proxied
// request otherwise); a sign-out through the store is refused by the very
// next check, since a local store tells before the write returns; and once
// the store is closed, checks fail closed.
func TestRevocationLocalStores(t *testing.T) {
	clock := storetest.NewClock()
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]store.Store{"memory": store.NewMemory(clock.Now), "bolt": bolt} {
		t.Run(name, func(t *testing.T) {
			rv := newRevocations(t.Context(), st)
			waitInStep(t, rv)
			check := func(id string, want bool) {
				t.Helper()
				if revoked, err := rv.check(t.Context(), id); revoked != want || err != nil {
					t.Fatalf("check(%s) = %v, %v; want %v", id, revoked, err, want)
				}
			}
			check("s3", false)
			if err := st.Put(t.Context(), revokedPrefix+"s3", []byte{1}, clock.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			check("s3", true)
			_ = st.Close()
			waitFor(t, "the replica out of step after the store closed", func() bool { return !rv.answering() })
			if revoked, err := rv.check(t.Context(), "s4"); !revoked || err == nil {
				t.Fatalf("check with the store closed = %v, %v; want fail closed", revoked, err)
			}
		})
	}
}

// TestRevocationRedisReplica: two replicas on one real Redis. A sign-out
// through one is refused by the other within the feed's delay, with no
// store read per check; a Redis that freezes (its connections open) takes
// the other's replica out of step within two feed beats, so it fails
// closed rather than trust a feed that may be missing sign-outs; it
// recovers by itself.
func TestRevocationRedisReplica(t *testing.T) {
	srv := storetest.StartRedis(t)
	open := func() *store.Redis {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
		s := store.NewRedis(c, "test:replica:", nil)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	rv := newRevocations(t.Context(), b)
	waitInStep(t, rv)
	if err := a.Put(t.Context(), revokedPrefix+"r1", []byte{1}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a sign-out through replica A refused at B", func() bool {
		revoked, err := rv.check(t.Context(), "r1")
		return revoked && err == nil
	})
	// The subscription's connection killed (an output-buffer limit, a
	// proxy's idle kill): from the moment the replica knows, no check says
	// "not signed out" for a sign-out it cannot have heard, until it has
	// resubscribed and reloaded.
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	if err := raw.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replica out of step once its subscription is killed", func() bool { return !rv.answering() })
	if err := a.Put(t.Context(), revokedPrefix+"k1", []byte{1}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if revoked, err := rv.check(t.Context(), "k1"); !revoked {
			t.Fatalf("a sign-out made while the feed was down answered not revoked (err %v)", err)
		}
	}
	waitInStep(t, rv)
	if revoked, err := rv.check(t.Context(), "k1"); !revoked || err != nil {
		t.Fatalf("after resubscribing: check(k1) = %v, %v", revoked, err)
	}

	srv.Pause(4 * time.Second)
	frozen := time.Now()
	waitFor(t, "the replica out of step while Redis is frozen", func() bool { return !rv.answering() })
	if d := time.Since(frozen); d > 3*time.Second {
		t.Errorf("replica trusted for %v into a Redis freeze; want at most two feed beats", d)
	}
	if revoked, err := rv.check(t.Context(), "r2"); !revoked || err == nil {
		t.Fatalf("check with Redis frozen = %v, %v; want fail closed", revoked, err)
	}
	for i := 0; !rv.answering(); i++ {
		if i == 1000 {
			t.Fatal("replica not back in step 10 s after the freeze")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if revoked, err := rv.check(t.Context(), "r1"); !revoked || err != nil {
		t.Fatalf("after the thaw: check(r1) = %v, %v", revoked, err)
	}
}

// TestStoreDownFailsClosed: with the store unable to answer, a signed-in
// user gets a 503 page with a correlation id (not a sign-in loop), a
// sign-in that passed its password check starts no session, each is
// audited, and both work again when the store is back (invariant 10).
func TestStoreDownFailsClosed(t *testing.T) {
	base := newEnv(t)
	flaky := newSharedStore(base.clock)
	t.Cleanup(func() { _ = flaky.Close() })
	audit := &syncBuffer{}
	srv, err := NewServer(Deps{Logger: base.srv.Logger, Audit: NewAuditor(audit), Metrics: NewMetrics(), Store: flaky, Now: base.clock.Now}, base.srv.Current())
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	e := &testEnv{t: t, srv: srv, http: hs, clock: base.clock, keys: base.keys, audit: audit}
	alice, bob := e.newClient(), e.newClient()
	if r := e.signIn(alice, "alice", "alice-pw"); r.code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.code)
	}
	formURL, csrf := e.beginLogin(bob, "/apps/demo/")

	flaky.setDown(true)
	r := e.get(alice, "/apps/demo/")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, `id="correlation-id"`) || r.header.Get("Retry-After") == "" {
		t.Fatalf("session with the store down: %d %q\n%.300s", r.code, r.location, r.body)
	}
	r = e.post(bob, formURL, url.Values{"csrf": {csrf}, "upstream": {"local"}, "username": {"alice"}, "password": {"alice-pw"}})
	if r.code != http.StatusServiceUnavailable || !strings.Contains(r.body, `id="correlation-id"`) {
		t.Fatalf("sign-in with the store down: %d %q", r.code, r.location)
	}
	for _, c := range bob.Jar.Cookies(mustParse(t, hs.URL)) {
		if c.Name == sessionCookie {
			t.Fatal("a session cookie was set while the store was down")
		}
	}
	var reasons []string
	for _, ev := range audit.events(t) {
		reasons = append(reasons, ev.Reason)
	}
	if got := strings.Count(strings.Join(reasons, " "), "store-unavailable"); got != 2 {
		t.Errorf("audit reasons %q: want store-unavailable twice (access, sign-in)", reasons)
	}

	flaky.setDown(false)
	if r := e.get(alice, "/apps/demo/"); r.code != http.StatusOK {
		t.Fatalf("session after the store came back: %d", r.code)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

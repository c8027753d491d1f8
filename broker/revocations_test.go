package broker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

// watchedStore is a memory store that claims to be shared: it counts Gets,
// can be made to fail, and hands its change feed to the test.
type watchedStore struct {
	*store.Memory
	gets    atomic.Int64
	down    atomic.Bool
	changed func(string)
	reset   func()
	watched chan struct{}
	gate    chan struct{} // when set, Get waits for it to close
	hold    chan struct{} // when set, Watch registers once it is closed
}

func (w *watchedStore) Get(ctx context.Context, key string) ([]byte, error) {
	w.gets.Add(1)
	if w.gate != nil {
		<-w.gate
	}
	if w.down.Load() {
		return nil, errors.New("connection refused")
	}
	return w.Memory.Get(ctx, key)
}

func (w *watchedStore) Watch(_ context.Context, changed func(string), reset func()) {
	if w.hold != nil {
		<-w.hold
	}
	w.changed, w.reset = changed, reset
	reset() // registered, as the real stores tell
	close(w.watched)
}

func TestRevocationCache(t *testing.T) {
	clock := storetest.NewClock()
	type step struct {
		name        string
		do          func(w *watchedStore)
		wantRevoked bool
		wantErr     bool
		wantGets    int64 // store reads this check made
	}
	revoke := func(w *watchedStore) {
		_ = w.Memory.Put(context.Background(), "revoked:s1", []byte{1}, time.Time{})
		w.changed("revoked:s1")
	}
	steps := []step{
		{name: "first check reads the store", wantGets: 1},
		{name: "second check is cached", wantGets: 0},
		{name: "another replica's unrelated change keeps the cache", do: func(w *watchedStore) { w.changed("code:x") }, wantGets: 0},
		{name: "store down but fresh cache answers", do: func(w *watchedStore) { w.down.Store(true) }, wantGets: 0},
		{name: "store down and cache stale: fail closed", do: func(*watchedStore) { clock.Advance(revocationFresh) }, wantRevoked: true, wantErr: true, wantGets: 1},
		{name: "store back: not revoked again", do: func(w *watchedStore) { w.down.Store(false) }, wantGets: 1},
		{name: "sign-out elsewhere is heard at once", do: revoke, wantRevoked: true, wantGets: 1},
		{name: "revoked stays cached, even with the store down", do: func(w *watchedStore) { w.down.Store(true) }, wantRevoked: true, wantGets: 0},
		{name: "a reset keeps revocations", do: func(w *watchedStore) { w.reset() }, wantRevoked: true, wantGets: 0},
	}
	w := &watchedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{})}
	rv := newRevocations(t.Context(), w, clock.Now)
	<-w.watched
	for _, s := range steps {
		if s.do != nil {
			s.do(w)
		}
		before := w.gets.Load()
		revoked, err := rv.check(t.Context(), "s1")
		if revoked != s.wantRevoked || (err != nil) != s.wantErr || w.gets.Load()-before != s.wantGets {
			t.Fatalf("%s: revoked=%v err=%v gets=%d; want %v, err %v, %d gets", s.name, revoked, err, w.gets.Load()-before, s.wantRevoked, s.wantErr, s.wantGets)
		}
		if s.wantErr && !errors.Is(err, errStoreDown) {
			t.Fatalf("%s: err %v, want errStoreDown", s.name, err)
		}
	}
}

// TestRevocationReadShared: concurrent requests of one session whose entry
// is missing or stale wait for one store read instead of each making one.
func TestRevocationReadShared(t *testing.T) {
	clock := storetest.NewClock()
	w := &watchedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{}), gate: make(chan struct{})}
	rv := newRevocations(t.Context(), w, clock.Now)
	<-w.watched
	const n = 50
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for range n {
		wg.Go(func() {
			if revoked, err := rv.check(context.Background(), "s9"); revoked || err != nil {
				wrong.Add(1)
			}
		})
	}
	for w.gets.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the others queue behind the first read
	close(w.gate)
	wg.Wait()
	if got := w.gets.Load(); got != 1 || wrong.Load() != 0 {
		t.Fatalf("%d concurrent checks: %d store reads, %d wrong answers; want 1 read, 0 wrong", n, got, wrong.Load())
	}
}

// TestRevocationResetForgets: after a lost connection nothing read before
// is trusted, so the next check reads the store.
func TestRevocationResetForgets(t *testing.T) {
	clock := storetest.NewClock()
	w := &watchedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{})}
	rv := newRevocations(t.Context(), w, clock.Now)
	<-w.watched
	_, _ = rv.check(t.Context(), "s2")
	w.reset()
	w.down.Store(true)
	if revoked, err := rv.check(t.Context(), "s2"); !revoked || err == nil {
		t.Fatalf("after reset with the store down: revoked=%v err=%v; want fail closed", revoked, err)
	}
}

// TestRevocationLocalStoreCached: memory and bolt feed the cache too (their
// reads take a store lock, bolt's a read transaction, on every proxied
// request otherwise), and a sign-out through the store is seen by the very
// next check: the local store tells the cache before the write returns.
func TestRevocationLocalStoreCached(t *testing.T) {
	clock := storetest.NewClock() // the cache's 5 s never pass by themselves
	bolt, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]store.Store{"memory": store.NewMemory(clock.Now), "bolt": bolt} {
		t.Run(name, func(t *testing.T) {
			rv := newRevocations(t.Context(), st, clock.Now)
			if rv.cached == nil {
				t.Fatal("no cache")
			}
			for i := 0; !rv.watching.Load(); i++ {
				if i == 500 {
					t.Fatal("the store never registered the cache")
				}
				time.Sleep(10 * time.Millisecond)
			}
			check := func(id string, want bool) {
				t.Helper()
				if revoked, err := rv.check(t.Context(), id); revoked != want || err != nil {
					t.Fatalf("check(%s) = %v, %v; want %v", id, revoked, err, want)
				}
			}
			check("s3", false)
			if err := st.Put(t.Context(), "revoked:s3", []byte{1}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			check("s3", true)
			check("s4", false)
			_ = st.Close()
			check("s4", false) // from the cache: no store read
			if revoked, err := rv.check(t.Context(), "s5"); !revoked || err == nil {
				t.Fatalf("uncached check with the store closed = %v, %v; want fail closed", revoked, err)
			}
		})
	}
}

// TestRevocationNotCachedBeforeWatching: until the store has registered
// the cache, a sign-out would not be told to it, so nothing is cached: a
// sign-out made in that window is seen by the next check.
func TestRevocationNotCachedBeforeWatching(t *testing.T) {
	clock := storetest.NewClock()
	w := &watchedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{}), hold: make(chan struct{})}
	rv := newRevocations(t.Context(), w, clock.Now)
	if revoked, err := rv.check(t.Context(), "s6"); revoked || err != nil {
		t.Fatalf("check = %v, %v", revoked, err)
	}
	_ = w.Memory.Put(t.Context(), "revoked:s6", []byte{1}, time.Time{}) // not told: not watching yet
	if revoked, err := rv.check(t.Context(), "s6"); !revoked || err != nil {
		t.Fatalf("sign-out before the watch began: check = %v, %v; want revoked", revoked, err)
	}
	if w.gets.Load() != 2 {
		t.Fatalf("%d store reads, want 2 (no cache before watching)", w.gets.Load())
	}
	close(w.hold)
	<-w.watched
	_, _ = rv.check(t.Context(), "s7")
	_, _ = rv.check(t.Context(), "s7")
	if w.gets.Load() != 3 {
		t.Fatalf("%d store reads, want 3 (cached once watching)", w.gets.Load())
	}
}

// flakyStore is a memory store whose Ping and Get fail on demand (Incr and
// Decr, which the password throttle uses, keep working).
type flakyStore struct {
	*store.Memory
	down atomic.Bool
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Memory.Ping(ctx)
}

func (f *flakyStore) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, errors.New("connection refused")
	}
	return f.Memory.Get(ctx, key)
}

// TestStoreDownFailsClosed: with the store unable to answer, a signed-in
// user gets a 503 page with a correlation id (not a sign-in loop), a
// sign-in that passed its password check starts no session, each is
// audited, and both work again when the store is back (invariant 10).
func TestStoreDownFailsClosed(t *testing.T) {
	base := newEnv(t)
	flaky := &flakyStore{Memory: store.NewMemory(base.clock.Now)}
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

	flaky.down.Store(true)
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

	flaky.down.Store(false)
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

// TestRevocationCacheSwept: sessions seen once each do not pile up in the
// cache (only fresh answers are worth keeping), while a sign-out and the
// fresh answers survive a sweep.
func TestRevocationCacheSwept(t *testing.T) {
	clock := storetest.NewClock()
	w := &watchedStore{Memory: store.NewMemory(clock.Now), watched: make(chan struct{})}
	rv := newRevocations(t.Context(), w, clock.Now)
	<-w.watched
	_ = w.Memory.Put(t.Context(), "revoked:gone", []byte{1}, time.Time{})
	if revoked, _ := rv.check(t.Context(), "gone"); !revoked {
		t.Fatal("signed-out session not revoked")
	}
	for i := range 10_000 {
		if i%100 == 0 {
			clock.Advance(time.Second)
		}
		_, _ = rv.check(t.Context(), "s"+strconv.Itoa(i))
	}
	if n := len(rv.cached); n > 2*revocationSweepMin {
		t.Fatalf("%d entries cached after 10,000 sessions seen once", n)
	}
	w.down.Store(true)
	before := w.gets.Load()
	if revoked, err := rv.check(t.Context(), "gone"); !revoked || err != nil {
		t.Fatalf("sign-out lost in a sweep: revoked=%v err=%v", revoked, err)
	}
	if revoked, err := rv.check(t.Context(), "s9999"); revoked || err != nil || w.gets.Load() != before {
		t.Fatalf("fresh answer lost in a sweep: revoked=%v err=%v reads=%d", revoked, err, w.gets.Load()-before)
	}
}

package broker

import (
	"context"
	"errors"
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
}

func (w *watchedStore) Get(ctx context.Context, key string) ([]byte, error) {
	w.gets.Add(1)
	if w.down.Load() {
		return nil, errors.New("connection refused")
	}
	return w.Memory.Get(ctx, key)
}

func (w *watchedStore) Watch(_ context.Context, changed func(string), reset func()) {
	w.changed, w.reset = changed, reset
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

// TestRevocationLocalStoreNoCache: a local store is asked every time.
func TestRevocationLocalStoreNoCache(t *testing.T) {
	m := store.NewMemory(nil)
	rv := newRevocations(t.Context(), m, time.Now)
	if rv.cached != nil {
		t.Fatal("a memory store got a cache")
	}
	_ = m.Put(t.Context(), "revoked:s3", []byte{1}, time.Time{})
	if revoked, err := rv.check(t.Context(), "s3"); !revoked || err != nil {
		t.Fatalf("check = %v, %v; want revoked", revoked, err)
	}
}

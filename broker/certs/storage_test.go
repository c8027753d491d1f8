package certs

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
)

// newStorage is a Storage on st sealing under a new cookie key.
func newStorage(t *testing.T, st store.Store) *Storage {
	t.Helper()
	return sealedStorage(t, st, &bytes.Buffer{}, cookieKey(t))
}

// sealedStorage is a Storage on st sealing under ks, logging to logs.
func sealedStorage(t *testing.T, st store.Store, logs *bytes.Buffer, ks ...keys.CookieKey) *Storage {
	t.Helper()
	seal, err := broker.NewStoreSealer(ks)
	if err != nil {
		t.Fatal(err)
	}
	return NewStorage(st, seal, slog.New(slog.NewTextHandler(logs, nil)))
}

func cookieKey(t *testing.T) keys.CookieKey {
	t.Helper()
	k, err := keys.GenerateCookieKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStoragePrivateKeysSealed: a private key reaches the store sealed (no
// PEM in it), opens with any listed cookie key, and reads as absent when
// none opens it (keys rotated out) or when it was moved to another name;
// certificates stay as they are.
func TestStoragePrivateKeysSealed(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(nil)
	old, cur := cookieKey(t), cookieKey(t)
	s := sealedStorage(t, st, &bytes.Buffer{}, old)
	const keyName, certName = "certificates/ca/a.example/a.example.key", "certificates/ca/a.example/a.example.crt"
	pemKey := []byte("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI...\n-----END EC PRIVATE KEY-----\n")
	pemCert := []byte("-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n")
	for name, v := range map[string][]byte{keyName: pemKey, certName: pemCert, "acme/ca/users/ops/ops.key": pemKey} {
		if err := s.Store(ctx, name, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{keyName, "acme/ca/users/ops/ops.key"} {
		if raw, err := st.Get(ctx, "acme:v:"+name); err != nil || bytes.Contains(raw, []byte("PRIVATE KEY")) {
			t.Fatalf("%s in the store: %q %v", name, raw, err)
		}
	}
	if raw, _ := st.Get(ctx, "acme:v:"+certName); !bytes.HasSuffix(raw, pemCert) {
		t.Fatalf("certificate in the store: %q", raw)
	}

	// Rotated: the old key is still listed, after the new one.
	if v, err := sealedStorage(t, st, &bytes.Buffer{}, cur, old).Load(ctx, keyName); err != nil || !bytes.Equal(v, pemKey) {
		t.Fatalf("round trip: %q %v", v, err)
	}
	// Dropped: absent (certmagic orders anew), and the log says why.
	logs := &bytes.Buffer{}
	if _, err := sealedStorage(t, st, logs, cur).Load(ctx, keyName); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(logs.String(), "does not open") {
		t.Fatalf("unopenable key: %v; log %q", err, logs)
	}
	// Moved to another name: absent too.
	raw, _ := st.Get(ctx, "acme:v:"+keyName)
	_ = st.Put(ctx, "acme:v:certificates/ca/b.example/b.example.key", raw, time.Time{})
	if _, err := s.Load(ctx, "certificates/ca/b.example/b.example.key"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("moved key: %v", err)
	}
}

func TestStorageFiles(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, store.NewMemory(nil))
	for _, k := range []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key", "certificates/ca/b.example/b.example.crt", "acme/ca/users/x.json"} {
		if err := s.Store(ctx, k, []byte("v:"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if v, err := s.Load(ctx, "certificates//ca/a.example/a.example.crt"); err != nil || string(v) != "v:certificates/ca/a.example/a.example.crt" {
		t.Fatalf("load: %q %v", v, err)
	}
	if _, err := s.Load(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("load missing: %v, want fs.ErrNotExist", err)
	}
	tests := []struct {
		dir       string
		recursive bool
		want      []string
	}{
		{"certificates/ca", false, []string{"certificates/ca/a.example", "certificates/ca/b.example"}},
		{"certificates", true, []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key", "certificates/ca/b.example/b.example.crt"}},
		{"certificates/ca/a.example", false, []string{"certificates/ca/a.example/a.example.crt", "certificates/ca/a.example/a.example.key"}},
		{"", false, []string{"acme", "certificates"}},
	}
	for _, tc := range tests {
		got, err := s.List(ctx, tc.dir, tc.recursive)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(%q, %v) = %q, %v; want %q", tc.dir, tc.recursive, got, err, tc.want)
		}
	}
	if _, err := s.List(ctx, "certificates/c", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a name prefix is not a directory: %v", err)
	}
	ki, err := s.Stat(ctx, "certificates/ca/b.example/b.example.crt")
	if err != nil || !ki.IsTerminal || ki.Size != int64(len("v:certificates/ca/b.example/b.example.crt")) || time.Since(ki.Modified) > time.Minute {
		t.Fatalf("stat file: %+v %v", ki, err)
	}
	if ki, err := s.Stat(ctx, "certificates/ca"); err != nil || ki.IsTerminal {
		t.Fatalf("stat dir: %+v %v", ki, err)
	}
	if !s.Exists(ctx, "certificates/ca/a.example") || s.Exists(ctx, "certificates/ca/c.example") {
		t.Fatal("Exists wrong")
	}
	if err := s.Delete(ctx, "certificates/ca/a.example"); err != nil {
		t.Fatal(err)
	}
	if s.Exists(ctx, "certificates/ca/a.example/a.example.key") {
		t.Fatal("deleting a directory left a key under it")
	}
	if got, _ := s.List(ctx, "certificates", true); !slices.Equal(got, []string{"certificates/ca/b.example/b.example.crt"}) {
		t.Fatalf("after delete: %q", got)
	}
	if err := s.Delete(ctx, "never/was"); err != nil {
		t.Fatalf("deleting an absent key: %v", err)
	}
}

// TestStorageLockTwoReplicas: two Storages on one store stand for two
// replicas; only one holds a name at a time, the other waits for Unlock.
func TestStorageLockTwoReplicas(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(nil)
	a, b := newStorage(t, st), newStorage(t, st)
	a.poll, b.poll = 10*time.Millisecond, 10*time.Millisecond
	var inside, max atomic.Int32
	var wg sync.WaitGroup
	for i, s := range []*Storage{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Lock(ctx, "issue_cert_sso.example"); err != nil {
				t.Errorf("lock %d: %v", i, err)
				return
			}
			n := inside.Add(1)
			for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
			}
			time.Sleep(30 * time.Millisecond)
			inside.Add(-1)
			if err := s.Unlock(ctx, "issue_cert_sso.example"); err != nil {
				t.Errorf("unlock %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if max.Load() != 1 {
		t.Fatalf("%d holders at once, want 1", max.Load())
	}
	// A different name is independent.
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Lock(ctx, "y"); err != nil {
		t.Fatal(err)
	}
	// A waiter gives up when its context ends.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock held elsewhere: %v, want deadline exceeded", err)
	}
	if err := b.Unlock(ctx, "x"); err == nil {
		t.Fatal("unlocking a lock this replica does not hold succeeded")
	}
}

// TestStorageLockRefreshAndExpiry: a held lock outlives lockTTL (refreshed);
// a replica that dies holding it frees it after lockTTL.
func TestStorageLockRefreshAndExpiry(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(nil)
	a, b := newStorage(t, st), newStorage(t, st)
	for _, s := range []*Storage{a, b} {
		s.lockTTL, s.poll = 150*time.Millisecond, 10*time.Millisecond
	}
	if err := a.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 400*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, "n"); err == nil {
		t.Fatal("b took a lock a holds and refreshes")
	}
	// a dies: its refresher stops, the lock is never released.
	a.mu.Lock()
	a.held["n"].stop()
	a.mu.Unlock()
	start := time.Now()
	if err := b.Lock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v to take over a dead holder's lock", d)
	}
	// a's late Unlock must not release b's lock.
	if err := a.Unlock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.Claim(ctx, b.lockKey("n"), time.Now().Add(time.Minute)); ok {
		t.Fatal("a's stale Unlock deleted b's lock")
	}
	if err := b.Unlock(ctx, "n"); err != nil {
		t.Fatal(err)
	}
}

// TestStorageIndexConcurrent: keys stored at once by two replicas all land in
// the shared index.
func TestStorageIndexConcurrent(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory(nil)
	a, b := newStorage(t, st), newStorage(t, st)
	a.poll, b.poll = time.Millisecond, time.Millisecond
	var wg sync.WaitGroup
	for i := range 20 {
		s := []*Storage{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Store(ctx, "d/"+string(rune('a'+i)), []byte{1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, err := b.List(ctx, "d", false); err != nil || len(got) != 20 {
		t.Fatalf("index has %d keys (%v), want 20", len(got), err)
	}
}

// Package storetest is the contract every store.Store implementation must meet. Each
// implementation's tests call Run; a new backend (Redis) passes when Run passes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

// Run runs the contract suite against stores returned by open, which must return a
// fresh, empty store using now as its clock and register t.Cleanup to Close it
// (Close is idempotent, so the suite may close it first).
func Run(t *testing.T, open func(t *testing.T, now func() time.Time) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, c *Clock)
	}{
		{"ClaimFirstThenSecond", testClaimTwice},
		{"ClaimAfterExpiry", testClaimAfterExpiry},
		{"ClaimConcurrent", testClaimConcurrent},
		{"ClaimConcurrentManyKeys", testClaimConcurrentManyKeys},
		{"ClaimRejectsPastOrZeroExpiry", testClaimBadExpiry},
		{"IncrCounts", testIncrCounts},
		{"IncrWindowResets", testIncrWindow},
		{"IncrConcurrent", testIncrConcurrent},
		{"IncrConcurrentDistinct", testIncrConcurrentDistinct},
		{"IncrRejects", testIncrRejects},
		{"DecrGivesBack", testDecr},
		{"DecrConcurrent", testDecrConcurrent},
		{"PutGetDelete", testPutGetDelete},
		{"Expiry", testExpiry},
		{"ZeroExpiryNeverExpires", testZeroExpiry},
		{"NotAliased", testNotAliased},
		{"InvalidKey", testInvalidKey},
		{"CancelledContext", testCancelled},
		{"Close", testClose},
		{"Watch", testWatch},
		{"Keys", testKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewClock()
			tt.fn(t, open(t, c.Now), c)
		})
	}
}

func claim(t *testing.T, s store.Store, key string, exp time.Time) bool {
	t.Helper()
	ok, err := s.Claim(t.Context(), key, exp)
	if err != nil {
		t.Fatalf("Claim(%q): %v", key, err)
	}
	return ok
}

func incr(t *testing.T, s store.Store, key string, w time.Duration) int64 {
	t.Helper()
	n, err := s.Incr(t.Context(), key, w)
	if err != nil {
		t.Fatalf("Incr(%q): %v", key, err)
	}
	return n
}

func put(t *testing.T, s store.Store, key string, v []byte, exp time.Time) {
	t.Helper()
	if err := s.Put(t.Context(), key, v, exp); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func wantValue(t *testing.T, s store.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, got, err)
	}
}

func testClaimTwice(t *testing.T, s store.Store, c *Clock) {
	exp := c.Now().Add(time.Minute)
	if !claim(t, s, "code:a", exp) {
		t.Fatal("first Claim = false, want true")
	}
	if claim(t, s, "code:a", exp) {
		t.Fatal("second Claim = true, want false")
	}
	if !claim(t, s, "code:b", exp) {
		t.Fatal("Claim of another key = false, want true")
	}
	put(t, s, "code:c", []byte("x"), time.Time{})
	if claim(t, s, "code:c", exp) {
		t.Fatal("Claim over a live Put value = true, want false")
	}
}

func testClaimAfterExpiry(t *testing.T, s store.Store, c *Clock) {
	if !claim(t, s, "totp:1", c.Now().Add(30*time.Second)) {
		t.Fatal("first Claim = false")
	}
	c.Advance(29 * time.Second)
	if claim(t, s, "totp:1", c.Now().Add(30*time.Second)) {
		t.Fatal("Claim before expiry = true")
	}
	c.Advance(time.Second) // exactly at expiry: the marker is gone
	if !claim(t, s, "totp:1", c.Now().Add(30*time.Second)) {
		t.Fatal("Claim at expiry = false, want true")
	}
}

func testClaimConcurrent(t *testing.T, s store.Store, c *Clock) {
	const n = 100
	var wins, errs atomic.Int64
	var wg sync.WaitGroup
	exp := c.Now().Add(time.Minute)
	for range n {
		wg.Go(func() {
			ok, err := s.Claim(context.Background(), "assertion:x", exp)
			if err != nil {
				errs.Add(1)
			} else if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if errs.Load() != 0 || wins.Load() != 1 {
		t.Fatalf("%d concurrent Claims: %d won, %d errors; want exactly 1 win, 0 errors", n, wins.Load(), errs.Load())
	}
}

// testClaimConcurrentManyKeys has several contenders for each of many keys, so a
// store that commits writes in groups sees the same key claimed twice in one group.
func testClaimConcurrentManyKeys(t *testing.T, s store.Store, c *Clock) {
	const keys, contenders = 50, 8
	var wins [keys]atomic.Int64
	var errs atomic.Int64
	var wg sync.WaitGroup
	exp := c.Now().Add(time.Minute)
	for i := range keys {
		for range contenders {
			wg.Go(func() {
				ok, err := s.Claim(context.Background(), "code:"+strconv.Itoa(i), exp)
				if err != nil {
					errs.Add(1)
				} else if ok {
					wins[i].Add(1)
				}
			})
		}
	}
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d Claims failed", errs.Load())
	}
	for i := range wins {
		if n := wins[i].Load(); n != 1 {
			t.Errorf("key %d: %d of %d contenders won, want exactly 1", i, n, contenders)
		}
	}
}

func testClaimBadExpiry(t *testing.T, s store.Store, c *Clock) {
	for name, exp := range map[string]time.Time{"zero": {}, "now": c.Now(), "past": c.Now().Add(-time.Second)} {
		if ok, err := s.Claim(t.Context(), "k", exp); !errors.Is(err, store.ErrInvalidArgument) || ok {
			t.Errorf("Claim with %s expiry = %v, %v; want false, ErrInvalidArgument", name, ok, err)
		}
	}
}

func testIncrCounts(t *testing.T, s store.Store, _ *Clock) {
	for want := int64(1); want <= 5; want++ {
		if got := incr(t, s, "login:alice", time.Minute); got != want {
			t.Fatalf("Incr #%d = %d", want, got)
		}
	}
	if got := incr(t, s, "login:bob", time.Minute); got != 1 {
		t.Fatalf("Incr of another key = %d, want 1", got)
	}
	wantValue(t, s, "login:alice", []byte("5"))
}

func testIncrWindow(t *testing.T, s store.Store, c *Clock) {
	incr(t, s, "k", time.Minute)
	c.Advance(40 * time.Second)
	if got := incr(t, s, "k", time.Minute); got != 2 {
		t.Fatalf("Incr inside window = %d, want 2", got)
	}
	// The window is fixed from the first Incr; the second did not extend it.
	c.Advance(20 * time.Second)
	if got := incr(t, s, "k", time.Minute); got != 1 {
		t.Fatalf("Incr after window = %d, want 1 (reset)", got)
	}
	c.Advance(59 * time.Second)
	if got := incr(t, s, "k", time.Minute); got != 2 {
		t.Fatalf("Incr in new window = %d, want 2", got)
	}
}

func testIncrConcurrent(t *testing.T, s store.Store, _ *Clock) {
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = s.Incr(context.Background(), "k", time.Minute) })
	}
	wg.Wait()
	wantValue(t, s, "k", []byte(strconv.Itoa(n)))
}

// testIncrConcurrentDistinct checks what each caller was told, not only the final
// count: every Incr must return its own value, 1..n, as if run one after another.
func testIncrConcurrentDistinct(t *testing.T, s store.Store, _ *Clock) {
	const n = 100
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			v, err := s.Incr(context.Background(), "k", time.Minute)
			if err != nil {
				t.Errorf("Incr: %v", err)
				return
			}
			mu.Lock()
			seen[v]++
			mu.Unlock()
		})
	}
	wg.Wait()
	for v := int64(1); v <= n; v++ {
		if seen[v] != 1 {
			t.Errorf("Incr returned %d to %d callers, want exactly 1", v, seen[v])
		}
	}
}

func testIncrRejects(t *testing.T, s store.Store, _ *Clock) {
	if _, err := s.Incr(t.Context(), "k", 0); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("Incr with zero window: %v, want ErrInvalidArgument", err)
	}
	put(t, s, "blob", []byte("not a number"), time.Time{})
	if _, err := s.Incr(t.Context(), "blob", time.Minute); !errors.Is(err, store.ErrNotCounter) {
		t.Errorf("Incr of a non-counter: %v, want ErrNotCounter", err)
	}
}

func decr(t *testing.T, s store.Store, key string) int64 {
	t.Helper()
	n, err := s.Decr(t.Context(), key)
	if err != nil {
		t.Fatalf("Decr(%q): %v", key, err)
	}
	return n
}

func testDecr(t *testing.T, s store.Store, c *Clock) {
	if got := decr(t, s, "absent"); got != 0 {
		t.Fatalf("Decr of an absent key = %d, want 0", got)
	}
	wantNotFound(t, s, "absent") // not created
	incr(t, s, "k", time.Minute)
	incr(t, s, "k", time.Minute)
	c.Advance(40 * time.Second)
	if got := decr(t, s, "k"); got != 1 {
		t.Fatalf("Decr = %d, want 1", got)
	}
	if got := decr(t, s, "k"); got != 0 {
		t.Fatalf("Decr = %d, want 0", got)
	}
	if got := decr(t, s, "k"); got != 0 {
		t.Fatalf("Decr below zero = %d, want 0", got)
	}
	if got := incr(t, s, "k", time.Minute); got != 1 {
		t.Fatalf("Incr after Decr = %d, want 1", got)
	}
	// Decr kept the window of the first Incr.
	c.Advance(20 * time.Second)
	wantNotFound(t, s, "k")
	if got := decr(t, s, "k"); got != 0 {
		t.Fatalf("Decr of an expired counter = %d, want 0", got)
	}
	wantNotFound(t, s, "k")
	put(t, s, "blob", []byte("not a number"), time.Time{})
	if _, err := s.Decr(t.Context(), "blob"); !errors.Is(err, store.ErrNotCounter) {
		t.Errorf("Decr of a non-counter: %v, want ErrNotCounter", err)
	}
	if _, err := s.Decr(t.Context(), ""); !errors.Is(err, store.ErrInvalidArgument) {
		t.Errorf("Decr of an empty key: %v, want ErrInvalidArgument", err)
	}
}

func testDecrConcurrent(t *testing.T, s store.Store, _ *Clock) {
	const n = 50
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = s.Incr(context.Background(), "k", time.Minute) })
		wg.Go(func() { _, _ = s.Incr(context.Background(), "k", time.Minute) })
	}
	wg.Wait()
	for range n {
		wg.Go(func() { _, _ = s.Decr(context.Background(), "k") })
	}
	wg.Wait()
	wantValue(t, s, "k", []byte(strconv.Itoa(n)))
}

func testPutGetDelete(t *testing.T, s store.Store, c *Clock) {
	exp := c.Now().Add(time.Hour)
	wantNotFound(t, s, "mfa:alice")
	put(t, s, "mfa:alice", []byte("v1"), exp)
	wantValue(t, s, "mfa:alice", []byte("v1"))
	put(t, s, "mfa:alice", []byte("v2"), exp)
	wantValue(t, s, "mfa:alice", []byte("v2"))
	put(t, s, "empty", nil, exp)
	wantValue(t, s, "empty", []byte{})
	for range 2 { // the second Delete is of an absent key
		if err := s.Delete(t.Context(), "mfa:alice"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	wantNotFound(t, s, "mfa:alice")
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testExpiry(t *testing.T, s store.Store, c *Clock) {
	put(t, s, "k", []byte("v"), c.Now().Add(time.Minute))
	c.Advance(time.Minute - time.Nanosecond)
	wantValue(t, s, "k", []byte("v"))
	c.Advance(time.Nanosecond)
	wantNotFound(t, s, "k")
	put(t, s, "past", []byte("v"), c.Now().Add(-time.Second))
	wantNotFound(t, s, "past")
}

func testZeroExpiry(t *testing.T, s store.Store, c *Clock) {
	put(t, s, "k", []byte("v"), time.Time{})
	c.Advance(100 * 365 * 24 * time.Hour)
	wantValue(t, s, "k", []byte("v"))
}

func testNotAliased(t *testing.T, s store.Store, _ *Clock) {
	in := []byte("abc")
	put(t, s, "k", in, time.Time{})
	in[0] = 'X'
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	got[1] = 'Y'
	wantValue(t, s, "k", []byte("abc"))
}

func testInvalidKey(t *testing.T, s store.Store, _ *Clock) {
	long := string(make([]byte, store.MaxKeyLen+1))
	for name, key := range map[string]string{"empty": "", "too long": long} {
		if err := s.Put(t.Context(), key, []byte("v"), time.Time{}); !errors.Is(err, store.ErrInvalidArgument) {
			t.Errorf("Put with %s key: %v, want ErrInvalidArgument", name, err)
		}
	}
	put(t, s, string(make([]byte, store.MaxKeyLen)), []byte("v"), time.Time{})
}

func testCancelled(t *testing.T, s store.Store, c *Clock) {
	put(t, s, "k", []byte("v"), time.Time{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	exp := c.Now().Add(time.Minute)
	ops := map[string]func() error{
		"Claim":  func() error { _, err := s.Claim(ctx, "c", exp); return err },
		"Incr":   func() error { _, err := s.Incr(ctx, "i", time.Minute); return err },
		"Decr":   func() error { _, err := s.Decr(ctx, "i"); return err },
		"Put":    func() error { return s.Put(ctx, "p", []byte("v"), exp) },
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"Delete": func() error { return s.Delete(ctx, "k") },
		"Ping":   func() error { return s.Ping(ctx) },
	}
	for name, op := range ops {
		if err := op(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled ctx: %v, want context.Canceled", name, err)
		}
	}
	// Nothing happened: the cancelled calls must not have written or deleted.
	wantValue(t, s, "k", []byte("v"))
	if !claim(t, s, "c", exp) {
		t.Error("cancelled Claim left a marker behind")
	}
}

func testClose(t *testing.T, s store.Store, c *Clock) {
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Claim(t.Context(), "k", c.Now().Add(time.Minute)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Claim after Close: %v, want ErrClosed", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
}

// testWatch: a store that is a Watcher (all of fedgate's are) calls reset
// once the watcher is registered, tells it the key of every Put and Delete
// in order (not of Claim or Incr, which the revocation cache never reads),
// and ends Watch at Close.
func testWatch(t *testing.T, s store.Store, c *Clock) {
	w, ok := s.(store.Watcher)
	if !ok {
		t.Fatalf("%T is not a store.Watcher", s)
	}
	heard := make(chan string, 16)
	var resets atomic.Int64
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		w.Watch(context.Background(), func(k string) { heard <- k }, func() { t.Error("lost called by a store that misses nothing") }, func() { resets.Add(1) })
	}()
	for i := 0; resets.Load() == 0; i++ {
		if i == 500 {
			t.Fatal("reset never called: the watcher was not registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, exp := t.Context(), c.Now().Add(time.Minute)
	must(t, s.Put(ctx, "revoked:a", []byte{1}, exp))
	if _, err := s.Claim(ctx, "code:x", exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "fail:y", time.Minute); err != nil {
		t.Fatal(err)
	}
	must(t, s.Delete(ctx, "revoked:a"))
	must(t, s.Put(ctx, "revoked:b", []byte{1}, exp))
	for _, want := range []string{"revoked:a", "revoked:a", "revoked:b"} {
		select {
		case got := <-heard:
			if got != want {
				t.Fatalf("heard %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s never heard", want)
		}
	}
	must(t, s.Close())
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running after Close")
	}
}

// testKeys: a store that is a Lister (all of fedgate's are) lists exactly
// the live keys under a prefix, whatever they hold, taking the prefix
// literally (no pattern characters), and refuses an empty prefix.
func testKeys(t *testing.T, s store.Store, c *Clock) {
	l, ok := s.(store.Lister)
	if !ok {
		t.Fatalf("%T is not a store.Lister", s)
	}
	ctx, now := t.Context(), c.Now()
	put(t, s, "revoked:a", []byte{1}, now.Add(time.Minute))
	put(t, s, "revoked:b", []byte{1}, now.Add(time.Hour))
	put(t, s, "revoked:forever", nil, time.Time{})
	put(t, s, "revoked*[x]\\?", []byte{1}, now.Add(time.Hour))
	put(t, s, "revokedX", []byte{1}, now.Add(time.Hour))
	put(t, s, "mfa:revoked:c", []byte{1}, now.Add(time.Hour))
	claim(t, s, "revoked:claimed", now.Add(time.Hour))
	incr(t, s, "revoked:counted", time.Hour)
	keys := func(prefix string, want ...string) {
		t.Helper()
		got, err := l.Keys(ctx, prefix)
		if err != nil {
			t.Fatalf("Keys(%q): %v", prefix, err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("Keys(%q) = %q, want %q", prefix, got, want)
		}
	}
	keys("revoked:", "revoked:a", "revoked:b", "revoked:forever", "revoked:claimed", "revoked:counted")
	keys("revoked*[", "revoked*[x]\\?")
	keys("nothing:")
	c.Advance(time.Minute)
	keys("revoked:", "revoked:b", "revoked:forever", "revoked:claimed", "revoked:counted")
	if _, err := l.Keys(ctx, ""); !errors.Is(err, store.ErrInvalidArgument) {
		t.Fatalf("Keys with an empty prefix: %v, want ErrInvalidArgument", err)
	}
	must(t, s.Close())
	if _, err := l.Keys(ctx, "revoked:"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Keys after Close: %v, want ErrClosed", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

// openRedis gives each test its own key prefix on one shared server, so the
// suite's parallel tests never see each other's keys.
func openRedis(t *testing.T, srv *storetest.RedisServer, now func() time.Time) *store.Redis {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	s := store.NewRedis(c, "test:"+t.Name()+":", now)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRedis(t *testing.T) {
	srv := storetest.StartRedis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openRedis(t, srv, now)
	})
}

// TestRedisTTL: Redis itself drops what has expired, so nothing grows without
// bound; a zero expiry keeps the key.
func TestRedisTTL(t *testing.T) {
	srv := storetest.StartRedis(t)
	s := openRedis(t, srv, nil)
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	ctx := t.Context()
	p := "test:" + t.Name() + ":"
	if _, err := s.Claim(ctx, "code:1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "login:a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "revoked:x", []byte{1}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "mfa:alice", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]time.Duration{"code:1": time.Minute, "login:a": 30 * time.Second, "revoked:x": time.Hour} {
		got := raw.PTTL(ctx, p+key).Val()
		if got <= want-5*time.Second || got > want {
			t.Errorf("PTTL(%s) = %v, want about %v", key, got, want)
		}
	}
	if got := raw.PTTL(ctx, p+"mfa:alice").Val(); got != -1 {
		t.Errorf("PTTL of a key that never expires = %v, want -1 (no TTL)", got)
	}
	if n := raw.Exists(ctx, "code:1").Val(); n != 0 {
		t.Errorf("a key was written without the prefix")
	}
}

// TestRedisWatch: a Put or Delete through one client reaches the watcher of
// another, and a restarted server resets the watcher (changes were missed).
func TestRedisWatch(t *testing.T) {
	srv := storetest.StartRedis(t)
	a, b := openRedis(t, srv, nil), openRedis(t, srv, nil)
	changed := make(chan string, 10)
	var resets atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { b.Watch(ctx, func(k string) { changed <- k }, func() { resets.Add(1) }) })
	defer wg.Wait()
	defer cancel()
	waitUntil(t, "subscribed", func() bool { return resets.Load() == 1 })
	if err := a.Put(ctx, "revoked:s1", []byte{1}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, "mfa:bob"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"revoked:s1", "mfa:bob"} {
		select {
		case got := <-changed:
			if got != want {
				t.Fatalf("changed %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no change heard for %s", want)
		}
	}
	if _, err := a.Claim(ctx, "code:z", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if err := a.Ping(ctx); err == nil {
		t.Fatal("Ping with the server stopped = nil")
	}
	srv.Start()
	waitUntil(t, "resubscribed", func() bool { return resets.Load() >= 3 })
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("Ping after the server came back: %v", err)
	}
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 500 {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting: %s", what)
}

// TestRedisSlow: a Redis that stops answering for 1s costs a caller at most
// the client's timeout (then an error, which the broker turns into a 503
// page: fail closed), and the store answers again when Redis does.
func TestRedisSlow(t *testing.T) {
	srv := storetest.StartRedis(t)
	const timeout = 200 * time.Millisecond
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1})
	s := store.NewRedis(c, "test:slow:", nil)
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Get(t.Context(), "revoked:x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get before the pause: %v", err)
	}
	srv.Pause(time.Second)
	start := time.Now()
	_, err := s.Get(t.Context(), "revoked:x")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get while Redis is frozen: %v; want an error", err)
	}
	if d := time.Since(start); d > 3*timeout {
		t.Errorf("Get while frozen took %v; want about the %v timeout", d, timeout)
	}
	waitUntil(t, "Redis answers again", func() bool { return s.Ping(t.Context()) == nil })
}

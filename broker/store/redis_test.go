package store_test

import (
	"context"
	"errors"
	"os/exec"
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
// another; a stopped server is reported lost at once, and reset only once
// the subscription is back (changes were missed in between).
func TestRedisWatch(t *testing.T) {
	srv := storetest.StartRedis(t)
	a, w := watchOther(t, srv)
	changed, resets, losts, ctx := w.changed, &w.resets, &w.losts, t.Context()
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
	waitUntil(t, "lost", func() bool { return losts.Load() == 1 })
	if n := resets.Load(); n != 1 {
		t.Fatalf("%d resets with the server down; want 1 (the first subscription)", n)
	}
	srv.Start()
	waitUntil(t, "resubscribed", func() bool { return resets.Load() == 2 })
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("Ping after the server came back: %v", err)
	}
}

// watched is what a watcher heard.
type watched struct {
	changed       chan string
	resets, losts atomic.Int64
}

// watchOther opens two stores on srv and watches the second until the test
// ends; it returns the first once the watcher has subscribed.
func watchOther(t *testing.T, srv *storetest.RedisServer) (*store.Redis, *watched) {
	a, b := openRedis(t, srv, nil), openRedis(t, srv, nil)
	w := &watched{changed: make(chan string, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Watch(ctx, func(k string) { w.changed <- k }, func() { w.losts.Add(1) }, func() { w.resets.Add(1) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitUntil(t, "subscribed", func() bool { return w.resets.Load() == 1 })
	return a, w
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

// TestRedisWatchSilentFeed: a Redis that stops answering (frozen, its
// connections open: nothing tells the watcher it broke) is reported lost
// within two beats; an idle healthy feed never is; once Redis answers the
// watcher hears reset, and changes again.
func TestRedisWatchSilentFeed(t *testing.T) {
	srv := storetest.StartRedis(t)
	a, w := watchOther(t, srv)
	changed, resets, losts, ctx := w.changed, &w.resets, &w.losts, t.Context()
	time.Sleep(2500 * time.Millisecond) // an idle feed that answers its pings is not lost
	if n := losts.Load(); n != 0 {
		t.Fatalf("%d losts on an idle, healthy feed; want 0", n)
	}
	start := time.Now()
	srv.Pause(4 * time.Second)
	waitUntil(t, "lost while frozen", func() bool { return losts.Load() == 1 })
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("lost %v after the freeze; want within two beats (2 s)", d)
	}
	if n := resets.Load(); n != 1 {
		t.Fatalf("reset while Redis is still frozen (%d)", n)
	}
	waitUntil(t, "reset once Redis answers", func() bool { return resets.Load() == 2 })
	if err := a.Put(ctx, "revoked:after", []byte{1}, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case k := <-changed:
			if k == "revoked:after" {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no change heard after Redis came back")
		}
	}
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

// TestRedisCluster: the store and its change feed on a three-node Redis
// Cluster (redis-server --cluster-enabled, joined by redis-cli --cluster
// create): keys spread over the nodes, the scripts and the announcements
// work, and a watcher hears a change made through another node.
func TestRedisCluster(t *testing.T) {
	var addrs []string
	for range 3 {
		// The bus port is set: the default (port + 10000) may not exist.
		srv := storetest.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(freePort(t)))
		addrs = append(addrs, srv.Addr)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli (package redis-tools, installed with redis-server): %v", err)
	}
	cctx, stop := context.WithTimeout(t.Context(), 30*time.Second)
	defer stop()
	if out, err := exec.CommandContext(cctx, cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput(); err != nil {
		t.Fatalf("cluster create: %v\n%s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	waitUntil(t, "cluster_state:ok", func() bool {
		info, err := c.ClusterInfo(t.Context()).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	a := store.NewRedis(c, "fedgate:", nil)
	t.Cleanup(func() { _ = a.Close() })
	b := store.NewRedis(redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs}), "fedgate:", nil)
	t.Cleanup(func() { _ = b.Close() })

	changed := make(chan string, 100)
	var resets atomic.Int64
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { b.Watch(ctx, func(k string) { changed <- k }, func() {}, func() { resets.Add(1) }) })
	defer wg.Wait()
	defer cancel()
	waitUntil(t, "subscribed", func() bool { return resets.Load() >= 1 })

	exp := time.Now().Add(time.Minute)
	for i := range 20 { // 20 keys land on all three nodes
		key := "code:" + strconv.Itoa(i)
		if first, err := a.Claim(ctx, key, exp); !first || err != nil {
			t.Fatalf("Claim(%s) = %v, %v", key, first, err)
		}
		if again, err := b.Claim(ctx, key, exp); again || err != nil {
			t.Fatalf("second Claim(%s) through another client = %v, %v", key, again, err)
		}
		if n, err := a.Incr(ctx, "login:"+strconv.Itoa(i), time.Minute); n != 1 || err != nil {
			t.Fatalf("Incr = %d, %v", n, err)
		}
	}
	if err := a.Put(ctx, "revoked:c1", []byte{1}, exp); err != nil {
		t.Fatal(err)
	}
	select {
	case k := <-changed:
		if k != "revoked:c1" {
			t.Fatalf("changed %q", k)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher on another client heard no change")
	}
	if _, err := b.Get(ctx, "revoked:c1"); err != nil {
		t.Fatalf("Get through another client: %v", err)
	}
}

// freePort: see storetest.FreePort (a port no outgoing connection takes).
var freePort = storetest.FreePort

// TestRedisCloseEndsWatch: the broker watches with a context that never
// ends; closing the store must end the watch (no goroutine left behind).
func TestRedisCloseEndsWatch(t *testing.T) {
	srv := storetest.StartRedis(t)
	s := store.NewRedis(redis.NewClient(&redis.Options{Addr: srv.Addr}), "test:close:", nil)
	var resets atomic.Int64
	done := make(chan struct{})
	go func() {
		s.Watch(context.Background(), func(string) {}, func() {}, func() { resets.Add(1) })
		close(done)
	}()
	waitUntil(t, "subscribed", func() bool { return resets.Load() >= 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running after Close")
	}
}

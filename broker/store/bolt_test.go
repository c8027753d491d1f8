package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

func openBolt(t *testing.T, path string, now func() time.Time) *store.Bolt {
	t.Helper()
	s, err := store.OpenBolt(path, now)
	if err != nil {
		t.Fatalf("OpenBolt: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "fedgate.db"), now)
	})
}

func TestBoltCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "fedgate.db")
	openBolt(t, path, nil)
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", p, got, want)
		}
	}
}

func TestBoltSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fedgate.db")
	clock := storetest.NewClock()
	s := openBolt(t, path, clock.Now)
	exp := clock.Now().Add(time.Hour)
	if err := s.Put(t.Context(), "mfa:alice", []byte("secret"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(t.Context(), "code:1", exp); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, path, clock.Now)
	got, err := s.Get(t.Context(), "mfa:alice")
	if err != nil || string(got) != "secret" {
		t.Fatalf("Get after reopen = %q, %v", got, err)
	}
	// A restart must not let a used code be replayed.
	if ok, err := s.Claim(t.Context(), "code:1", exp); ok || err != nil {
		t.Fatalf("Claim after reopen = %v, %v; want false", ok, err)
	}
}

func TestBoltSecondOpenFailsClearly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fedgate.db")
	openBolt(t, path, nil)
	start := time.Now()
	s, err := store.OpenBolt(path, nil)
	if err == nil {
		_ = s.Close()
		t.Fatal("second OpenBolt succeeded while the first holds the lock")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("second OpenBolt: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second OpenBolt took %v; want about the 2s lock timeout", d)
	}
}

func TestBoltSweep(t *testing.T) {
	clock := storetest.NewClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "fedgate.db"), clock.Now)
	ctx := t.Context()
	// More than one sweep batch, so batching is exercised.
	const expiring = 1500
	for i := range expiring {
		if err := s.Put(ctx, "old:"+strconv.Itoa(i), []byte("v"), clock.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Put(ctx, "keep:forever", []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "keep:later", []byte("v"), clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	before := txID(t, s)
	if n, err := s.Sweep(); n != 0 || err != nil {
		t.Fatalf("Sweep before expiry = %d, %v; want 0", n, err)
	}
	if got := txID(t, s); got != before {
		t.Errorf("a sweep that found nothing expired made %d commits", got-before)
	}
	clock.Advance(time.Minute)
	if n, err := s.Sweep(); n != expiring || err != nil {
		t.Fatalf("Sweep = %d, %v; want %d", n, err, expiring)
	}
	for _, k := range []string{"keep:forever", "keep:later"} {
		if _, err := s.Get(ctx, k); err != nil {
			t.Errorf("Get(%q) after sweep: %v", k, err)
		}
	}
}

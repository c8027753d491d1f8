package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/broker/store/storetest"
)

func txID(t *testing.T, s *store.Bolt) int {
	t.Helper()
	id, err := s.TxID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// A write that changes nothing must not pay for a commit (an fsync).
func TestBoltNoWriteWhenNothingChanges(t *testing.T) {
	clock := storetest.NewClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "fedgate.db"), clock.Now)
	ctx := t.Context()
	exp := clock.Now().Add(time.Hour)
	if ok, err := s.Claim(ctx, "code:1", exp); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	if err := s.Put(ctx, "mfa:alice", []byte("v"), exp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Incr(ctx, "zero", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Decr(ctx, "zero"); err != nil {
		t.Fatal(err)
	}
	before := txID(t, s)
	noops := map[string]func() error{
		"Delete of an absent key": func() error { return s.Delete(ctx, "fail:alice") },
		"Decr of an absent key":   func() error { _, err := s.Decr(ctx, "fail:alice"); return err },
		"Decr of a zero counter":  func() error { _, err := s.Decr(ctx, "zero"); return err },
		"lost Claim": func() error {
			if ok, err := s.Claim(ctx, "code:1", exp); ok || err != nil {
				return fmt.Errorf("Claim = %v, %v; want false", ok, err)
			}
			return nil
		},
		"Put of the same value": func() error { return s.Put(ctx, "mfa:alice", []byte("v"), exp) },
	}
	for name, op := range noops {
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := txID(t, s); got != before {
			t.Errorf("%s committed a transaction", name)
		}
	}
	if err := s.Delete(ctx, "mfa:alice"); err != nil {
		t.Fatal(err)
	}
	if got := txID(t, s); got != before+1 {
		t.Errorf("Delete of a present key: %d commits, want 1", got-before)
	}
}

// Writes a request makes at once (a throttle's two counters, a code claim beside the
// give-back) share one commit when the store is idle: the writer lets them reach it
// before committing the first. One P, as on a quiet machine, so that the others are
// runnable, not running; the scheduler may still pick the writer first now and then.
func TestBoltWritesMadeAtOnceShareOneCommit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	clock := storetest.NewClock()
	s := openBolt(t, filepath.Join(t.TempDir(), "fedgate.db"), clock.Now)
	exp := clock.Now().Add(time.Hour)
	const trials = 20
	shared := 0
	for i := range trials {
		before := txID(t, s)
		var wg sync.WaitGroup
		wg.Go(func() {
			if ok, err := s.Claim(context.Background(), "code:"+strconv.Itoa(i), exp); !ok || err != nil {
				t.Errorf("Claim = %v, %v", ok, err)
			}
		})
		for _, k := range []string{"fail:sp:c", "fail:ip:127.0.0.1"} {
			wg.Go(func() {
				if _, err := s.Incr(context.Background(), k, time.Hour); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if txID(t, s)-before == 1 {
			shared++
		}
	}
	if shared < trials*3/4 {
		t.Errorf("three writes made at once shared one commit in %d of %d trials", shared, trials)
	}
}

// claimAll claims keys concurrently, several contenders per key, and fails unless
// each key is won exactly once; it returns when every Claim has been acknowledged.
func claimAll(t *testing.T, s store.Store, keys []string, exp time.Time) {
	t.Helper()
	const contenders = 4
	var mu sync.Mutex
	wins := map[string]int{}
	var wg sync.WaitGroup
	for _, k := range keys {
		for range contenders {
			wg.Go(func() {
				ok, err := s.Claim(context.Background(), k, exp)
				if err != nil {
					t.Errorf("Claim(%q): %v", k, err)
				}
				if ok {
					mu.Lock()
					wins[k]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, k := range keys {
		if wins[k] != 1 {
			t.Errorf("key %q won %d times by %d contenders, want once", k, wins[k], contenders)
		}
	}
}

func wantClaimed(t *testing.T, s store.Store, keys []string, exp time.Time) {
	t.Helper()
	for _, k := range keys {
		if ok, err := s.Claim(t.Context(), k, exp); ok || err != nil {
			t.Errorf("Claim(%q) of an acknowledged claim = %v, %v; want false", k, ok, err)
		}
	}
}

func keyList(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}

// Acknowledged batched writes are in the file: closing right after the acknowledgement
// loses none, and neither does copying the file while the store is still open (what a
// crash would leave, short of the disk itself failing).
func TestBoltBatchedWritesDurableWhenAcknowledged(t *testing.T) {
	clock := storetest.NewClock()
	exp := clock.Now().Add(time.Hour)
	keys := keyList("code:", 200)

	t.Run("close and reopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fedgate.db")
		s := openBolt(t, path, clock.Now)
		claimAll(t, s, keys, exp)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		wantClaimed(t, openBolt(t, path, clock.Now), keys, exp)
	})

	t.Run("copy of the open file", func(t *testing.T) {
		dir := t.TempDir()
		s := openBolt(t, filepath.Join(dir, "fedgate.db"), clock.Now)
		claimAll(t, s, keys, exp)
		raw, err := os.ReadFile(filepath.Join(dir, "fedgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		cp := filepath.Join(dir, "copy.db")
		if err := os.WriteFile(cp, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		wantClaimed(t, openBolt(t, cp, clock.Now), keys, exp)
	})
}

const childEnv = "FEDGATE_STORE_CHILD_DB"

// TestBoltAcknowledgedClaimSurvivesKill runs claimers in a child process, kills it
// with SIGKILL mid-stream, and checks that every Claim the child acknowledged is in
// the file: no acknowledgement leaves before its commit.
func TestBoltAcknowledgedClaimSurvivesKill(t *testing.T) {
	if path := os.Getenv(childEnv); path != "" {
		claimForever(path)
		return
	}
	path := filepath.Join(t.TempDir(), "fedgate.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestBoltAcknowledgedClaimSurvivesKill$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for len(acked) < 300 && sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, k)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait() // killed: the error is expected
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d claims before exiting", len(acked))
	}
	wantClaimed(t, openBolt(t, path, nil), acked, time.Now().Add(time.Hour))
}

// claimForever is the child: concurrent claimers that print each key once its Claim
// returned true, until killed.
func claimForever(path string) {
	s, err := store.OpenBolt(path, nil)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	for g := range 16 {
		go func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("code:%d:%d", g, i)
				if ok, err := s.Claim(context.Background(), k, time.Now().Add(time.Hour)); ok && err == nil {
					mu.Lock()
					fmt.Fprintf(w, "ack %s\n", k)
					_ = w.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	select {}
}

package pwhash

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgate/fedgate/protocols"
)

func TestParseAndVerify(t *testing.T) {
	a, err := New("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 72)
	b, err := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash, pw string
		want     bool
	}{
		{a, "correct horse", true},
		{a, "correct horse ", false},
		{string(b), long, true},
		{string(b), long + "suffix", false}, // bcrypt would ignore the tail
	}
	for _, tt := range tests {
		h, err := Parse(tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := h.Verify(t.Context(), tt.pw); err != nil || got != tt.want {
			t.Errorf("Verify(%.20q…) = %v, %v; want %v", tt.pw, got, err, tt.want)
		}
	}
	for _, bad := range []string{"plain", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$2a$99$x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// TestLimiterBoundsConcurrency: never more than n computations at once;
// callers past the bound wait for a slot, and give up with ErrBusy (without
// computing) when none frees up in time.
func TestLimiterBoundsConcurrency(t *testing.T) {
	l := newLimiter(3, time.Minute)
	var mu sync.Mutex
	var running, peak, done int
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := l.run(t.Context(), func() bool {
				mu.Lock()
				running++
				peak = max(peak, running)
				mu.Unlock()
				<-release
				mu.Lock()
				running--
				done++
				mu.Unlock()
				return true
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	for {
		mu.Lock()
		n := running
		mu.Unlock()
		if n == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if peak != 3 || done != 20 {
		t.Fatalf("peak %d, done %d; want 3, 20", peak, done)
	}

	busy := newLimiter(1, 10*time.Millisecond)
	busy.slots <- struct{}{} // the one slot is taken
	called := false
	ok, err := busy.run(t.Context(), func() bool { called = true; return true })
	if ok || called || !errors.Is(err, protocols.ErrBusy) {
		t.Fatalf("full limiter: %v, %v, called %v; want ErrBusy without a computation", ok, err, called)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	busy.wait = time.Minute
	if _, err := busy.run(ctx, func() bool { called = true; return true }); called || !errors.Is(err, protocols.ErrBusy) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v, called %v", err, called)
	}
}

// TestVerifyUsesTheLimiter: both hash kinds wait for the process-wide bound.
func TestVerifyUsesTheLimiter(t *testing.T) {
	a, _ := New("pw")
	b, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for i := 0; i < cap(hashing.slots); i++ {
		hashing.slots <- struct{}{}
	}
	defer func() {
		for i := 0; i < cap(hashing.slots); i++ {
			<-hashing.slots
		}
	}()
	for _, s := range []string{a, string(b)} {
		h, _ := Parse(s)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		ok, err := h.Verify(ctx, "pw")
		cancel()
		if ok || !errors.Is(err, protocols.ErrBusy) {
			t.Errorf("Verify with every slot taken = %v, %v; want ErrBusy", ok, err)
		}
	}
}

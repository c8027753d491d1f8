package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sweepEvery is how many writes the Memory store lets pass between full sweeps. It
// keeps long-running tests from accumulating expired entries without a goroutine that
// a test would have to stop.
const sweepEvery = 1024

type entry struct {
	value  []byte
	expiry time.Time
}

// Memory is a Store in a map, for tests only: it forgets everything on restart and
// is not shared between replicas.
type Memory struct {
	now func() time.Time

	mu     sync.Mutex
	m      map[string]entry
	writes int
	closed bool

	localWatch // Put and Delete tell it their key
}

var (
	_ Store   = (*Memory)(nil)
	_ Watcher = (*Memory)(nil)
	_ Lister  = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store. now nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	return &Memory{now: orNow(now), m: make(map[string]entry), localWatch: newLocalWatch()}
}

// lookup returns the live entry at key, dropping it if it has expired. Callers hold mu.
func (s *Memory) lookup(key string, now time.Time) (entry, bool) {
	e, ok := s.m[key]
	if ok && !live(e.expiry, now) {
		delete(s.m, key)
		return entry{}, false
	}
	return e, ok
}

// set stores e and sweeps every sweepEvery writes. Callers hold mu.
func (s *Memory) set(key string, e entry, now time.Time) {
	s.m[key] = e
	s.writes++
	if s.writes%sweepEvery == 0 {
		s.sweepLocked(now)
	}
}

func (s *Memory) sweepLocked(now time.Time) int {
	n := 0
	for k, e := range s.m {
		if !live(e.expiry, now) {
			delete(s.m, k)
			n++
		}
	}
	return n
}

// begin checks ctx and the key, and locks the store; callers must unlock on success.
func (s *Memory) begin(ctx context.Context, op, key string) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if err := checkKey(op, key); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return nil
}

func (s *Memory) Claim(ctx context.Context, key string, expiry time.Time) (bool, error) {
	if err := s.begin(ctx, "claim", key); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.now()
	if err := checkClaim(key, expiry, now); err != nil {
		return false, err
	}
	if _, ok := s.lookup(key, now); ok {
		return false, nil
	}
	s.set(key, entry{value: []byte{}, expiry: expiry}, now)
	return true, nil
}

func (s *Memory) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if err := s.begin(ctx, "incr", key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	if err := checkIncr(key, window); err != nil {
		return 0, err
	}
	now := s.now()
	e, ok := s.lookup(key, now)
	if !ok {
		e = entry{expiry: now.Add(window)}
	}
	n, err := nextCounter(e.value, ok)
	if err != nil {
		return 0, err
	}
	e.value = strconv.AppendInt(nil, n, 10)
	s.set(key, e, now)
	return n, nil
}

func (s *Memory) Decr(ctx context.Context, key string) (int64, error) {
	if err := s.begin(ctx, "decr", key); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.now()
	e, ok := s.lookup(key, now)
	if !ok {
		return 0, nil
	}
	n, err := prevCounter(e.value)
	if err != nil {
		return 0, err
	}
	e.value = strconv.AppendInt(nil, n, 10)
	s.set(key, e, now)
	return n, nil
}

func (s *Memory) Put(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	s.set(key, entry{value: clone(value), expiry: expiry}, s.now())
	s.mu.Unlock()
	s.localWatch.changed(key)
	return nil
}

func (s *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "get", key); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.lookup(key, s.now())
	if !ok {
		return nil, ErrNotFound
	}
	return clone(e.value), nil
}

func (s *Memory) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := s.begin(ctx, "keys", prefix); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var keys []string
	now := s.now()
	for k, e := range s.m {
		if strings.HasPrefix(k, prefix) && live(e.expiry, now) {
			keys = append(keys, k)
		}
	}
	return keys, nil
}

func (s *Memory) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	_, ok := s.m[key]
	delete(s.m, key)
	s.mu.Unlock()
	if ok {
		s.localWatch.changed(key)
	}
	return nil
}

func (s *Memory) Ping(ctx context.Context) error {
	if err := ctxErr(ctx, "ping"); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("store: ping: %w", ErrClosed)
	}
	return nil
}

// Close drops all entries; later calls return ErrClosed.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m = nil
	s.localWatch.close()
	return nil
}

// nextCounter parses a stored counter (if any) and returns it plus one.
func nextCounter(cur []byte, exists bool) (int64, error) {
	if !exists {
		return 1, nil
	}
	n, err := strconv.ParseInt(string(cur), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: incr: %w", ErrNotCounter)
	}
	return n + 1, nil
}

// prevCounter parses a stored counter and returns it minus one, at least 0.
func prevCounter(cur []byte) (int64, error) {
	n, err := strconv.ParseInt(string(cur), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: decr: %w", ErrNotCounter)
	}
	return max(n-1, 0), nil
}

// clone copies b so callers can never alias stored bytes; nil becomes empty so a
// stored value always reads back as non-nil.
func clone(b []byte) []byte {
	return append([]byte{}, b...)
}

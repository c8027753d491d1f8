// Package store holds the little state fedgate cannot keep in cookies: single-use
// markers (OIDC codes, TOTP steps, assertion IDs), login-throttling counters and MFA
// enrolments. Everything else is stateless (see DESIGN.md, "Stateless, and what state
// remains").
//
// Keys are opaque strings that callers namespace ("code:…", "totp:…"). Because keys
// can embed secrets such as authorization codes, no error from this package contains a
// key or a value: errors are logged, and invariant 8 forbids logging secrets.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotFound is returned by Get when the key is absent or expired.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("store: closed")
	// ErrNotCounter is returned by Incr when the key holds a value Incr did not write.
	ErrNotCounter = errors.New("store: value is not a counter")
	// ErrInvalidArgument is returned for an empty or oversized key, a Claim without a
	// future expiry, or a non-positive Incr window.
	ErrInvalidArgument = errors.New("store: invalid argument")
)

// MaxKeyLen bounds keys in every implementation. It is far below bbolt's limit
// (32 KiB); callers with longer identifiers should hash them.
const MaxKeyLen = 4096

// Store is the one place for state that cannot be stateless. Implementations must be
// safe for concurrent use, and every method checks ctx.Err() before doing anything.
// An entry is live while its expiry is zero or after now; at the expiry instant it is
// gone.
type Store interface {
	// Claim marks key as used until expiry; true if this call claimed it first, false
	// if it is already claimed (or holds any other live value). Atomic across
	// concurrent callers. expiry must be after now: a marker that never expires would
	// grow the store forever.
	Claim(ctx context.Context, key string, expiry time.Time) (bool, error)
	// Incr adds 1 to the counter at key, creating it with expiry now+window if absent
	// or expired, and returns the new value. The window is fixed: increments do not
	// extend it. Counters are stored as decimal ASCII, so Get returns e.g. "3".
	Incr(ctx context.Context, key string, window time.Duration) (int64, error)
	// Decr takes 1 off the live counter at key, keeping its expiry, and returns the
	// new value; it never goes below 0, and an absent or expired key stays absent
	// (0). It gives back what an Incr reserved for an attempt that did not count.
	Decr(ctx context.Context, key string) (int64, error)
	// Put stores a copy of value until expiry; zero expiry means never expires.
	Put(ctx context.Context, key string, value []byte, expiry time.Time) error
	// Get returns a copy of the value; ErrNotFound if absent or expired.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// Ping reports whether the store is usable, for /readyz.
	Ping(ctx context.Context) error
	// Close releases resources; calling it again returns nil.
	Close() error
}

func checkKey(op, key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("store: %s: key length %d not in 1..%d: %w", op, len(key), MaxKeyLen, ErrInvalidArgument)
	}
	return nil
}

func checkClaim(key string, expiry, now time.Time) error {
	if err := checkKey("claim", key); err != nil {
		return err
	}
	if !expiry.After(now) {
		return fmt.Errorf("store: claim: expiry must be in the future: %w", ErrInvalidArgument)
	}
	return nil
}

func checkIncr(key string, window time.Duration) error {
	if err := checkKey("incr", key); err != nil {
		return err
	}
	if window <= 0 {
		return fmt.Errorf("store: incr: window must be positive: %w", ErrInvalidArgument)
	}
	return nil
}

// live reports whether an entry with this expiry is still visible at now.
func live(expiry, now time.Time) bool {
	return expiry.IsZero() || now.Before(expiry)
}

func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", op, err)
	}
	return nil
}

func orNow(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Watcher is an optional capability: the store tells every process using it
// about every Put and Delete any of them makes, so a process may cache what
// it reads. Redis does it for a fleet (a subscription); the local stores
// (memory, bolt) for their one process, before the write returns.
type Watcher interface {
	// Watch runs until ctx ends or the store is closed. It calls changed
	// with the key of each Put and Delete; lost as soon as changes may be
	// going unheard (a broken connection, a feed silent past its ping);
	// and reset each time it is listening, at the start and after lost:
	// every change from then on is heard, and a cache reloads what it
	// read before.
	Watch(ctx context.Context, changed func(key string), lost, reset func())
}

// Lister is an optional capability: the store lists its live keys under a
// prefix. With Watcher it lets a process hold a replica of a small set the
// hot path reads (the sign-outs) and keep it current.
type Lister interface {
	// Keys returns every live key that begins with prefix, in no order.
	// The prefix must be a valid key.
	Keys(ctx context.Context, prefix string) ([]string, error)
}

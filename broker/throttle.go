package broker

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// Throttling counts credential checks per user (or OpenID client) and per
// client IP in the Store, so every replica sharing a store shares the
// limits. An attempt is counted (an atomic Incr) before the credential is
// checked, and refused unchecked when the count passes the limit: 60 guesses
// arriving at once cannot all pass a check made before any of them failed.
// The outcome then settles the count: a failure keeps it, and the one that
// reaches the limit locks the key for one window; a success forgets the
// user's failures and gives back its count on the IP; a check that did not
// happen (too busy, upstream down) gives back both.
//
//	fail:<key>  attempts counted in the current window
//	lock:<key>  until when the key is locked (for the Retry-After answer)

func userKey(upstream, user string) string {
	return "u:" + upstream + ":" + strings.ToLower(strings.TrimSpace(user))
}

func ipKey(ip netip.Addr) string { return "ip:" + ip.String() }

// limit is one counted key: the user or client first, then the IP.
type limit struct {
	key string
	max int64
}

// attempt counts one credential check against every limit. wait > 0: over
// a limit, refuse without checking (nothing to settle). Otherwise done must
// be called once with the check's outcome (see settle).
func (b *Server) attempt(ctx context.Context, window time.Duration, limits ...limit) (done func(error), wait time.Duration, err error) {
	counts := make([]int64, 0, len(limits))
	for _, l := range limits {
		n, err := b.Store.Incr(ctx, "fail:"+l.key, window)
		if err == nil && n > l.max {
			wait = b.lockWait(ctx, l.key, window)
		}
		if err != nil || wait > 0 {
			b.giveBack(ctx, limits[:len(counts)])
			return nil, wait, err
		}
		counts = append(counts, n)
	}
	// Settled even if the client has gone: a guess must not escape its lock
	// by hanging up while the hash runs.
	ctx = context.WithoutCancel(ctx)
	return func(outcome error) { b.settle(ctx, window, limits, counts, outcome) }, 0, nil
}

// settle records a check's outcome: nil (it matched), a wrong credential
// (protocols.ErrInvalidCredentials or ErrAccountDisabled), or anything else
// (it was not checked).
func (b *Server) settle(ctx context.Context, window time.Duration, limits []limit, counts []int64, outcome error) {
	var err error
	switch {
	case outcome == nil:
		// The user's failures are forgotten (not the IP's: one good password
		// must not reset a spray from that address).
		err = b.Store.Delete(ctx, "fail:"+limits[0].key)
		b.giveBack(ctx, limits[1:])
	case errors.Is(outcome, protocols.ErrInvalidCredentials) || errors.Is(outcome, protocols.ErrAccountDisabled):
		for i, l := range limits {
			if counts[i] >= l.max {
				err = errors.Join(err, b.lock(ctx, l, window))
			}
		}
	default:
		b.giveBack(ctx, limits)
	}
	if err != nil {
		b.Logger.ErrorContext(ctx, "throttle store failed", "err", err)
	}
}

// lock starts a full window of refusals for l from now: the counter is set
// to its limit until then, and the end is kept for Retry-After.
func (b *Server) lock(ctx context.Context, l limit, window time.Duration) error {
	until := b.now().Add(window)
	return errors.Join(
		b.Store.Put(ctx, "fail:"+l.key, []byte(strconv.FormatInt(l.max, 10)), until),
		b.Store.Put(ctx, "lock:"+l.key, []byte(until.Format(time.RFC3339Nano)), until))
}

// lockWait is how long key stays locked; a whole window when the count
// passed the limit before any failure locked it (parallel guesses in flight).
func (b *Server) lockWait(ctx context.Context, key string, window time.Duration) time.Duration {
	v, err := b.Store.Get(ctx, "lock:"+key)
	if err != nil {
		return window
	}
	until, err := time.Parse(time.RFC3339Nano, string(v))
	if err != nil || !until.After(b.now()) {
		return window
	}
	return until.Sub(b.now())
}

// giveBack uncounts an attempt that was not checked.
func (b *Server) giveBack(ctx context.Context, limits []limit) {
	for _, l := range limits {
		if _, err := b.Store.Decr(ctx, "fail:"+l.key); err != nil {
			b.Logger.ErrorContext(ctx, "throttle store failed", "err", err)
		}
	}
}

package broker

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"sync"
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
// be called once with the check's outcome (see settle). The limits are
// counted at once, so that a store that commits writes in groups (bolt)
// makes them one commit, not one after the other.
func (b *Server) attempt(ctx context.Context, window time.Duration, limits ...limit) (done func(error), wait time.Duration, err error) {
	counts := make([]int64, len(limits))
	errs := make([]error, len(limits))
	together(len(limits), func(i int) {
		counts[i], errs[i] = b.Store.Incr(ctx, "fail:"+limits[i].key, window)
	})
	var under []limit // counted and within their limits: given back on a refusal
	for i, l := range limits {
		switch {
		case errs[i] != nil:
			err = errs[i]
		case counts[i] > l.max:
			// Over the limit: the attempt stays counted there.
			wait = max(wait, b.lockWait(ctx, l.key, window))
		default:
			under = append(under, l)
		}
	}
	if err != nil || wait > 0 {
		b.giveBack(ctx, under)
		return nil, wait, err
	}
	// Settled even if the client has gone: a guess must not escape its lock
	// by hanging up while the hash runs.
	ctx = context.WithoutCancel(ctx)
	return func(outcome error) {
		if outcome == nil {
			// A success only gives back: the request goes on meanwhile.
			finishAlongside(ctx, func() { b.settle(ctx, window, limits, counts, nil) })
			return
		}
		b.settle(ctx, window, limits, counts, outcome)
	}, 0, nil
}

// together runs f(0) … f(n-1) at the same time and returns when all have.
func together(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Go(func() { f(i) })
	}
	if n > 0 {
		f(0)
	}
	wg.Wait()
}

// settle records a check's outcome: nil (it matched), a wrong credential
// (protocols.ErrInvalidCredentials or ErrAccountDisabled), or anything else
// (it was not checked).
func (b *Server) settle(ctx context.Context, window time.Duration, limits []limit, counts []int64, outcome error) {
	errs := make([]error, len(limits))
	switch {
	case outcome == nil:
		// The user's failures are forgotten (not the IP's: one good password
		// must not reset a spray from that address).
		together(len(limits), func(i int) {
			if i == 0 {
				errs[i] = b.Store.Delete(ctx, "fail:"+limits[0].key)
				return
			}
			_, errs[i] = b.Store.Decr(ctx, "fail:"+limits[i].key)
		})
	case errors.Is(outcome, protocols.ErrInvalidCredentials) || errors.Is(outcome, protocols.ErrAccountDisabled):
		together(len(limits), func(i int) {
			if counts[i] >= limits[i].max {
				errs[i] = b.lock(ctx, limits[i], window)
			}
		})
	default:
		b.giveBack(ctx, limits)
	}
	if err := errors.Join(errs...); err != nil {
		b.Logger.ErrorContext(ctx, "throttle store failed", "err", err)
	}
}

// lock starts a full window of refusals for l from now: the counter is set
// to its limit until then, and the end is kept for Retry-After.
func (b *Server) lock(ctx context.Context, l limit, window time.Duration) error {
	until := b.now().Add(window)
	var errs [2]error
	together(2, func(i int) {
		if i == 0 {
			errs[0] = b.Store.Put(ctx, "fail:"+l.key, []byte(strconv.FormatInt(l.max, 10)), until)
		} else {
			errs[1] = b.Store.Put(ctx, "lock:"+l.key, []byte(until.Format(time.RFC3339Nano)), until)
		}
	})
	return errors.Join(errs[:]...)
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
	together(len(limits), func(i int) {
		if _, err := b.Store.Decr(ctx, "fail:"+limits[i].key); err != nil {
			b.Logger.ErrorContext(ctx, "throttle store failed", "err", err)
		}
	})
}

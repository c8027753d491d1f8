package broker

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

// Login throttling counts failures per user and per client IP in the Store,
// so every replica sharing a store shares the limits. Reaching the limit
// locks that key for one window.

func userKey(upstream, user string) string {
	return "u:" + upstream + ":" + strings.ToLower(strings.TrimSpace(user))
}

func ipKey(ip netip.Addr) string { return "ip:" + ip.String() }

// lockedFor returns how long the user or the IP is still locked out (0 if not).
func (b *Server) lockedFor(ctx context.Context, upstream, user string, ip netip.Addr) (time.Duration, error) {
	var wait time.Duration
	for _, k := range []string{userKey(upstream, user), ipKey(ip)} {
		v, err := b.Store.Get(ctx, "lock:"+k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		until, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			continue
		}
		wait = max(wait, until.Sub(b.now()))
	}
	return wait, nil
}

// recordFailure counts a failed attempt and locks what crossed its limit.
func (b *Server) recordFailure(ctx context.Context, snap *Snapshot, upstream, user string, ip netip.Addr) error {
	t := snap.Config.Throttle
	limits := map[string]int64{userKey(upstream, user): int64(t.MaxFailures), ipKey(ip): int64(t.MaxFailuresPerIP)}
	for k, limit := range limits {
		n, err := b.Store.Incr(ctx, "fail:"+k, t.Window)
		if err != nil {
			return err
		}
		if n >= limit {
			until := b.now().Add(t.Window)
			if err := b.Store.Put(ctx, "lock:"+k, []byte(until.Format(time.RFC3339Nano)), until); err != nil {
				return err
			}
			if err := b.Store.Delete(ctx, "fail:"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordSuccess forgets the user's failures (not the IP's: one good password
// must not reset a spray from that address).
func (b *Server) recordSuccess(ctx context.Context, upstream, user string) error {
	return b.Store.Delete(ctx, "fail:"+userKey(upstream, user))
}

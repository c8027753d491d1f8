package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

// revokedPrefix namespaces sign-out records in the store (logout.go).
const revokedPrefix = "revoked:"

// revocationFresh bounds how stale a cached "not signed out" may be. The
// store's change feed normally drops an entry within milliseconds of a
// sign-out on any replica; this bound also covers a change the feed lost
// (a dropped connection), at the cost of one store read per session per
// replica per period. docs/operations.md documents it.
const revocationFresh = 5 * time.Second

// revocationCacheMax bounds the cache, like sessionCache: memory stays flat
// however many sessions there are; an evicted entry is read again.
const revocationCacheMax = 100_000

// revocationSweepMin is the size from which the cache, once it has doubled
// since the last sweep, drops the "not signed out" answers too old to be
// used (revocationFresh) and moves into a map its own size: a Go map never
// shrinks, and 10,000 sessions seen once each would otherwise stay in it
// until the bound above (issue 17: RSS with the Redis store).
const revocationSweepMin = 1024

// errStoreDown marks a revocation check the store could not answer.
var errStoreDown = errors.New("broker: store unavailable")

// revocations answers "was this session signed out?". A store that tells
// of changes (store.Watcher: all of fedgate's) gets a local cache, so a
// proxied request costs no store read: for Redis no round trip, for bolt
// no read transaction (two global locks), for memory no store lock. A
// store that cannot answer, with no fresh cached answer, counts as signed
// out: fail closed.
type revocations struct {
	st  store.Store
	now func() time.Time

	// watching: the store has registered the cache (its first reset), so
	// no sign-out can be missed; until then checks read the store.
	watching atomic.Bool
	mu       sync.RWMutex               // read-locked on the hit path every proxied request takes
	cached   map[string]revocation      // nil: no cache (a store that is not a Watcher)
	reading  map[string]*revocationRead // reads in flight, shared by concurrent requests
	changes  uint64                     // bumped by every change; a read begun before one is not cached
	sweepAt  int                        // cache size that triggers a sweep
}

// revocationRead is one store read that concurrent checks wait for.
type revocationRead struct {
	done    chan struct{}
	revoked bool
	err     error
}

type revocation struct {
	revoked bool // once signed out, always signed out: never stale
	at      time.Time
}

// newRevocations asks the store, in this one place, whether it can tell us
// about changes; if so it starts following them until the store is closed
// (ctx ends).
func newRevocations(ctx context.Context, st store.Store, now func() time.Time) *revocations {
	rv := &revocations{st: st, now: now}
	if w, ok := st.(store.Watcher); ok {
		rv.cached, rv.sweepAt = make(map[string]revocation, 64), revocationSweepMin
		rv.reading = make(map[string]*revocationRead)
		go w.Watch(ctx, rv.changed, rv.reset)
	}
	return rv
}

// check reports whether session id was signed out, or errStoreDown.
func (rv *revocations) check(ctx context.Context, id string) (bool, error) {
	if rv.cached == nil || !rv.watching.Load() {
		return rv.read(ctx, id)
	}
	now := rv.now()
	rv.mu.RLock()
	e, ok := rv.cached[id]
	rv.mu.RUnlock()
	if ok && (e.revoked || now.Sub(e.at) < revocationFresh) {
		return e.revoked, nil
	}
	rv.mu.Lock()
	if e, ok := rv.cached[id]; ok && (e.revoked || now.Sub(e.at) < revocationFresh) {
		rv.mu.Unlock()
		return e.revoked, nil
	}
	if r, ok := rv.reading[id]; ok {
		// Another request is reading this session's record: share its
		// answer, so a busy session costs one read, not one per request.
		rv.mu.Unlock()
		select {
		case <-r.done:
			return r.revoked, r.err
		case <-ctx.Done():
			return true, errors.Join(errStoreDown, ctx.Err())
		}
	}
	r := &revocationRead{done: make(chan struct{})}
	rv.reading[id] = r
	gen, start := rv.changes, rv.now()
	rv.mu.Unlock()

	// Others wait for this read: it must not end with this request.
	r.revoked, r.err = rv.read(context.WithoutCancel(ctx), id)
	rv.mu.Lock()
	if rv.reading[id] == r {
		delete(rv.reading, id)
	}
	if r.err == nil && rv.changes == gen { // no change arrived while we read: the answer is current
		if len(rv.cached) >= rv.sweepAt {
			rv.sweep()
		}
		if len(rv.cached) >= revocationCacheMax {
			for k := range rv.cached { // map order is random: evict an arbitrary entry
				delete(rv.cached, k)
				break
			}
		}
		rv.cached[id] = revocation{revoked: r.revoked, at: start}
	}
	rv.mu.Unlock()
	close(r.done)
	return r.revoked, r.err
}

// sweep keeps what the cache can still answer with, in a new map; the
// next sweep waits until that has doubled, so sweeping costs O(1) a check.
// rv.mu is held.
func (rv *revocations) sweep() {
	kept := make(map[string]revocation, len(rv.cached)/2)
	now := rv.now()
	for id, e := range rv.cached {
		if e.revoked || now.Sub(e.at) < revocationFresh {
			kept[id] = e
		}
	}
	rv.cached, rv.sweepAt = kept, max(revocationSweepMin, 2*len(kept))
}

// read asks the store; a store that cannot answer means signed out.
func (rv *revocations) read(ctx context.Context, id string) (bool, error) {
	_, err := rv.st.Get(ctx, revokedPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, errors.Join(errStoreDown, err)
	}
	return true, nil
}

// changed drops what the cache knows of a key some replica wrote.
func (rv *revocations) changed(key string) {
	id, ok := strings.CutPrefix(key, revokedPrefix)
	if !ok {
		return
	}
	rv.mu.Lock()
	delete(rv.cached, id)
	delete(rv.reading, id) // a read begun before the change: later checks read again
	rv.changes++
	rv.mu.Unlock()
}

// reset forgets everything not yet signed out: changes may have been missed.
func (rv *revocations) reset() {
	rv.mu.Lock()
	for id, e := range rv.cached {
		if !e.revoked {
			delete(rv.cached, id)
		}
	}
	clear(rv.reading)
	rv.changes++
	rv.mu.Unlock()
	rv.watching.Store(true)
}

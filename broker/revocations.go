package broker

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

// revokedPrefix namespaces sign-out records in the store (logout.go).
const revokedPrefix = "revoked:"

const (
	// revocationResync is how often the replica of sign-outs is reloaded
	// whole. That drops the sign-outs of sessions that have since expired
	// (the store forgets them without telling), so the replica holds the
	// sign-outs of one session lifetime plus this period; it would also
	// repair a change lost without the feed noticing.
	revocationResync = 10 * time.Minute
	// revocationRetryMax bounds the wait between failed reloads.
	revocationRetryMax = 5 * time.Second
	// revocationListTimeout bounds one reload.
	revocationListTimeout = 30 * time.Second
)

// errStoreDown marks a revocation check the store could not answer.
var errStoreDown = errors.New("broker: store unavailable")

// revocations answers "was this session signed out?". For a store that
// lists keys and tells of changes (store.Lister and store.Watcher: all of
// fedgate's) it keeps a replica of the set of sign-outs, loaded whole and
// kept current by the change feed, so a proxied request costs no store
// read (for Redis no round trip, for bolt no read transaction) and memory
// grows with sign-outs, not with signed-in users. While the replica is not
// in step with the store (before the first load, after the feed broke or
// fell silent) every check reads the store, and a store that cannot answer
// counts as signed out: fail closed.
type revocations struct {
	st store.Store

	mu      sync.RWMutex        // read-locked by every proxied request
	revoked map[string]struct{} // the replica; nil while not in step
	heard   map[string]struct{} // sign-outs heard since a reset or a reload began; nil when neither runs
	resets  uint64              // a reload begun before a reset is not used
	kick    chan struct{}       // a reset asks for a reload
}

// newRevocations asks the store, in this one place, whether it can list
// and tell; if so the replica follows it until the store is closed or ctx
// ends.
func newRevocations(ctx context.Context, st store.Store) *revocations {
	rv := &revocations{st: st, kick: make(chan struct{}, 1)}
	w, watches := st.(store.Watcher)
	l, lists := st.(store.Lister)
	if watches && lists {
		ctx, stop := context.WithCancel(ctx)
		go func() {
			w.Watch(ctx, rv.changed, rv.reset)
			rv.reset() // no longer told of changes: checks read the store (closed: fail closed)
			stop()
		}()
		go rv.follow(ctx, l)
	}
	return rv
}

// check reports whether session id was signed out, or errStoreDown.
func (rv *revocations) check(ctx context.Context, id string) (bool, error) {
	rv.mu.RLock()
	_, revoked := rv.revoked[id]
	inStep := rv.revoked != nil
	rv.mu.RUnlock()
	if inStep {
		return revoked, nil
	}
	_, err := rv.st.Get(ctx, revokedPrefix+id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return true, errors.Join(errStoreDown, err)
	}
	return true, nil
}

// changed adds the session whose sign-out key some replica wrote. A
// Delete is told too; fedgate deletes a sign-out only when it writes one
// already expired, whose session can no longer be used, so counting it
// as signed out until the next reload is harmless.
func (rv *revocations) changed(key string) {
	id, ok := strings.CutPrefix(key, revokedPrefix)
	if !ok {
		return
	}
	rv.mu.Lock()
	if rv.revoked != nil {
		rv.revoked[id] = struct{}{}
	}
	if rv.heard != nil {
		rv.heard[id] = struct{}{}
	}
	rv.mu.Unlock()
}

// reset: changes may have been missed. The replica stops answering until
// a reload; what is heard from now on is kept for it.
func (rv *revocations) reset() {
	rv.mu.Lock()
	rv.revoked, rv.heard = nil, map[string]struct{}{}
	rv.resets++
	rv.mu.Unlock()
	select {
	case rv.kick <- struct{}{}:
	default: // a reload is already asked for
	}
}

// follow reloads the replica after each reset and every revocationResync,
// retrying a failed reload, until ctx ends.
func (rv *revocations) follow(ctx context.Context, l store.Lister) {
	tick := time.NewTicker(revocationResync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-rv.kick:
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return
		}
		for wait := 50 * time.Millisecond; !rv.reload(ctx, l); wait = min(2*wait, revocationRetryMax) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
	}
}

// reload lists the store's sign-outs and makes them, with those heard
// meanwhile, the replica; false if the store could not answer. Nothing is
// loaded before the store's first reset: until the watcher is registered a
// sign-out would not be heard.
func (rv *revocations) reload(ctx context.Context, l store.Lister) bool {
	rv.mu.Lock()
	gen := rv.resets
	if gen > 0 && rv.heard == nil {
		rv.heard = map[string]struct{}{}
	}
	rv.mu.Unlock()
	if gen == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, revocationListTimeout)
	defer cancel()
	keys, err := l.Keys(ctx, revokedPrefix)

	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.resets != gen {
		return true // a reset came meanwhile: its own reload follows
	}
	if err != nil {
		if rv.revoked != nil {
			rv.heard = nil // still in step through the feed
		}
		return false
	}
	set := make(map[string]struct{}, len(keys)+len(rv.heard))
	for _, k := range keys {
		set[strings.TrimPrefix(k, revokedPrefix)] = struct{}{}
	}
	maps.Copy(set, rv.heard)
	rv.revoked, rv.heard = set, nil
	return true
}

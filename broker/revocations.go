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
	// whole: it drops the sign-outs of sessions that have since expired
	// (the store forgets them without telling), and it bounds how long a
	// change the feed lost without noticing goes unheard (a sign-out whose
	// write landed but whose announcement failed).
	revocationResync = time.Minute
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
// in step with the store (before the first load; from the moment the feed
// is lost until it listens again and the set is reloaded) every check
// reads the store, and a store that cannot answer counts as signed out:
// fail closed.
type revocations struct {
	st store.Store

	mu      sync.RWMutex        // read-locked by every proxied request
	inStep  bool                // revoked may answer
	revoked map[string]struct{} // the replica; only grows between reloads
	heard   map[string]struct{} // sign-outs heard since the feed listened or a reload began; nil while the feed is lost
	resets  uint64              // bumped when the feed is lost or listens again: a reload begun before is not used
	stopped bool                // the feed has ended for good
	kick    chan struct{}       // the feed listens again: reload
}

// newRevocations asks the store, in this one place, whether it can list
// and tell; if so the replica follows it until the store is closed or ctx
// ends.
func newRevocations(ctx context.Context, st store.Store) *revocations {
	rv := &revocations{st: st, revoked: map[string]struct{}{}, kick: make(chan struct{}, 1)}
	w, watches := st.(store.Watcher)
	l, lists := st.(store.Lister)
	if watches && lists {
		ctx, stop := context.WithCancel(ctx)
		go func() {
			w.Watch(ctx, rv.changed, rv.lost, rv.reset)
			stop()
			rv.halt() // no longer told of changes: checks read the store (closed: fail closed)
		}()
		go rv.follow(ctx, l)
	}
	return rv
}

// check reports whether session id was signed out, or errStoreDown.
func (rv *revocations) check(ctx context.Context, id string) (bool, error) {
	rv.mu.RLock()
	_, revoked := rv.revoked[id]
	inStep := rv.inStep
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
	rv.revoked[id] = struct{}{}
	if rv.heard != nil {
		rv.heard[id] = struct{}{}
	}
	rv.mu.Unlock()
}

// lost: changes may be going unheard. The replica stops answering, and is
// not reloaded until the feed listens again (reset): a reload before then
// could miss a sign-out made meanwhile.
func (rv *revocations) lost() {
	rv.mu.Lock()
	rv.inStep, rv.heard = false, nil
	rv.resets++
	rv.mu.Unlock()
}

// reset: the feed listens (again), so every change from now on is heard;
// what was missed before is the reload's.
func (rv *revocations) reset() {
	rv.mu.Lock()
	rv.inStep = false
	rv.resets++
	if rv.heard == nil {
		rv.heard = map[string]struct{}{}
	}
	rv.mu.Unlock()
	select {
	case rv.kick <- struct{}{}:
	default: // a reload is already asked for
	}
}

// halt: the feed has ended (the store closed); the replica never answers
// again.
func (rv *revocations) halt() {
	rv.mu.Lock()
	rv.inStep, rv.heard, rv.stopped = false, nil, true
	rv.resets++
	rv.mu.Unlock()
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

// reload lists the store's sign-outs and makes them the replica, with those
// heard meanwhile; false if the store could not answer. It does nothing
// unless the feed is listening: before its first reset, or after it was
// lost and until it listens again, a sign-out would not be heard.
func (rv *revocations) reload(ctx context.Context, l store.Lister) bool {
	rv.mu.Lock()
	gen, listening := rv.resets, rv.heard != nil || rv.inStep
	if listening && rv.heard == nil {
		rv.heard = map[string]struct{}{}
	}
	rv.mu.Unlock()
	if gen == 0 || !listening {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, revocationListTimeout)
	defer cancel()
	keys, err := l.Keys(ctx, revokedPrefix)
	if err != nil {
		return false
	}
	set := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		set[strings.TrimPrefix(k, revokedPrefix)] = struct{}{}
	}
	rv.keepUnlisted(ctx, set)

	rv.mu.Lock()
	defer rv.mu.Unlock()
	if rv.resets != gen || rv.stopped {
		return true // the feed was lost or listened again meanwhile: not this listing
	}
	maps.Copy(set, rv.heard)
	rv.revoked, rv.heard, rv.inStep = set, nil, true
	return true
}

// keepUnlisted adds to set the sign-outs the replica holds that the
// listing lacks, unless the store says they are gone (expired). A listing
// can miss a key that is there (a Cluster moving slots while it is
// scanned), and a sign-out once heard must not be forgotten on its word.
func (rv *revocations) keepUnlisted(ctx context.Context, set map[string]struct{}) {
	var unlisted []string
	rv.mu.RLock()
	for id := range rv.revoked {
		if _, ok := set[id]; !ok {
			unlisted = append(unlisted, id)
		}
	}
	rv.mu.RUnlock()
	for _, id := range unlisted {
		if _, err := rv.st.Get(ctx, revokedPrefix+id); !errors.Is(err, store.ErrNotFound) {
			set[id] = struct{}{}
		}
	}
}

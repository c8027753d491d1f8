package broker

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
)

// sessionCache remembers opened session cookies by their exact value, so a
// busy proxied app does not pay for HMAC, AES and JSON on every request,
// nor for what is derived from the session alone (identity headers, folded
// policy inputs). It lives in a Snapshot: a reload (which may drop a cookie
// key, change an app's headers) starts empty. It is bounded by entries and
// by bytes: past either it forgets at random, so memory stays flat however
// many sessions there are. Validity (expiry, idle, revocation) is still
// checked on every request by the caller.
//
// The byte bound is the trade between memory and hit rate. An entry costs
// about 3.5 times its cookie's length (the value itself, the opened
// session, its claims, its identity headers and folded groups: ~2.6 KiB
// for a ~700-byte cookie), and the Go heap grows to twice what it holds,
// so the bound is a fixed step of ~2 MB in RSS between one user and
// 10,000 (issue 17). It holds ~400 typical sessions, which covers the few
// hundred that are active at once on a busy app; a miss costs one cookie
// open (tens of microseconds), and sessions with large identities get
// fewer entries rather than more memory.
type sessionCache struct {
	mu      sync.RWMutex
	m       map[cacheKey]*sessionMemo
	max     int // entries
	bytes   int // the estimated cost of the entries held
	maxCost int // bound on bytes
}

// sessionCacheBytes bounds the estimated bytes a snapshot's session cache
// holds (see sessionCache).
const sessionCacheBytes = 1 << 20

// memoCost estimates what an entry for a cookie value of n bytes holds:
// the value (its key), the opened session and what is derived from it,
// about twice the value, and the entry and its map slot a fixed part.
func memoCost(n int) int { return 3*n + 512 }

// cacheKey is the cookie's name (a value opens only under the name it was
// sealed for) and its whole value, compared exactly: only the very cookie
// that was opened finds the entry. A digest of the value would keep 32
// bytes instead of ~700, but hashing it cost more than anything else
// fedgate does on a cached request (3% of its CPU).
type cacheKey struct {
	name, value string
}

// sessionMemo is one opened cookie and the work done once for it.
type sessionMemo struct {
	s       Session // as opened; never changed
	headers atomic.Pointer[memoHeaders]
	folded  atomic.Pointer[policy.Folded] // the policy's view of user and groups
	reseal  atomic.Pointer[memoReseal]
	cost    int // memoCost, counted in sessionCache.bytes
}

// memoHeaders are an app's identity headers for the session (read-only:
// they are shared by every request that carries the cookie).
type memoHeaders struct {
	app *config.App
	h   http.Header
}

// memoReseal records that this cookie was resealed, so that requests still
// carrying it are not resealed (nor told) again within a touch interval
// (writeCookieSession). Not the Set-Cookie line itself: ~700 bytes a memo.
type memoReseal struct {
	name    string    // the cookie it was written to
	at      time.Time // the LastSeen it carries
	expires time.Time
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{m: make(map[cacheKey]*sessionMemo, 64), max: max, maxCost: sessionCacheBytes}
}

// keyOf is the key for a lookup: the request's own strings, not copied.
func keyOf(name, value string) cacheKey { return cacheKey{name, value} }

func (c *sessionCache) get(k cacheKey) (*sessionMemo, bool) {
	c.mu.RLock()
	m, ok := c.m[k]
	c.mu.RUnlock()
	return m, ok
}

// put caches s, opened from a cookie value of n bytes.
func (c *sessionCache) put(k cacheKey, n int, s Session) *sessionMemo {
	m := &sessionMemo{s: s, cost: memoCost(n)}
	// A copy: the value is a piece of the request's Cookie header, which
	// holds every other cookie of the site too.
	k.value = strings.Clone(k.value)
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok { // opened by two requests at once
		delete(c.m, k)
		c.bytes -= old.cost
	}
	for ek, e := range c.m { // map order is random: evict arbitrary entries
		if len(c.m) < c.max && c.bytes+m.cost <= c.maxCost {
			break
		}
		delete(c.m, ek)
		c.bytes -= e.cost
	}
	c.m[k] = m
	c.bytes += m.cost
	return m
}

// changed: s now differs from the cookie it was read from (a factor was
// proven, a device checked), so nothing derived from that cookie (identity
// headers, folded policy inputs, its reseal) applies to it any more.
// Sliding the idle timeout and capping the lifetime are not such changes.
func (s *Session) changed() { s.memo = nil }

// session is the cached session, as a copy the caller may change: the
// request's own slot (reqState.session) the first time, so that a proxied
// request does not allocate one.
func (m *sessionMemo) session(ctx context.Context) *Session {
	var s *Session
	if st, ok := ctx.Value(ctxKey{}).(*reqState); ok && st.sessionUsed.CompareAndSwap(false, true) {
		s = &st.session
	} else {
		s = new(Session)
	}
	*s = m.s
	s.memo = m
	return s
}

// folded is the session's user and groups as the policy compares them,
// folded once per cached cookie (nil for a session not from the cache:
// the policy folds them itself).
func (s *Session) folded() *policy.Folded {
	m := s.memo
	if m == nil {
		return nil
	}
	f := m.folded.Load()
	if f == nil {
		f = policy.Fold(s.Identity.Username, s.Identity.Groups)
		m.folded.Store(f)
	}
	return f
}

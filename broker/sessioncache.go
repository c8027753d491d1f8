package broker

import (
	"sync"
)

// sessionCache remembers opened session cookies by their exact value, so a
// busy proxied app does not pay for HMAC, AES and JSON on every request.
// It lives in a Snapshot: a reload (which may drop a cookie key) starts
// empty. It is bounded: past max entries it forgets at random, so memory
// stays flat however many sessions there are. Validity (expiry, idle) is
// still checked on every request by the caller.
type sessionCache struct {
	mu  sync.RWMutex
	m   map[string]Session
	max int
}

func newSessionCache(max int) *sessionCache {
	return &sessionCache{m: make(map[string]Session, 64), max: max}
}

func (c *sessionCache) get(value string) (Session, bool) {
	c.mu.RLock()
	s, ok := c.m[value]
	c.mu.RUnlock()
	return s, ok
}

func (c *sessionCache) put(value string, s Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m { // map order is random: evict an arbitrary entry
			delete(c.m, k)
			break
		}
	}
	c.m[value] = s
}

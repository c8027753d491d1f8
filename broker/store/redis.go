package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every replica of a fleet. Each value is stored as
// a Redis string: a 20-digit expiry (Unix nanoseconds of the store's clock,
// zero for never) followed by the bytes. Liveness is judged against the
// caller's clock, to the nanosecond, as the conformance suite demands; Redis's
// own TTL (set from the same expiry, rounded up to a millisecond) only cleans
// up, so nothing grows without bound.
//
// Put and Delete announce the key on a pub/sub channel, so replicas can cache
// reads (see Watch).
type Redis struct {
	c      redis.UniversalClient
	prefix string
	now    func() time.Time
	closed atomic.Bool
	// life ends at Close, which ends every Watch.
	life context.Context
	end  context.CancelFunc
}

var (
	_ Store   = (*Redis)(nil)
	_ Watcher = (*Redis)(nil)
	_ Lister  = (*Redis)(nil)
)

// expiryLen is the width of the expiry header: enough for any int64 nanosecond.
const expiryLen = 20

// NewRedis wraps an opened client; every key is stored under prefix (e.g.
// "fedgate:"), so several deployments can share one Redis. now nil means
// time.Now. Close closes the client.
func NewRedis(c redis.UniversalClient, prefix string, now func() time.Time) *Redis {
	life, end := context.WithCancel(context.Background())
	return &Redis{c: c, prefix: prefix, now: orNow(now), life: life, end: end}
}

// Lua scripts keep read-modify-write atomic: Redis runs one at a time. Each
// gets the key, the caller's now and (where it writes) the new entry.
var (
	// KEYS[1]; ARGV: now, header of the new entry, ttl ms. 1 if claimed.
	claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local e = string.sub(cur, 1, 20)
  if e == '00000000000000000000' or ARGV[1] < e then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)
	// KEYS[1]; ARGV: now, header of a new window, its ttl ms. The new count.
	incrScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local e = string.sub(cur, 1, 20)
  if e == '00000000000000000000' or ARGV[1] < e then
    local v = string.sub(cur, 21)
    if not string.match(v, '^%-?%d+$') then return redis.error_reply('NOTCOUNTER') end
    local n = tonumber(v) + 1
    redis.call('SET', KEYS[1], e .. n, 'KEEPTTL')
    return n
  end
end
redis.call('SET', KEYS[1], ARGV[2] .. '1', 'PX', ARGV[3])
return 1`)
	// KEYS[1]; ARGV: now. The new count; an absent or expired key stays absent.
	decrScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local e = string.sub(cur, 1, 20)
if not (e == '00000000000000000000' or ARGV[1] < e) then return 0 end
local v = string.sub(cur, 21)
if not string.match(v, '^%-?%d+$') then return redis.error_reply('NOTCOUNTER') end
local n = math.max(tonumber(v) - 1, 0)
redis.call('SET', KEYS[1], e .. n, 'KEEPTTL')
return n`)
)

// header encodes an expiry as the fixed-width prefix of a stored value, so
// that Lua can compare expiries as strings.
func header(t time.Time) string {
	if t.IsZero() {
		return strings.Repeat("0", expiryLen)
	}
	return fmt.Sprintf("%020d", t.UnixNano())
}

// liveHeader reports whether an entry with expiry header e is live at the
// header now (fixed width: the strings compare as the times do), as the
// Lua scripts judge it too.
func liveHeader(e, now string) bool { return e == neverHeader || now < e }

// neverHeader is the header of an entry that never expires.
var neverHeader = header(time.Time{})

// ttl is how long Redis keeps an entry expiring at exp: rounded up, so Redis
// never drops an entry the store still calls live.
func ttl(exp, now time.Time) int64 {
	return max(int64((exp.Sub(now)+time.Millisecond-1)/time.Millisecond), 1)
}

// usable checks what every call checks before touching Redis.
func (s *Redis) usable(ctx context.Context, op string) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", op, ErrClosed)
	}
	return nil
}

func (s *Redis) begin(ctx context.Context, op, key string) error {
	if err := s.usable(ctx, op); err != nil {
		return err
	}
	return checkKey(op, key)
}

// fail wraps a Redis error without the key (keys can hold secrets).
func fail(op string, err error) error {
	if err != nil && strings.Contains(err.Error(), "NOTCOUNTER") {
		return fmt.Errorf("store: %s: %w", op, ErrNotCounter)
	}
	return fmt.Errorf("store: %s: redis: %w", op, err)
}

func (s *Redis) Claim(ctx context.Context, key string, expiry time.Time) (bool, error) {
	if err := s.begin(ctx, "claim", key); err != nil {
		return false, err
	}
	now := s.now()
	if err := checkClaim(key, expiry, now); err != nil {
		return false, err
	}
	n, err := claimScript.Run(ctx, s.c, []string{s.prefix + key}, header(now), header(expiry), ttl(expiry, now)).Int()
	if err != nil {
		return false, fail("claim", err)
	}
	return n == 1, nil
}

func (s *Redis) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	if err := s.begin(ctx, "incr", key); err != nil {
		return 0, err
	}
	if err := checkIncr(key, window); err != nil {
		return 0, err
	}
	now := s.now()
	exp := now.Add(window)
	n, err := incrScript.Run(ctx, s.c, []string{s.prefix + key}, header(now), header(exp), ttl(exp, now)).Int64()
	if err != nil {
		return 0, fail("incr", err)
	}
	return n, nil
}

func (s *Redis) Decr(ctx context.Context, key string) (int64, error) {
	if err := s.begin(ctx, "decr", key); err != nil {
		return 0, err
	}
	n, err := decrScript.Run(ctx, s.c, []string{s.prefix + key}, header(s.now())).Int64()
	if err != nil {
		return 0, fail("decr", err)
	}
	return n, nil
}

// Put writes and announces the change. An expiry already past deletes the
// key: that value could never be read.
func (s *Redis) Put(ctx context.Context, key string, value []byte, expiry time.Time) error {
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	now := s.now()
	k := s.prefix + key
	err := s.announce(ctx, key, func(p redis.Pipeliner) {
		switch {
		case expiry.IsZero():
			p.Set(ctx, k, header(expiry)+string(value), 0)
		case expiry.After(now):
			p.Set(ctx, k, header(expiry)+string(value), time.Duration(ttl(expiry, now))*time.Millisecond)
		default:
			p.Del(ctx, k)
		}
	})
	if err != nil {
		return fail("put", err)
	}
	return nil
}

// announce runs write, then publishes key on the change channel, so that a
// replica that hears the key finds the write done. On one connection (a
// single node, Sentinel) one pipeline keeps them in order, in one round
// trip. A Cluster runs a pipeline's commands on each node at once, and the
// PUBLISH (no key) may go to another node than the write: there it waits
// for the write's reply.
func (s *Redis) announce(ctx context.Context, key string, write func(redis.Pipeliner)) error {
	if _, ok := s.c.(*redis.ClusterClient); ok {
		if _, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error { write(p); return nil }); err != nil {
			return err
		}
		return s.c.Publish(ctx, s.channel(), key).Err()
	}
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		write(p)
		p.Publish(ctx, s.channel(), key)
		return nil
	})
	return err
}

func (s *Redis) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "get", key); err != nil {
		return nil, err
	}
	raw, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fail("get", err)
	}
	if len(raw) < expiryLen {
		return nil, fail("get", errors.New("entry without an expiry header"))
	}
	if !liveHeader(string(raw[:expiryLen]), header(s.now())) {
		return nil, ErrNotFound
	}
	return raw[expiryLen:], nil
}

func (s *Redis) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	if err := s.announce(ctx, key, func(p redis.Pipeliner) { p.Del(ctx, s.prefix+key) }); err != nil {
		return fail("delete", err)
	}
	return nil
}

func (s *Redis) Ping(ctx context.Context) error {
	if err := s.usable(ctx, "ping"); err != nil {
		return err
	}
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	return nil
}

// Close closes the client; later calls return ErrClosed.
func (s *Redis) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.end()
	return s.c.Close()
}

// channel carries the (unprefixed) key of every Put and Delete.
func (s *Redis) channel() string { return s.prefix + "changed" }

// feedBeat is how long the change feed may be silent before Watch pings
// it. A feed still silent a beat after its ping (Redis frozen, a half-open
// connection) may be missing changes: the watcher hears lost, so no cache
// is trusted for more than two beats on a feed that has stopped.
const feedBeat = time.Second

// Watch implements Watcher with a Redis subscription. go-redis resubscribes
// by itself after a lost connection; messages sent meanwhile are lost, so
// the caller hears lost on the error (or the unanswered ping), and reset
// once the subscription is back (or the silent feed speaks again).
func (s *Redis) Watch(ctx context.Context, changed func(key string), lost, reset func()) {
	sub := s.c.Subscribe(ctx, s.channel())
	// A blocked Receive does not watch ctx: closing the subscription ends it.
	unsub := func() { _ = sub.Close() }
	defer context.AfterFunc(ctx, unsub)()
	defer context.AfterFunc(s.life, unsub)()
	defer unsub()
	pinged, deaf := false, false
	heard := func() { // Redis spoke on the subscription's connection
		pinged = false
		if deaf {
			deaf = false
			reset()
		}
	}
	for {
		msg, err := sub.ReceiveTimeout(ctx, feedBeat)
		if ctx.Err() != nil || s.closed.Load() {
			return
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			pinged, deaf = false, false
			reset()
		case *redis.Message:
			heard()
			changed(m.Payload)
		case *redis.Pong:
			heard()
		default:
			timeout := isTimeout(err)
			if timeout && !pinged {
				_ = sub.Ping(ctx) // a failure shows as the next Receive's error
				pinged = true
				continue
			}
			if !deaf {
				deaf = true
				lost()
			}
			if timeout {
				_ = sub.Ping(ctx) // still silent: ask again
				continue
			}
			time.Sleep(100 * time.Millisecond) // the next Receive reconnects and resubscribes
		}
	}
}

// isTimeout: a read that waited its time out (the connection stays).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Keys implements Lister: SCAN on every primary (a Cluster spreads keys
// over its nodes), and the entries' expiry headers are read, so an entry is
// live exactly when Get would find it.
func (s *Redis) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := s.begin(ctx, "keys", prefix); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c redis.Cmdable) error {
		pattern := globEscape(s.prefix+prefix) + "*"
		for cursor := uint64(0); ; {
			batch, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
			if err != nil {
				return err
			}
			live, err := s.liveKeys(ctx, c, batch)
			if err != nil {
				return err
			}
			mu.Lock()
			keys = append(keys, live...)
			mu.Unlock()
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	var err error
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return scan(ctx, c) })
	} else {
		err = scan(ctx, s.c)
	}
	if err != nil {
		return nil, fail("keys", err)
	}
	return keys, nil
}

// liveKeys reads the headers of prefixed keys in one round trip and returns
// the live ones, unprefixed.
func (s *Redis) liveKeys(ctx context.Context, c redis.Cmdable, prefixed []string) ([]string, error) {
	if len(prefixed) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(prefixed))
	// The pipeline's error is its first command's; each is looked at below.
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range prefixed {
			cmds[i] = p.GetRange(ctx, k, 0, expiryLen-1)
		}
		return nil
	})
	now := header(s.now())
	var live []string
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if strings.HasPrefix(err.Error(), "WRONGTYPE") {
				continue // not a string: no entry of ours
			}
			return nil, err
		}
		e := cmd.Val() // "" for a key gone since the SCAN
		if len(e) == expiryLen && liveHeader(e, now) {
			live = append(live, strings.TrimPrefix(prefixed[i], s.prefix))
		}
	}
	return live, nil
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

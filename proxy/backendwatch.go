package proxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A backend that takes a request and never answers must not hold the
// client's request for ever: after backendAnswer without a byte of answer,
// the request fails with 504 (nginx's proxy_read_timeout). The transport's
// ResponseHeaderTimeout would do it with a timer on every proxied request,
// which cost more than anything else the proxy adds; instead the
// connections the transport dials are watched, as the server's are for
// stalled writes: one that has written (a request) and read nothing since
// for backendAnswer is closed. A write costs an atomic add, a read that
// returns data a load and a store.
const backendAnswer = 60 * time.Second

// errNoAnswer is what a watched connection's reads return once the watch
// closed it: a timeout, so the request is answered 504, not 502.
var errNoAnswer = &noAnswerError{}

type noAnswerError struct{}

func (*noAnswerError) Error() string   { return "proxy: the backend sent no answer in time" }
func (*noAnswerError) Timeout() bool   { return true }
func (*noAnswerError) Temporary() bool { return false }

// backendWatch is the set of connections dialed to backends; one goroutine
// per process looks at them every quarter of the limit.
type backendWatch struct {
	limit time.Duration
	once  sync.Once
	mu    sync.Mutex
	conns map[*backendConn]struct{}
}

var backends = newBackendWatch(backendAnswer)

func newBackendWatch(limit time.Duration) *backendWatch {
	return &backendWatch{limit: limit, conns: map[*backendConn]struct{}{}}
}

// dial wraps dial's connections for the watch.
func (bw *backendWatch) dial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		bc := &backendConn{Conn: c, w: bw}
		bw.once.Do(func() { go bw.run() })
		bw.mu.Lock()
		bw.conns[bc] = struct{}{}
		bw.mu.Unlock()
		return bc, nil
	}
}

func (bw *backendWatch) run() {
	for {
		time.Sleep(bw.limit / 4)
		bw.round(time.Now())
	}
}

// round closes the connections that have awaited an answer since a round
// at least limit ago (between limit and 5/4 of it after the write).
func (bw *backendWatch) round(now time.Time) {
	var late []*backendConn
	bw.mu.Lock()
	for c := range bw.conns {
		w := c.writes.Load()
		switch {
		case c.answered.Load() == w:
			c.seen = 0
		case w != c.seen:
			c.seen, c.seenAt = w, now
		case now.Sub(c.seenAt) >= bw.limit:
			late = append(late, c)
			delete(bw.conns, c)
		}
	}
	bw.mu.Unlock()
	for _, c := range late {
		c.cut.Store(true)
		_ = c.Conn.Close()
	}
}

// backendConn is a connection to a backend under the watch. writes counts
// completed writes; answered is writes' count when a read last returned
// data: they differ while a request awaits its answer.
type backendConn struct {
	net.Conn
	w        *backendWatch
	writes   atomic.Uint64
	answered atomic.Uint64
	cut      atomic.Bool
	// The watch's own: the writes it last saw unanswered, and when.
	seen   uint64
	seenAt time.Time
}

func (c *backendConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.writes.Add(1)
	return n, err
}

func (c *backendConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.answered.Store(c.writes.Load())
	}
	if err != nil && c.cut.Load() && errors.Is(err, net.ErrClosed) {
		err = errNoAnswer
	}
	return n, err
}

func (c *backendConn) Close() error {
	c.w.mu.Lock()
	delete(c.w.conns, c)
	c.w.mu.Unlock()
	return c.Conn.Close()
}

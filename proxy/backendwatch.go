package proxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A backend that takes a request and never answers must not hold the
// client's request for ever: after backendAnswer without an answer,
// the request fails with 504 (nginx's proxy_read_timeout). The transport's
// ResponseHeaderTimeout would do it with a timer on every proxied request,
// which cost more than anything else the proxy adds; instead the
// connections the transport dials are watched, as the server's are for
// stalled writes: one that has written a request and not read the end of
// an answer's header since, for backendAnswer, is closed. A write costs an
// atomic add; a read looks for the header's end only while an answer is
// awaited. (A request Go's transport may replay, on a kept-alive
// connection that the watch closed, is sent once more on a new one: it
// may wait twice.)
const backendAnswer = 60 * time.Second

// errNoAnswer is what a watched connection's reads return once the watch
// closed it: a timeout, so the request is answered 504, not 502.
var errNoAnswer = &noAnswerError{}

type noAnswerError struct{}

func (*noAnswerError) Error() string   { return "proxy: the backend sent no answer in time" }
func (*noAnswerError) Timeout() bool   { return true }
func (*noAnswerError) Temporary() bool { return false }

// backendWatch is the set of connections dialed to backends; one goroutine
// looks at them every quarter of the limit, while there are any.
type backendWatch struct {
	limit    time.Duration
	mu       sync.Mutex
	conns    map[*backendConn]struct{}
	watching bool // the goroutine runs
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
		bc := &backendConn{Conn: c, w: bw, tail: make([]byte, 0, 2*len(headerEnd))}
		bw.mu.Lock()
		bw.conns[bc] = struct{}{}
		if !bw.watching {
			bw.watching = true
			go bw.run()
		}
		bw.mu.Unlock()
		return bc, nil
	}
}

// run watches until no connection is left (a dial starts it again).
func (bw *backendWatch) run() {
	for {
		time.Sleep(bw.limit / 4)
		if !bw.round(time.Now()) {
			return
		}
	}
}

// round closes the connections that have awaited an answer since a round
// at least limit ago (between limit and 5/4 of it after the write); false
// once none is left, and the goroutine stops.
func (bw *backendWatch) round(now time.Time) bool {
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
	more := len(bw.conns) > 0
	bw.watching = more
	bw.mu.Unlock()
	for _, c := range late {
		c.cut.Store(true)
		_ = c.Conn.Close()
	}
	return more
}

// backendConn is a connection to a backend under the watch. writes counts
// writes begun (a request's are counted before they go: its answer cannot
// be read before); answered is writes' count when a read last completed an
// answer's header: they differ while a request awaits its answer.
type backendConn struct {
	net.Conn
	w        *backendWatch
	writes   atomic.Uint64
	answered atomic.Uint64
	cut      atomic.Bool
	// The reader's own: the end of what it read, as far as it matches
	// headerEnd (a header's end may come in two reads).
	tail []byte
	// The watch's own: the writes it last saw unanswered, and when.
	seen   uint64
	seenAt time.Time
}

func (c *backendConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func (c *backendConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		if w := c.writes.Load(); w != c.answered.Load() && c.headerEnds(p[:n]) {
			c.answered.Store(w)
		}
	}
	if err != nil && c.cut.Load() && errors.Is(err, net.ErrClosed) {
		err = errNoAnswer
	}
	return n, err
}

// headerEnd ends an HTTP/1 header. An informational answer's (100, 103)
// counts too: the backend has answered.
const headerEnd = "\r\n\r\n"

// headerEnds reports whether p, read after what the connection read
// before, completes a header.
func (c *backendConn) headerEnds(p []byte) bool {
	joined := append(c.tail, p[:min(len(p), len(headerEnd)-1)]...)
	if bytes.Contains(joined, []byte(headerEnd)) || bytes.Contains(p, []byte(headerEnd)) {
		c.tail = c.tail[:0]
		return true
	}
	// Keep what may begin a header's end: at most its length less one.
	if len(p) >= len(headerEnd)-1 {
		joined = p
	}
	k := 0
	for i := min(len(joined), len(headerEnd)-1); i > 0; i-- {
		if string(joined[len(joined)-i:]) == headerEnd[:i] {
			k = i
			break
		}
	}
	c.tail = append(c.tail[:0], joined[len(joined)-k:]...)
	return false
}

func (c *backendConn) Close() error {
	c.w.mu.Lock()
	delete(c.w.conns, c)
	c.w.mu.Unlock()
	return c.Conn.Close()
}

package broker

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// A client that stops reading must not hold a connection, its goroutine and
// a backend connection for ever; one that reads slowly, and a stream that
// pauses between events, must pass (nginx's send_timeout). Deadlines on the
// connection cannot tell these apart cheaply: Go clears the write deadline
// after every request, so one would be set (a timer) on every proxied
// request. Instead every connection fedgate serves is watched: a write
// that has been blocked for timeouts.write is ended by closing its
// connection. A write costs two atomic adds; one goroutine looks at all
// connections a few times per timeouts.write. This covers HTTP/1
// responses (the server's last flush included), HTTP/2 connections
// beneath TLS, upgraded WebSockets and the server's own error replies.
// HTTP/2 streams are watched one by one as well (watchedStream): a stream
// waits for flow control that a client may never grant while the
// connection beneath makes progress.

// Listener watches the connections ln accepts for writes that stall (see
// above). Closing it stops the watch once its last connection is closed.
func (b *Server) Listener(ln net.Listener) net.Listener {
	g := &stallGuard{Listener: ln, b: b, conns: map[*watchedConn]struct{}{}, streams: map[*watchedStream]struct{}{}}
	b.guard.Store(g)
	go g.watch()
	return g
}

type stallGuard struct {
	net.Listener
	b       *Server
	mu      sync.Mutex
	conns   map[*watchedConn]struct{}
	streams map[*watchedStream]struct{}
	closed  bool
}

// progress is a count of writes, odd while one is in progress, and what
// the watch last saw of it. Writes on one connection or stream are
// serialized (net/http's and tls.Conn's are), so the count is a clock of
// its progress.
type progress struct {
	writes atomic.Uint64
	// The watch's own: the write it last saw in progress, and when.
	seen   uint64
	seenAt time.Time
}

// stalled tells the watch, looking at now, whether a write has been in
// progress since a round at least limit ago.
func (p *progress) stalled(now time.Time, limit time.Duration) bool {
	switch w := p.writes.Load(); {
	case w%2 == 0:
		p.seen = 0
	case w != p.seen:
		p.seen, p.seenAt = w, now
	default:
		return limit > 0 && now.Sub(p.seenAt) >= limit
	}
	return false
}

// watchedConn is a connection under the watch.
type watchedConn struct {
	net.Conn
	g *stallGuard
	progress
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	n, err := c.Conn.Write(p)
	c.writes.Add(1)
	return n, err
}

func (c *watchedConn) Close() error {
	c.g.mu.Lock()
	delete(c.g.conns, c)
	c.g.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite keeps net/http's graceful close (a request whose body is not
// read to its end) on a TCP connection.
func (c *watchedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (g *stallGuard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	wc := &watchedConn{Conn: c, g: g}
	g.mu.Lock()
	g.conns[wc] = struct{}{}
	g.mu.Unlock()
	return wc, nil
}

func (g *stallGuard) Close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return g.Listener.Close()
}

// watch ends, every quarter of timeouts.write (read on every round: a
// reload may change it), the connections whose write has been in progress
// since a round at least timeouts.write ago: the write blocked for at least
// timeouts.write and at most 3/2 of it.
func (g *stallGuard) watch() {
	for {
		limit := g.b.snap.Load().Config.Server.Timeouts.Write
		time.Sleep(min(max(limit/4, 10*time.Millisecond), time.Second))
		if !g.round(time.Now(), limit) {
			return
		}
	}
}

// round looks at every connection once, closing those stalled past limit;
// false once the listener is closed and its connections are gone.
func (g *stallGuard) round(now time.Time, limit time.Duration) bool {
	var conns []*watchedConn
	var streams []*watchedStream
	g.mu.Lock()
	for c := range g.conns {
		if c.stalled(now, limit) {
			conns = append(conns, c)
			delete(g.conns, c)
		}
	}
	for s := range g.streams {
		if s.stalled(now, limit) {
			streams = append(streams, s)
			delete(g.streams, s)
		}
	}
	more := !g.closed || len(g.conns) > 0
	g.mu.Unlock()
	for _, c := range conns {
		// Closing the connection ends the blocked write, and with it the
		// request and its backend's.
		_ = c.Conn.Close()
		g.b.Logger.Info("connection closed: the client read nothing for timeouts.write", "remote", c.RemoteAddr().String(), "timeout", limit)
	}
	for _, s := range streams {
		if s.reset() {
			g.b.Logger.Info("HTTP/2 stream reset: the client read nothing for timeouts.write", "remote", s.remote, "timeout", limit)
		}
	}
	return more
}

// watchedStream is an HTTP/2 response under the watch, from the
// middleware's start to its end (watchStream).
type watchedStream struct {
	progress
	g      *stallGuard
	w      http.ResponseWriter // the server's own
	remote string
	mu     sync.Mutex
	ended  bool // the middleware is done: w may not be used any more
}

// watchStream puts r's response under the watch if it is an HTTP/2
// stream on a watched listener; nil otherwise. The caller ends it.
func (b *Server) watchStream(w http.ResponseWriter, r *http.Request) *watchedStream {
	g := b.guard.Load()
	if r.ProtoMajor != 2 || g == nil {
		return nil
	}
	s := &watchedStream{g: g, w: w, remote: r.RemoteAddr}
	g.mu.Lock()
	g.streams[s] = struct{}{}
	g.mu.Unlock()
	return s
}

// end takes the stream off the watch: after it, the server may reuse w.
func (s *watchedStream) end() {
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.g.mu.Lock()
	delete(s.g.streams, s)
	s.g.mu.Unlock()
}

// reset ends the stream with an error (a deadline in the past), which
// fails its blocked write; false if the response had ended already.
func (s *watchedStream) reset() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	_ = http.NewResponseController(s.w).SetWriteDeadline(time.Unix(1, 0))
	return true
}

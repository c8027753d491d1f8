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
// that has been blocked for timeouts.write, its connection having moved
// less than minProgress meanwhile, is ended by closing the connection. A
// write costs two atomic adds; one goroutine looks at all connections a
// few times per timeouts.write. This covers HTTP/1 responses (the server's
// last flush included), HTTP/2 connections beneath TLS, upgraded
// WebSockets and the server's own error replies. HTTP/2 streams are
// watched one by one as well (watchedStream): a stream waits for flow
// control that a client may never grant while the connection beneath
// makes progress.

// Listener watches the connections ln accepts for writes that stall (see
// above), and the HTTP/2 streams the handler answers: one per Server (the
// streams go to the last one made). Closing it stops the watch once its
// last connection is closed.
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
	// The watch's own: the write it last saw in progress, since when, and
	// how far its connection had moved then (moved).
	seen   uint64
	seenAt time.Time
	mark   uint64
}

// minProgress is how much a blocked write must move in a round of limit
// not to count as stalled: a reader that reads slowly passes (a socket
// wakes a blocked writer only once much of its buffer has drained, so one
// write may block for long), one that trickles bytes to hold the
// connection does not.
const minProgress = 16 << 10

// stalled tells the watch, looking at now, whether a write has been in
// progress since a round at least limit ago and moved (bytes the peer
// acknowledged, where known) less than minProgress in that time.
func (p *progress) stalled(now time.Time, limit time.Duration, moved func() (uint64, bool)) bool {
	switch w := p.writes.Load(); {
	case w%2 == 0:
		p.seen = 0
		return false
	case w != p.seen:
		p.seen, p.seenAt = w, now
		if moved != nil {
			p.mark, _ = moved()
		}
		return false
	case limit <= 0 || now.Sub(p.seenAt) < limit:
		return false
	}
	if moved != nil {
		if m, ok := moved(); ok && m-p.mark >= minProgress {
			p.mark, p.seenAt = m, now
			return false
		}
	}
	return true
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
// since a round at least timeouts.write ago without moving (progress): the
// write blocked for at least timeouts.write and at most 3/2 of it.
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
	var busy, conns []*watchedConn
	var streams []*watchedStream
	g.mu.Lock()
	for c := range g.conns {
		if c.writes.Load()%2 == 1 {
			busy = append(busy, c)
		} else {
			c.seen = 0
		}
	}
	for s := range g.streams {
		if s.stalled(now, limit, nil) {
			streams = append(streams, s)
			delete(g.streams, s)
		}
	}
	g.mu.Unlock()
	// Asking a connection how far it moved is a system call: not while
	// accepts and closes wait for the lock.
	for _, c := range busy {
		if c.stalled(now, limit, c.acked) {
			conns = append(conns, c)
		}
	}
	g.mu.Lock()
	for _, c := range conns {
		delete(g.conns, c)
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

// watchedStream is an HTTP/2 response under the watch, from the broker's
// handler's start to its end (watchStream): it counts the writes and
// flushes on the way to the server's ResponseWriter.
type watchedStream struct {
	http.ResponseWriter // the server's own
	progress
	g      *stallGuard
	remote string
	wrote  bool
	mu     sync.Mutex
	ended  bool // the handler is done: the server may reuse its writer
}

// watchStream puts r's response under the watch if it is an HTTP/2
// stream on a watched listener; nil otherwise. The caller answers through
// it, then flushes and ends it.
func (b *Server) watchStream(w http.ResponseWriter, r *http.Request) *watchedStream {
	g := b.guard.Load()
	if r.ProtoMajor != 2 || g == nil {
		return nil
	}
	s := &watchedStream{ResponseWriter: w, g: g, remote: r.RemoteAddr}
	g.mu.Lock()
	g.streams[s] = struct{}{}
	g.mu.Unlock()
	return s
}

func (s *watchedStream) WriteHeader(code int) {
	s.wrote = true
	s.ResponseWriter.WriteHeader(code)
}

func (s *watchedStream) Write(p []byte) (int, error) {
	s.wrote = true
	s.writes.Add(1)
	n, err := s.ResponseWriter.Write(p)
	s.writes.Add(1)
	return n, err
}

// FlushError is a write too: it waits for flow control.
func (s *watchedStream) FlushError() error {
	s.wrote = true
	s.writes.Add(1)
	err := http.NewResponseController(s.ResponseWriter).Flush()
	s.writes.Add(1)
	return err
}

func (s *watchedStream) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// flush sends what the handler left buffered under the watch: the
// server's own last write is then an empty frame that flow control does
// not hold.
func (s *watchedStream) flush() {
	if s.wrote {
		_ = s.FlushError()
	}
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
	_ = http.NewResponseController(s.ResponseWriter).SetWriteDeadline(time.Unix(1, 0))
	return true
}

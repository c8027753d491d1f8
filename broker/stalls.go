package broker

import (
	"net"
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

// Listener watches the connections ln accepts for writes that stall (see
// above). Closing it stops the watch once its last connection is closed.
func (b *Server) Listener(ln net.Listener) net.Listener {
	g := &stallGuard{Listener: ln, conns: map[*watchedConn]struct{}{}, b: b}
	go g.watch()
	return g
}

type stallGuard struct {
	net.Listener
	b      *Server
	mu     sync.Mutex
	conns  map[*watchedConn]struct{}
	closed bool
}

// watchedConn counts its writes: odd while one is in progress. Writes on
// one connection are serialized (net/http's and tls.Conn's are), so the
// count is a clock of its write progress.
type watchedConn struct {
	net.Conn
	g      *stallGuard
	writes atomic.Uint64
	// The watch's own: the write it last saw in progress, and when.
	seen   uint64
	seenAt time.Time
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
	var stalled []*watchedConn
	g.mu.Lock()
	for c := range g.conns {
		switch w := c.writes.Load(); {
		case w%2 == 0:
			c.seen = 0
		case w != c.seen:
			c.seen, c.seenAt = w, now
		case limit > 0 && now.Sub(c.seenAt) >= limit:
			stalled = append(stalled, c)
			delete(g.conns, c)
		}
	}
	more := !g.closed || len(g.conns) > 0
	g.mu.Unlock()
	for _, c := range stalled {
		// Closing the connection ends the blocked write, and with it the
		// request and its backend's.
		_ = c.Conn.Close()
		g.b.Logger.Info("connection closed: the client read nothing for timeouts.write", "remote", c.RemoteAddr().String(), "timeout", limit)
	}
	return more
}

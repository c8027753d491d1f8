package broker

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const stallLimit = 200 * time.Millisecond

// guarded is a listener watched by a server whose timeouts.write is
// stallLimit.
func guarded(t *testing.T) (*stallGuard, *Server) { return guardedFor(t, stallLimit) }

// guardedFor is guarded with timeouts.write limit.
func guardedFor(t *testing.T, limit time.Duration) (*stallGuard, *Server) {
	t.Helper()
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  timeouts: { write: "+limit.String()+" }\n", 1)
	e := newEnvWith(t, cfg, nil)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := e.srv.Listener(tcp).(*stallGuard)
	t.Cleanup(func() { ln.Close() })
	return ln, e.srv
}

// serveOne accepts one connection, runs f on it and closes it, then
// sends f's error.
func serveOne(t *testing.T, ln net.Listener, f func(net.Conn) error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		err = f(c)
		c.Close() // before the caller learns f is done
		done <- err
	}()
	return done
}

// writeForever writes until a write fails.
func writeForever(c net.Conn) error {
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			return err
		}
	}
}

// TestStalledWriteClosed: a client that reads nothing has its connection
// closed once a write has been blocked for timeouts.write, and the watch
// forgets it.
func TestStalledWriteClosed(t *testing.T) {
	ln, _ := guarded(t)
	done := serveOne(t, ln, writeForever)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the write loop ended without an error")
		}
	case <-time.After(10 * stallLimit):
		t.Fatalf("a client that reads nothing held the connection for %v", 10*stallLimit)
	}
	ln.mu.Lock()
	n := len(ln.conns)
	ln.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d connections still watched", n)
	}
}

// TestPausesAndLateReadersPass: a stream that waits longer than
// timeouts.write between writes, and a client that starts reading a large
// answer after less than timeouts.write, get everything.
func TestPausesAndLateReadersPass(t *testing.T) {
	ln, _ := guarded(t)
	big := bytes.Repeat([]byte("y"), 16<<20) // more than loopback buffers hold
	cases := []struct {
		name  string
		serve func(net.Conn) error
		wait  time.Duration // before the client reads
		want  int
	}{
		{"a stream pausing 3x timeouts.write", func(c net.Conn) error {
			for range 3 {
				if _, err := io.WriteString(c, "event\n"); err != nil {
					return err
				}
				time.Sleep(3 * stallLimit)
			}
			return nil
		}, 0, 3 * len("event\n")},
		{"a reader starting after timeouts.write/2", func(c net.Conn) error {
			_, err := c.Write(big)
			return err
		}, stallLimit / 2, len(big)},
	}
	for _, tc := range cases {
		done := serveOne(t, ln, tc.serve)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(tc.wait)
		got := make(chan int64, 1)
		go func() {
			n, _ := io.Copy(io.Discard, c)
			got <- n
		}()
		if err := <-done; err != nil {
			t.Fatalf("%s: the write failed: %v", tc.name, err)
		}
		if n := <-got; n != int64(tc.want) {
			t.Fatalf("%s: %d of %d bytes arrived", tc.name, n, tc.want)
		}
		c.Close()
	}
}

// TestWatchEndsWithListener: once the listener is closed and its last
// connection too, the watch stops.
func TestWatchEndsWithListener(t *testing.T) {
	ln, _ := guarded(t)
	done := serveOne(t, ln, func(net.Conn) error { return nil })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !ln.round(time.Now(), stallLimit) {
		t.Fatal("the watch stopped while the listener was open")
	}
	ln.Close()
	if ln.round(time.Now(), stallLimit) {
		t.Fatal("the watch goes on after the listener and its connections closed")
	}
}

// TestStalledHTTP2Closed: over HTTP/2 (beneath TLS), a client that opens
// flow control wide and then reads nothing from its socket has the
// connection closed, and the handler's write fails.
func TestStalledHTTP2Closed(t *testing.T) {
	ln, _ := guarded(t)
	handlerDone := make(chan error, 1)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				handlerDone <- err
				return
			}
		}
	}))
	ts.Listener.Close()
	ts.Listener = ln
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()

	fr := dialH2(t, ln.Addr().String(), 1<<31-1)
	if err := fr.WriteWindowUpdate(0, 1<<31-1-65535); err != nil {
		t.Fatal(err)
	}
	h2Get(t, fr, "stall.example", "/", "")
	// Read nothing from here on.
	select {
	case err := <-handlerDone:
		if err == nil {
			t.Fatal("no write error")
		}
	case <-time.After(10 * stallLimit):
		t.Fatalf("an HTTP/2 client that reads nothing held its stream for %v", 10*stallLimit)
	}
}

// TestStalledHTTP2StreamReset: an HTTP/2 client that reads its socket but
// grants a stream no flow control has the stream reset once a write has
// waited timeouts.write, whatever answers it, and a proxied backend's
// connection is let go; a stream that pauses between events passes.
func TestStalledHTTP2StreamReset(t *testing.T) {
	backendDone := make(chan error, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" { // a stream pausing longer than timeouts.write
			for _, ev := range []string{"one\n", "two\n"} {
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
				time.Sleep(2 * stallLimit)
			}
			return
		}
		if r.URL.Path == "/small" {
			io.WriteString(w, strings.Repeat("s", 100))
			return
		}
		chunk := bytes.Repeat([]byte("b"), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				backendDone <- err
				return
			}
		}
	}))
	t.Cleanup(backend.Close)
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  timeouts: { write: 200ms }\n", 1)
	cfg = strings.Replace(cfg, "apps:\n", `apps:
  - { id: wiki, type: proxy, host: wiki.example, to: ["`+backend.URL+`"], policy: staff }
`, 1)
	e := newEnvWith(t, cfg, nil)
	s := e.srv.newSession(e.srv.Current(), protoIdentity("alice", []string{"staff"}))
	cookie := appSessionCookie + "=" + e.mint("proxy", "wiki", s)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(e.srv.Handler())
	ts.Listener.Close()
	ts.Listener = e.srv.Listener(tcp)
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close) // after the client's connection closes (dialH2)

	// A live client's stream that pauses passes, and leaves nothing watched.
	req, _ := http.NewRequest("GET", ts.URL+"/events", nil)
	req.Host = "wiki.example"
	req.Header.Set("Cookie", cookie)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.ProtoMajor != 2 || string(body) != "one\ntwo\n" {
		t.Fatalf("HTTP/%d stream: %q (%v)", resp.ProtoMajor, body, err)
	}
	g := e.srv.guard.Load()
	g.mu.Lock()
	n := len(g.streams)
	g.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d streams still watched after their responses", n)
	}

	// A client that reads its socket but grants no stream any data: each
	// stream must be reset. A proxied answer larger than a frame; one the
	// handler left buffered (the last flush); the mux's own redirect.
	for _, c := range []struct{ name, authority, path, cookie string }{
		{"a large proxied answer", "wiki.example", "/big", cookie},
		{"a small proxied answer", "wiki.example", "/small", cookie},
		{"the mux's redirect", "sso.example", "/a/../login", ""},
	} {
		fr := dialH2(t, tcp.Addr().String(), 0)
		h2Get(t, fr, c.authority, c.path, c.cookie)
		reset := make(chan http2.ErrCode, 1)
		go func() { // reads the socket, as a live client does
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() {
						_ = fr.WriteSettingsAck()
					}
				case *http2.RSTStreamFrame:
					reset <- f.ErrCode
				}
			}
		}()
		select {
		case <-reset:
		case <-time.After(10 * stallLimit):
			t.Fatalf("%s: a stream granted no flow control was held for %v", c.name, 10*stallLimit)
		}
	}
	select {
	case <-backendDone:
	case <-time.After(10 * stallLimit):
		t.Fatal("the backend's connection was held after the stream's reset")
	}
}

// dialH2 opens an HTTP/2 connection as a client that grants each stream
// window bytes of flow control.
func dialH2(t *testing.T, addr string, window uint32) *http2.Framer {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q", p)
	}
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window}); err != nil {
		t.Fatal(err)
	}
	return fr
}

// h2Get sends a GET as stream 1.
func h2Get(t *testing.T, fr *http2.Framer, authority, path, cookie string) {
	t.Helper()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", authority}, {":path", path}, {"cookie", cookie}} {
		if f[1] != "" {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// TestSlowReaders: with small socket buffers, one large write blocks for
// longer than timeouts.write (1 s here: a receiver acknowledges in bursts,
// once much of its buffer is read). A client reading steadily (25x
// minProgress per second) gets it all; one trickling bytes to hold the
// connection (half of minProgress) is let go.
func TestSlowReaders(t *testing.T) {
	const limit = time.Second
	ln, _ := guardedFor(t, limit)
	const size = 1 << 20
	// perTick is how much a reader reads every 10 ms to read perRound in
	// timeouts.write.
	perTick := func(perRound int) int { return perRound * 10 / int(limit.Milliseconds()) }
	for _, tc := range []struct {
		name  string
		chunk int
		cut   bool
	}{
		{"a steady reader", perTick(25 * minProgress), false},
		{"a trickling reader", perTick(minProgress / 2), true},
	} {
		done := serveOne(t, ln, func(c net.Conn) error {
			_ = c.(*watchedConn).Conn.(*net.TCPConn).SetWriteBuffer(32 << 10)
			_, err := c.Write(bytes.Repeat([]byte("s"), size))
			return err
		})
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).SetReadBuffer(32 << 10)
		// Read chunk bytes every 10 ms until the end, an error, or the
		// write's end.
		var n int
		var werr error
		written := false
		buf := make([]byte, tc.chunk)
		begin := time.Now()
		for n < size && werr == nil {
			m, err := io.ReadFull(c, buf[:min(tc.chunk, size-n)])
			n += m
			if !written {
				select {
				case werr = <-done:
					written = werr == nil
				default:
				}
			}
			if err != nil || time.Since(begin) > 30*time.Second {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		c.Close()
		if !written && werr == nil {
			werr = <-done
		}
		if cut := werr != nil; cut != tc.cut || (!tc.cut && n != size) || (cut && time.Since(begin) > 10*limit) {
			t.Fatalf("%s (%d bytes per 10 ms): read %d of %d bytes in %v, write error %v", tc.name, tc.chunk, n, size, time.Since(begin), werr)
		}
	}
}

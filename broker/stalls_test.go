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
func guarded(t *testing.T) (*stallGuard, *Server) {
	t.Helper()
	cfg := strings.Replace(testConfig, "  insecure_http: true\n", "  insecure_http: true\n  timeouts: { write: 200ms }\n", 1)
	e := newEnvWith(t, cfg, nil)
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := e.srv.Listener(tcp).(*stallGuard)
	t.Cleanup(func() { ln.Close() })
	return ln, e.srv
}

// serveOne accepts one connection and runs f on it, returning f's error
// and how long it ran.
func serveOne(t *testing.T, ln net.Listener, f func(net.Conn) error) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- f(c)
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

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated %q", p)
	}
	io.WriteString(conn, http2.ClientPreface)
	fr := http2.NewFramer(conn, conn)
	const window = 1<<31 - 1
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "stall.example"}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: window}); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteWindowUpdate(0, window-65535); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
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

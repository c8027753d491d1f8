package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerDeadlines: with timeouts.read and write at 300 ms, a proxied
// stream that takes five times that, pausing longer than write between
// parts, arrives whole (an absolute write deadline would cut it), while a
// request body that stalls is cut after timeouts.read on fedgate's own
// pages and on a proxied upload alike, a client that stops reading is let
// go, and no connection is held.
func TestServerDeadlines(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			// As an app would: a body cut short is a bad request. (Which
			// comes first, its answer or fedgate's 502, is a race.)
			if n, err := io.Copy(io.Discard, r.Body); err != nil {
				http.Error(w, fmt.Sprintf("read %d bytes: %v", n, err), http.StatusBadRequest)
			}
			return
		}
		if r.URL.Path == "/huge" { // far more than loopback's buffers hold
			chunk := bytes.Repeat([]byte("x"), 1<<20)
			for range hugeMiB {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
			return
		}
		if r.URL.Path == "/small" {
			fmt.Fprint(w, "small")
			return
		}
		for i := 1; i <= 4; i++ {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(400 * time.Millisecond) // longer than write: a stream's pause
		}
	}))
	t.Cleanup(backend.Close)
	port := freePort(t)
	dir := writeServerConfig(t, fmt.Sprintf("127.0.0.1:%d", port))
	cfg, err := os.ReadFile(filepath.Join(dir, "fedgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	app := fmt.Sprintf("localhost:%d", port)
	writeFile(t, dir, "fedgate.yaml", replaceAll(t, string(cfg),
		`public_url: "http://127.0.0.1:1"`, fmt.Sprintf(`public_url: "http://127.0.0.1:%d", timeouts: { read: 300ms, write: 300ms }`, port),
		"apps: [", fmt.Sprintf("apps: [{ id: files, type: proxy, host: %q, to: [%q], policy: staff-only },\n  ", app, backend.URL)))
	runConfig(t, dir)

	c := browser()
	if code, body := signIn(t, c, "http://"+app+"/small", "bob", "bob-demo-pw"); code != http.StatusOK || body != "small" {
		t.Fatalf("sign-in: %d %q", code, body)
	}
	// The stream, read to its end: the server's last flush (the chunked
	// body's end) comes a pause after the last write too.
	resp, err := c.Get("http://" + app + "/big")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "part 1\npart 2\npart 3\npart 4\n" {
		t.Fatalf("a proxied stream longer than timeouts.write: %d %q (%v)", resp.StatusCode, body, err)
	}
	var session string
	for _, ck := range c.Jar.Cookies(&url.URL{Scheme: "http", Host: app}) {
		session += ck.Name + "=" + ck.Value + "; "
	}

	// stalled sends a request whose body stops after 10 of 100 bytes: the
	// connection must be answered or closed well before the client's 3 s.
	// An answer must be an error, or want: 408 is fedgate's 408 page with
	// its correlation id, which must come; 307 is the mux's redirect,
	// which does not read the body.
	stalled := func(name, start, host, cookie string, want int) {
		t.Helper()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a", start, host, cookie)
		begin := time.Now()
		_ = conn.SetReadDeadline(begin.Add(3 * time.Second))
		br := bufio.NewReader(conn)
		r, err := http.ReadResponse(br, nil)
		if want == http.StatusRequestTimeout && err != nil {
			t.Fatalf("%s: no answer (%v) after %v", name, err, time.Since(begin))
		}
		if err == nil {
			if r.StatusCode < 400 && r.StatusCode != want {
				t.Fatalf("%s: a stalled body was answered %d", name, r.StatusCode)
			}
			var body []byte
			body, err = io.ReadAll(r.Body)
			if id := r.Header.Get("X-Request-Id"); want == http.StatusRequestTimeout && (r.StatusCode != http.StatusRequestTimeout || id == "" || !strings.Contains(string(body), id)) {
				t.Fatalf("%s: %d, X-Request-Id %q, page:\n%s", name, r.StatusCode, id, body)
			}
			if err == nil {
				_, err = br.ReadByte() // then the connection closes
			}
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: a stalled body held the connection for %v", name, time.Since(begin))
		}
	}
	own := fmt.Sprintf("127.0.0.1:%d", port)
	stalled("own page", "POST /login", own, "", 0)
	stalled("proxied upload", "POST /upload", app, strings.TrimSuffix(session, "; "), http.StatusRequestTimeout)
	stalled("unauthenticated upload to an app host", "POST /upload", app, "", 0)
	// What the server or the mux answer before any route does.
	stalled("OPTIONS *", "OPTIONS *", own, "", 0)
	stalled("a path the mux redirects", "POST /a/../login", own, "", http.StatusTemporaryRedirect)
	stalled("a * target", "POST *", own, "", 0)

	// unread pipelines requests and never reads an answer: once fedgate's
	// writes block, timeouts.write must end the connection (a reset here)
	// before the client's own 15 s (filling loopback's buffers with
	// pages takes a few seconds on a loaded machine).
	unread := func(name, host, path string) {
		t.Helper()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAccept: text/html\r\n\r\n"
		begin := time.Now()
		_ = conn.SetWriteDeadline(begin.Add(15 * time.Second))
		for {
			_, err := io.WriteString(conn, req)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%s: a client that reads nothing held the connection for %v", name, time.Since(begin))
			}
			if err != nil {
				return
			}
		}
	}
	unread("fedgate's sign-in page", own, "/login")
	unread("the sign-in redirect on an app host", app, "/page")

	// A proxied download the client stops reading: once no write has made
	// progress for timeouts.write, fedgate lets the connection go (and the
	// backend's). Read after 2 s, it must end short of the whole body;
	// before, the download resumed and all hugeMiB arrived. On a fresh
	// connection and on one that a forwarded response used just before.
	for _, reused := range []bool{false, true} {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		get := func(path string) string {
			return fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\n\r\n", path, app, strings.TrimSuffix(session, "; "))
		}
		br := bufio.NewReader(conn)
		if reused {
			io.WriteString(conn, get("/small"))
			r, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(r.Body); err != nil || string(b) != "small" {
				t.Fatalf("first response on the connection: %q %v", b, err)
			}
		}
		io.WriteString(conn, get("/huge"))
		time.Sleep(2 * time.Second)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, br)
		if ne, ok := err.(net.Error); (ok && ne.Timeout()) || n >= hugeMiB<<20 {
			t.Fatalf("a proxied download nobody reads (connection reused: %v): %d of %d MiB arrived after a 2 s stall (%v)", reused, n>>20, hugeMiB, err)
		}
	}
}

// hugeMiB is the size of the backend's /huge answer.
const hugeMiB = 256

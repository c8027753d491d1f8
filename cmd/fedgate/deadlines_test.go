package main

import (
	"bufio"
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
// download that takes twice that arrives whole (an absolute write deadline
// would cut it), while a request body that stalls is cut after timeouts.read
// on fedgate's own pages and on a proxied upload alike, and the connection
// is not held.
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
		for i := 1; i <= 4; i++ {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
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
	code, body := signIn(t, c, "http://"+app+"/big", "bob", "bob-demo-pw")
	if code != http.StatusOK || body != "part 1\npart 2\npart 3\npart 4\n" {
		t.Fatalf("a proxied download longer than timeouts.write: %d %q", code, body)
	}
	var session string
	for _, ck := range c.Jar.Cookies(&url.URL{Scheme: "http", Host: app}) {
		session += ck.Name + "=" + ck.Value + "; "
	}

	stalled := func(name, host, path, cookie string) {
		t.Helper()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nusername=a", path, host, cookie)
		start := time.Now()
		_ = conn.SetReadDeadline(start.Add(3 * time.Second))
		r, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("%s: a stalled body held the connection for %v", name, time.Since(start))
		}
		if r != nil && r.StatusCode < 400 {
			t.Fatalf("%s: a stalled body was answered %d", name, r.StatusCode)
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("%s: cut after %v, before timeouts.read", name, d)
		}
	}
	stalled("own page", fmt.Sprintf("127.0.0.1:%d", port), "/login", "")
	stalled("proxied upload", app, "/upload", strings.TrimSuffix(session, "; "))
}

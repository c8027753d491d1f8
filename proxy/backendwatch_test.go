package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const answerLimit = 200 * time.Millisecond

// watchedProxy is a proxy to backend whose transport gives a backend
// answerLimit to start answering.
func watchedProxy(t *testing.T, backend string) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(backend)
	p, err := New([]*Route{{App: "app", Host: "app.example", PathPrefix: "/", Targets: []*url.URL{target}}}, Options{
		Authorizer: &allowAll{},
		ErrorPage:  func(w http.ResponseWriter, r *http.Request, status int) { http.Error(w, "fedgate error page", status) },
		Transport:  newTransport(nil, newBackendWatch(answerLimit)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path string, body io.Reader) (int, string) {
	t.Helper()
	method := "GET"
	if body != nil {
		method = "POST"
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*answerLimit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
	req.Host = "app.example"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// TestBackendNoAnswer: a backend that takes a request and never answers
// fails it with 504 once answerLimit has passed, and its connection is
// let go.
func TestBackendNoAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	closed := make(chan struct{})
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c) // reads the request, answers nothing, until fedgate hangs up
		close(closed)
	}()
	srv := watchedProxy(t, "http://"+ln.Addr().String())
	begin := time.Now()
	code, body := get(t, srv, "/", nil)
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "fedgate error page") {
		t.Fatalf("a backend that never answers: %d %q", code, body)
	}
	if d := time.Since(begin); d < answerLimit || d > 10*answerLimit {
		t.Fatalf("504 after %v, want after %v and soon after", d, answerLimit)
	}
	select {
	case <-closed:
	case <-time.After(10 * answerLimit):
		t.Fatal("the backend's connection was kept")
	}
}

// TestBackendSlowAnswersPass: a backend that thinks for half the limit, a
// stream that pauses three times the limit once its answer has begun, an
// upload that takes four times the limit in steady parts, and many
// requests on one kept-alive connection spanning the limit all pass.
func TestBackendSlowAnswersPass(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/think":
			time.Sleep(answerLimit / 2)
			io.WriteString(w, "thought")
		case "/stream":
			for _, ev := range []string{"one\n", "two\n"} {
				io.WriteString(w, ev)
				w.(http.Flusher).Flush()
				time.Sleep(3 * answerLimit)
			}
		case "/upload":
			n, _ := io.Copy(io.Discard, r.Body)
			io.WriteString(w, strings.Repeat("u", int(n)))
		default:
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(be.Close)
	srv := watchedProxy(t, be.URL)
	if code, body := get(t, srv, "/think", nil); code != 200 || body != "thought" {
		t.Fatalf("a backend thinking: %d %q", code, body)
	}
	if code, body := get(t, srv, "/stream", nil); code != 200 || body != "one\ntwo\n" {
		t.Fatalf("a pausing stream: %d %q", code, body)
	}
	pr, pw := io.Pipe()
	go func() {
		for range 4 {
			io.WriteString(pw, "part")
			time.Sleep(answerLimit)
		}
		pw.Close()
	}()
	if code, body := get(t, srv, "/upload", pr); code != 200 || body != strings.Repeat("u", 16) {
		t.Fatalf("a slow upload: %d %q", code, body)
	}
	end := time.Now().Add(2 * answerLimit)
	for time.Now().Before(end) {
		if code, body := get(t, srv, "/", nil); code != 200 || body != "ok" {
			t.Fatalf("kept-alive requests: %d %q", code, body)
		}
		time.Sleep(answerLimit / 10)
	}
}

// TestQuietWebSocketPasses: once upgraded, a backend may stay silent after
// a client's message for longer than the limit (it is not awaiting an
// answer to a request).
func TestQuietWebSocketPasses(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, ok := switchToWebSocket(w)
		if !ok {
			return
		}
		defer c.Close()
		msg := make([]byte, 5)
		if _, err := io.ReadFull(rw, msg); err != nil {
			return
		}
		time.Sleep(3 * answerLimit)
		c.Write(msg)
	}))
	t.Cleanup(be.Close)
	srv := watchedProxy(t, be.URL)
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * answerLimit))
	fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: app.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	fmt.Fprint(c, "hello")
	got := make([]byte, 5)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "hello" {
		t.Fatalf("a quiet backend's echo: %q %v", got, err)
	}
}

// scriptedBackend answers each request on its connections by script:
// strings are written (flushed at once), durations slept.
func scriptedBackend(t *testing.T, script ...any) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				for _, step := range script {
					switch step := step.(type) {
					case string:
						if _, err := io.WriteString(c, step); err != nil {
							return
						}
					case time.Duration:
						time.Sleep(step)
					}
				}
				io.Copy(io.Discard, c) // until fedgate hangs up
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// TestBackendAnswerBoundaries: the end of an answer's header ends the
// wait, even split across reads; a header begun and never ended does not.
// An upload goes through the transport's own timer, which starts once the
// body is sent: a backend that reads it late passes.
func TestBackendAnswerBoundaries(t *testing.T) {
	split := watchedProxy(t, scriptedBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r", answerLimit/4, "\n", 3*answerLimit, "ok"))
	if code, body := get(t, split, "/", nil); code != 200 || body != "ok" {
		t.Fatalf("a header's end split across reads, then a pause: %d %q", code, body)
	}
	partial := watchedProxy(t, scriptedBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"))
	if code, _ := get(t, partial, "/", nil); code != http.StatusGatewayTimeout {
		t.Fatalf("a header begun and never ended: %d", code)
	}
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * answerLimit)
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	t.Cleanup(be.Close)
	late := watchedProxy(t, be.URL)
	if code, body := get(t, late, "/upload", strings.NewReader(strings.Repeat("x", 8<<20))); code != 200 || body != "8388608" {
		t.Fatalf("an upload the backend reads late: %d %q", code, body)
	}
}

// TestBackendWatchStops: the watch's goroutine runs while connections are
// open, and stops once they are closed.
func TestBackendWatchStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	bw := newBackendWatch(answerLimit)
	c, err := bw.dial((&net.Dialer{}).DialContext)(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	watching := func() bool {
		bw.mu.Lock()
		defer bw.mu.Unlock()
		return bw.watching
	}
	if !watching() {
		t.Fatal("no watch for an open connection")
	}
	c.Close()
	for end := time.Now().Add(10 * answerLimit); watching(); time.Sleep(answerLimit / 10) {
		if time.Now().After(end) {
			t.Fatal("the watch goes on with no connection left")
		}
	}
}

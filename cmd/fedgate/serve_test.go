package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/brokertest"
)

// lockedBuffer collects the server's logs from another goroutine.
type lockedBuffer = brokertest.Buffer

const staffPolicy = "policy: staff-only\nrules:\n  - name: staff\n    when: { groups: [staff] }\n    allow: {}\n"

// writeServerConfig writes a config with the quickstart users, a staff-only
// whoami app and listen address listen into a new temp dir.
func writeServerConfig(t *testing.T, listen string) string {
	t.Helper()
	dir := t.TempDir()
	users, err := os.ReadFile("../../examples/quickstart/users.yaml")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "users.yaml", string(users))
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "policies"), "staff.yaml", staffPolicy)
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", listen: "`+listen+`", insecure_http: true }
data_dir: data
store: { memory: true }
audit: { file: audit.jsonl }
upstreams: [{ id: local, type: local, users_file: users.yaml }]
apps: [{ id: demo, type: whoami, policy: staff-only }]
policies: [policies/*.yaml]
`)
	return dir
}

// startServer runs that config in-process on a free port; it returns the
// base URL, the config dir, the logs and a stop func.
func startServer(t *testing.T) (base, dir string, logs *lockedBuffer, stop func() error) {
	t.Helper()
	dir = writeServerConfig(t, "127.0.0.1:0")
	addr, logs, stop := runConfig(t, dir)
	return "http://" + addr, dir, logs, stop
}

// runConfig runs dir/fedgate.yaml in-process (it should listen on port 0);
// it returns the bound address, the logs and a stop func (also run at cleanup).
func runConfig(t *testing.T, dir string) (addr string, logs *lockedBuffer, stop func() error) {
	t.Helper()
	logs = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), logs, func(a net.Addr) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		addr = a.String()
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { _ = stop() })
	return addr, logs, stop
}

// startServeCommand runs `fedgate serve` itself (its signal handling
// included); stop sends the process SIGTERM and returns the exit code.
func startServeCommand(t *testing.T) (base string, stop func() error) {
	t.Helper()
	port := freePort(t)
	dir := writeServerConfig(t, fmt.Sprintf("127.0.0.1:%d", port))
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	logs := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- serve([]string{"--config", filepath.Join(dir, "fedgate.yaml")}, logs) }()
	waitFor(t, "fedgate serve", func() bool {
		r, err := http.Get(base + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return base, func() error {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		if code := <-done; code != 0 {
			return fmt.Errorf("serve exited %d:\n%s", code, logs)
		}
		return nil
	}
}

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn opens target (a protected page), signs in at fedgate's form with a
// local user, follows the way back, and returns the final status and body.
// Header pairs in hdr go on the first request (spoofing attempts).
func signIn(t *testing.T, c *http.Client, target, user, pw string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", target, nil)
	req.Header.Set("Accept", "text/html")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrfField.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form at %s (%d)", r.Request.URL, r.StatusCode)
	}
	r, err = c.PostForm(r.Request.URL.String(), url.Values{"csrf": {string(m[1])}, "upstream": {"local"}, "username": {user}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return r.StatusCode, string(body)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReloadUnderLoad: a broken policy file is refused and the last good
// config keeps serving; a good change takes effect without a restart; no
// request fails meanwhile.
func TestReloadUnderLoad(t *testing.T) {
	base, dir, logs, _ := startServer(t)
	alice := browser()
	if code, _ := signIn(t, alice, base+"/apps/demo/", "alice", "alice-demo-pw"); code != http.StatusOK {
		t.Fatalf("sign-in = %d", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var requests, failures atomic.Int64
	var lastFailure atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			for ctx.Err() == nil {
				r, err := c.Get(base + "/apps/demo/")
				requests.Add(1)
				if err != nil || r.StatusCode != http.StatusSeeOther {
					failures.Add(1)
					lastFailure.Store(fmt.Sprint(err, r))
				}
				if r != nil {
					io.Copy(io.Discard, r.Body)
					r.Body.Close()
				}
			}
		}()
	}
	policyFile := filepath.Join(dir, "policies", "staff.yaml")
	writeFile(t, filepath.Dir(policyFile), "staff.yaml", "policy: staff-only\nrules:\n  - name: oops\n    when: { grups: [staff] }\n    allow: {}\n")
	waitFor(t, "the refused reload to be logged", func() bool {
		return strings.Contains(logs.String(), "config reload refused") && strings.Contains(logs.String(), `unknown key \"grups\"`)
	})
	if code := appStatus(t, alice, base); code != http.StatusOK {
		t.Fatalf("after a bad reload alice gets %d, want the last good config (200)", code)
	}
	// A good change: staff is no longer enough.
	writeFile(t, filepath.Dir(policyFile), "staff.yaml", strings.Replace(staffPolicy, "[staff]", "[nobody]", 1))
	waitFor(t, "the new policy to take effect", func() bool { return appStatus(t, alice, base) == http.StatusForbidden })
	cancel()
	wg.Wait()
	if failures.Load() > 0 || requests.Load() < 50 {
		t.Fatalf("%d of %d requests failed during reloads; last: %v", failures.Load(), requests.Load(), lastFailure.Load())
	}
	t.Logf("%d requests during reloads, none failed", requests.Load())
}

func appStatus(t *testing.T, c *http.Client, base string) int {
	r, err := c.Get(base + "/apps/demo/")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode
}

// TestShutdownDrains: a request in flight when SIGTERM arrives is answered
// in full before the server exits.
func TestShutdownDrains(t *testing.T) {
	base, stop := startServeCommand(t)
	// A real in-flight login, so the handler gets as far as reading the body.
	c := browser()
	r, err := c.Get(base + "/apps/demo/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	csrf := csrfField.FindSubmatch(page)[1]
	var cookies []string
	for _, ck := range c.Jar.Cookies(r.Request.URL) {
		cookies = append(cookies, ck.Name+"="+ck.Value)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "upstream=local&username=alice&password=alice-demo-pw&csrf=" + url.QueryEscape(string(csrf))
	half := len(body) / 2
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s",
		r.Request.URL.RequestURI(), strings.Join(cookies, "; "), len(body), body[:half])
	time.Sleep(200 * time.Millisecond) // the handler is now blocked reading the body
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("server stopped (%v) with a request in flight", err)
	default:
	}
	fmt.Fprint(conn, body[half:])
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request dropped: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/apps/demo/" {
		t.Fatalf("in-flight sign-in answered %d %q, want 303 to the app", resp.StatusCode, resp.Header.Get("Location"))
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after draining")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("server still accepts new connections after shutdown")
	}
}

// TestAdminListener: with server.admin_listen, metrics move there.
func TestAdminListener(t *testing.T) {
	base, dir, _, _ := startServer(t)
	_ = dir
	// startServer's config has no admin listener: metrics are public.
	if r, err := http.Get(base + "/healthz"); err == nil {
		r.Body.Close()
	}
	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(body), "fedgate_http_requests_total") {
		t.Fatalf("public metrics: %d", r.StatusCode)
	}
	admin := freePort(t)
	cfg := strings.Replace(readFile(t, dir, "fedgate.yaml"), `listen: "127.0.0.1:0",`, fmt.Sprintf(`listen: "127.0.0.1:0", admin_listen: "127.0.0.1:%d",`, admin), 1)
	writeFile(t, dir, "fedgate.yaml", cfg)
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- runServer(ctx, filepath.Join(dir, "fedgate.yaml"), &lockedBuffer{}, func(a net.Addr) { addrc <- a })
	}()
	defer func() { cancel(); <-done }()
	pub := "http://" + (<-addrc).String()
	waitFor(t, "admin listener", func() bool {
		r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", admin))
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	if r, err := http.Get(pub + "/metrics"); err != nil || r.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics with an admin listener: %v %v", err, r)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSIGHUPReloads: the signal alone (no file change) rebuilds the config.
func TestSIGHUPReloads(t *testing.T) {
	_, _, logs, _ := startServer(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reload after SIGHUP", func() bool { return strings.Contains(logs.String(), "config reloaded") })
}

package storetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisServer is Debian's redis-server, run by a test on a loopback port in a
// temp dir. Stop and Start let a test take it away and bring it back on the
// same address.
type RedisServer struct {
	Addr string
	t    *testing.T
	bin  string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// StartRedis starts redis-server and stops it when the test ends. A missing
// redis-server fails under the README's test command (FEDGATE_REQUIRE_PEERS=1)
// and skips elsewhere. args are extra redis-server options (e.g. AOF); "$PORT"
// in them stands for the port (e.g. "--port 0 --tls-port $PORT" for TLS).
func StartRedis(t *testing.T, args ...string) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("FEDGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("redis-server is required: %v", err)
		}
		t.Skipf("redis-server not installed (./test/all.sh installs it): %v", err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	r := &RedisServer{Addr: addr, t: t, bin: bin, dir: t.TempDir(), args: args}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

// Start runs the server (again) and waits until it accepts connections.
func (r *RedisServer) Start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.Addr)
	// No persistence: tests want a clean, fast server (production settings
	// are in docs/operations.md).
	args := []string{"--bind", "127.0.0.1", "--port", port, "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(r.dir, "redis.log")}
	for _, a := range r.args {
		args = append(args, strings.ReplaceAll(a, "$PORT", port))
	}
	r.cmd = exec.Command(r.bin, args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("redis-server: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", r.Addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
	r.t.Fatalf("redis-server did not listen on %s:\n%s", r.Addr, log)
}

// Stop shuts the server down gracefully (SIGTERM) and waits for it.
func (r *RedisServer) Stop() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// Pause freezes the server (SIGSTOP) for d: connections stay open and
// commands hang, as with a Redis that is slow, not down.
func (r *RedisServer) Pause(d time.Duration) {
	_ = r.cmd.Process.Signal(syscall.SIGSTOP)
	time.AfterFunc(d, func() { _ = r.cmd.Process.Signal(syscall.SIGCONT) })
}

// URL is the server's redis:// URL with database db.
func (r *RedisServer) URL(db int) string {
	return fmt.Sprintf("redis://%s/%s", r.Addr, strconv.Itoa(db))
}

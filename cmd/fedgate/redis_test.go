package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store/storetest"
	"github.com/fedgate/fedgate/config"
)

// TestRedisStoreAsDocumented runs docs/config.md's store.redis snippet
// against redis-server with an ACL user whose password comes from the
// environment: ready with the right password, not ready with a wrong one.
func TestRedisStoreAsDocumented(t *testing.T) {
	rs := storetest.StartRedis(t, "--user", "fedgate", "on", ">redis-pw-0123456789", "~fedgate:*", "&fedgate:*", "+@all",
		"--user", "default", "off")
	for _, tc := range []struct {
		name, password string
		want           int
	}{{"right", "redis-pw-0123456789", 200}, {"wrong", "not-the-redis-pw", 503}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("REDIS_PASSWORD", tc.password)
			snippet := fileSnippet(t, "docs/config.md", "<!-- store.redis snippet", "redis.corp.example:6379", rs.Addr)
			got, logs := readyWithStore(t, snippet)
			if got != tc.want {
				t.Fatalf("readyz = %d, want %d", got, tc.want)
			}
			if strings.Contains(logs.String(), tc.password) {
				t.Fatalf("the Redis password reached the log:\n%s", logs)
			}
		})
	}
}

// TestRedisStoreTLS: a rediss:// address with ca_file reaches a TLS-only
// redis-server; without ca_file the self-signed certificate is refused
// (not ready), so TLS is really checked.
func TestRedisStoreTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t)
	writeFile(t, dir, "redis.crt", string(cert))
	writeFile(t, dir, "redis.key", string(key))
	rs := storetest.StartRedis(t, "--port", "0", "--tls-port", "$PORT", "--tls-cert-file", filepath.Join(dir, "redis.crt"),
		"--tls-key-file", filepath.Join(dir, "redis.key"), "--tls-ca-cert-file", filepath.Join(dir, "redis.crt"), "--tls-auth-clients", "no")
	for _, tc := range []struct {
		name, store string
		want        int
	}{
		{"trusted", `store: { redis: { addr: "rediss://` + rs.Addr + `/0", ca_file: ` + filepath.Join(dir, "redis.crt") + ` } }`, 200},
		{"untrusted", `store: { redis: { addr: "rediss://` + rs.Addr + `/0" } }`, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := readyWithStore(t, tc.store); got != tc.want {
				t.Fatalf("readyz = %d, want %d", got, tc.want)
			}
		})
	}
}

// readyWithStore runs the test server config with store (a store: block),
// and returns its /readyz status and its logs.
func readyWithStore(t *testing.T, store string) (int, *lockedBuffer) {
	t.Helper()
	dir := writeServerConfig(t, "127.0.0.1:0")
	cfg := readFile(t, dir, "fedgate.yaml")
	writeFile(t, dir, "fedgate.yaml", replaceAll(t, cfg, "store: { memory: true }\n", store+"\n"))
	addr, logs, stop := runConfig(t, dir)
	defer stop()
	r, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r.StatusCode, logs
}

// TestRedisStoreSentinel: addrs + master_name find the master through a
// real Redis Sentinel (redis-server --sentinel), and the store works there;
// a master name the Sentinel does not know is not ready.
func TestRedisStoreSentinel(t *testing.T) {
	master := storetest.StartRedis(t)
	_, mport, _ := net.SplitHostPort(master.Addr)
	dir := t.TempDir()
	sport := freePort(t)
	writeFile(t, dir, "sentinel.conf", fmt.Sprintf("bind 127.0.0.1\nport %d\ndir %s\nsentinel monitor fleet 127.0.0.1 %s 1\n", sport, dir, mport))
	cmd := exec.Command(requirePeer(t, "redis-server"), filepath.Join(dir, "sentinel.conf"), "--sentinel", "--logfile", filepath.Join(dir, "sentinel.log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	sentinel := fmt.Sprintf("127.0.0.1:%d", sport)
	waitFor(t, "sentinel", func() bool {
		c, err := net.Dial("tcp", sentinel)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	st, err := openStore(config.Store{Redis: &config.Redis{Addrs: []string{sentinel}, MasterName: "fleet", Prefix: "fedgate:", Timeout: time.Second}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	exp := time.Now().Add(time.Minute)
	if first, err := st.Claim(t.Context(), "code:s", exp); !first || err != nil {
		t.Fatalf("Claim through Sentinel = %v, %v", first, err)
	}
	if again, err := st.Claim(t.Context(), "code:s", exp); again || err != nil {
		t.Fatalf("second Claim through Sentinel = %v, %v; want false", again, err)
	}
	for name, want := range map[string]int{"fleet": 200, "unknown": 503} {
		store := `store: { redis: { addrs: ["` + sentinel + `"], master_name: ` + name + ` } }`
		if got, _ := readyWithStore(t, store); got != want {
			t.Errorf("master_name %s: readyz = %d, want %d", name, got, want)
		}
	}
}

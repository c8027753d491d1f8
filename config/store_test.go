package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStoreRedis: store.redis is checked as a whole (exactly one store,
// exactly one of addr and addrs, Sentinel needs addrs), its secret comes
// from the environment, and the defaults fill prefix and timeout.
func TestStoreRedis(t *testing.T) {
	t.Setenv("FLEET_REDIS_PW", "s3cret-from-env")
	staff, _ := os.ReadFile("testdata/staff.yaml")
	load := func(t *testing.T, store string) (*Config, error) {
		dir := t.TempDir()
		write(t, dir, "staff.yaml", string(staff))
		write(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
keys: { cookie: [cookie.key] }
data_dir: ./data
`+store+`
upstreams: [{ id: local, type: local }]
apps: [{ id: demo, type: whoami, policy: staff }]
policies: [staff.yaml]
`)
		return Load(filepath.Join(dir, "fedgate.yaml"))
	}
	for _, tc := range []struct {
		name, store, wantErr string
	}{
		{"one node", `store: { redis: { addr: "127.0.0.1:6379", password: "${FLEET_REDIS_PW}" } }`, ""},
		{"sentinel", `store: { redis: { addrs: ["a:26379", "b:26379"], master_name: mymaster } }`, ""},
		{"two stores", `store: { bolt: state.db, redis: { addr: "127.0.0.1:6379" } }`, "more than one store"},
		{"no address", `store: { redis: { prefix: "x:" } }`, "exactly one of addr and addrs"},
		{"both addresses", `store: { redis: { addr: "a:1", addrs: ["b:1"] } }`, "exactly one of addr and addrs"},
		{"sentinel without addrs", `store: { redis: { addr: "a:1", master_name: m } }`, "master_name needs addrs"},
		{"negative timeout", `store: { redis: { addr: "a:1", timeout: -1s } }`, "must not be negative"},
		{"unset env", `store: { redis: { addr: "a:1", password: "${FLEET_REDIS_NOPE}" } }`, "FLEET_REDIS_NOPE is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.store)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := c.Store.Redis
			if r.Prefix != "fedgate:" || r.Timeout != 500*time.Millisecond {
				t.Errorf("defaults: prefix %q timeout %v", r.Prefix, r.Timeout)
			}
			if c.Store.Bolt != "" {
				t.Errorf("a bolt file was defaulted beside redis: %q", c.Store.Bolt)
			}
		})
	}
	c, _ := load(t, `store: { redis: { addr: "127.0.0.1:6379", password: "${FLEET_REDIS_PW}" } }`)
	if c.Store.Redis.Password.Value() != "s3cret-from-env" {
		t.Error("password not taken from the environment")
	}
}

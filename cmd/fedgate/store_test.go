package main

import (
	"strings"
	"testing"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
)

// TestRedisOptions: what store.redis becomes for go-redis.
func TestRedisOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     config.Redis
		addrs   string
		tls     bool
		user    string
		db      int
		wantErr string
	}{
		{name: "host:port", cfg: config.Redis{Addr: "10.0.0.1:6379"}, addrs: "10.0.0.1:6379"},
		{name: "host:port with tls", cfg: config.Redis{Addr: "r:6380", TLS: true}, addrs: "r:6380", tls: true},
		{name: "redis URL", cfg: config.Redis{Addr: "redis://u:p@r:6379/2"}, addrs: "r:6379", user: "u", db: 2},
		{name: "rediss URL", cfg: config.Redis{Addr: "rediss://r:6380/0"}, addrs: "r:6380", tls: true},
		{name: "config user wins over URL", cfg: config.Redis{Addr: "redis://u:p@r:6379", Username: "fedgate"}, addrs: "r:6379", user: "fedgate"},
		{name: "sentinels", cfg: config.Redis{Addrs: []string{"a:26379", "b:26379"}, MasterName: "m"}, addrs: "a:26379,b:26379"},
		{name: "unix URL", cfg: config.Redis{Addr: "unix:///run/redis.sock"}, wantErr: "only redis:// and rediss://"},
		{name: "bad URL", cfg: config.Redis{Addr: "http://r:1"}, wantErr: "store.redis.addr"},
		{name: "missing CA", cfg: config.Redis{Addr: "r:1", CAFile: "/nonexistent/ca.pem"}, wantErr: "store.redis.ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := redisOptions(&tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(o.Addrs, ","); got != tc.addrs || (o.TLSConfig != nil) != tc.tls || o.Username != tc.user || o.DB != tc.db {
				t.Fatalf("addrs %q tls %v user %q db %d", got, o.TLSConfig != nil, o.Username, o.DB)
			}
		})
	}
	o, _ := redisOptions(&config.Redis{Addr: "r:1", Password: protocols.NewSecret("pw")})
	if o.Password != "pw" {
		t.Error("password not passed on")
	}
	// Every pool's buffers are small (go-redis's defaults, 32 KiB and
	// 128 KiB for pipelines, are kept per idle connection).
	for name, n := range map[string]int{"read": o.ReadBufferSize, "write": o.WriteBufferSize,
		"pipeline read": o.PipelineReadBufferSize, "pipeline write": o.PipelineWriteBufferSize} {
		if n <= 0 || n > 4<<10 {
			t.Errorf("%s buffer %d bytes, want 1..4096", name, n)
		}
	}
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
)

func openStore(c config.Store, logger *slog.Logger) (store.Store, error) {
	switch {
	case c.Memory:
		return store.NewMemory(nil), nil
	case c.Redis != nil:
		opts, err := redisOptions(c.Redis)
		if err != nil {
			return nil, err
		}
		redis.SetLogger(redisLog{logger})
		return store.NewRedis(redis.NewUniversalClient(opts), c.Redis.Prefix, nil), nil
	}
	return store.OpenBolt(c.Bolt, nil)
}

// redisLog sends go-redis's own messages (reconnects, pool errors) to the
// operational log as warnings, not to stderr in another format.
type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}

// redisOptions turns store.redis into go-redis options. One address is a
// single node (host:port, or a redis:// or rediss:// URL); several are Cluster
// nodes, or Sentinels with master_name (NewUniversalClient picks).
func redisOptions(c *config.Redis) (*redis.UniversalOptions, error) {
	o := &redis.UniversalOptions{
		Addrs: c.Addrs, MasterName: c.MasterName, Username: c.Username, Password: c.Password.Value(), DB: c.DB,
		DialTimeout: c.Timeout, ReadTimeout: c.Timeout, WriteTimeout: c.Timeout,
		// fedgate's values are markers, counters and MFA records of a few
		// hundred bytes: go-redis's 32 KiB buffers per pooled connection
		// (up to 10 per core, kept while idle) were most of the memory a
		// burst of sign-ins left behind. Larger replies are still read whole.
		ReadBufferSize: 4 << 10, WriteBufferSize: 4 << 10,
		// The same for its separate pipeline pool (a Put or Delete and its
		// change message): 128 KiB each way by default, 1.1 MB held after
		// 10,000 sign-ins (issue 14's flat RSS).
		PipelineReadBufferSize: 4 << 10, PipelineWriteBufferSize: 4 << 10,
	}
	if c.Addr != "" && strings.Contains(c.Addr, "://") {
		u, err := redis.ParseURL(c.Addr)
		if err != nil {
			return nil, fmt.Errorf("store.redis.addr: %w", err)
		}
		if u.Network != "tcp" {
			return nil, fmt.Errorf("store.redis.addr: only redis:// and rediss:// URLs are supported")
		}
		o.Addrs, o.TLSConfig = []string{u.Addr}, u.TLSConfig
		if o.Username == "" {
			o.Username = u.Username
		}
		if o.Password == "" {
			o.Password = u.Password
		}
		if o.DB == 0 {
			o.DB = u.DB
		}
	} else if c.Addr != "" {
		o.Addrs = []string{c.Addr}
	}
	if c.TLS && o.TLSConfig == nil {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("store.redis.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("store.redis.ca_file %s: no PEM certificate", c.CAFile)
		}
		if o.TLSConfig == nil {
			o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		o.TLSConfig.RootCAs = pool
	}
	return o, nil
}

// Package certs gives the HTTPS listener its certificate: from files, reloaded
// when they change, or from an ACME CA through certmagic, stored in the state
// store so a fleet shares certificates and locks.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/fedgate/fedgate/config"
)

// Files serves the certificate in a PEM cert/key pair and reloads it when
// either file changes. A new pair that does not parse, does not match, or has
// already expired while the current one has not, is refused: the current
// certificate keeps serving and the reason is logged.
type Files struct {
	cert, key string
	logger    *slog.Logger
	// loaded reports each certificate taken into use (for the expiry metric).
	loaded func(notAfter time.Time)
	now    func() time.Time
	cur    atomic.Pointer[tls.Certificate]
}

// LoadFiles reads the pair once; an error here stops the start. An expired
// certificate is served (and logged as an error): refusing to start would
// turn an expired certificate into an outage of every replica at once, and
// clients that check dates refuse it anyway — see docs/tls.md.
func LoadFiles(cert, key string, logger *slog.Logger, loaded func(notAfter time.Time)) (*Files, error) {
	f := &Files{cert: cert, key: key, logger: logger, loaded: loaded, now: time.Now}
	c, err := f.read()
	if err != nil {
		return nil, err
	}
	f.use(c)
	return f, nil
}

func (f *Files) read() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return nil, fmt.Errorf("certificate %s / key %s: %w", f.cert, f.key, err)
	}
	if c.Leaf == nil { // Go 1.23+ fills Leaf; parse if a GODEBUG turned it off
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", f.cert, err)
		}
	}
	return &c, nil
}

func (f *Files) use(c *tls.Certificate) {
	f.cur.Store(c)
	f.loaded(c.Leaf.NotAfter)
	if na := c.Leaf.NotAfter; f.now().After(na) {
		f.logger.Error("TLS certificate has expired: clients will refuse it; replace the file (it is reloaded without a restart)",
			"cert_file", f.cert, "not_after", na, "subject", c.Leaf.Subject.String())
	}
}

// Reload reads the files again; on any problem the current certificate stays.
func (f *Files) Reload() error {
	c, err := f.read()
	if err != nil {
		return err
	}
	if now := f.now(); now.After(c.Leaf.NotAfter) && now.Before(f.cur.Load().Leaf.NotAfter) {
		return fmt.Errorf("certificate %s expired at %s; the current one is still valid", f.cert, c.Leaf.NotAfter.Format(time.RFC3339))
	}
	f.use(c)
	return nil
}

// GetCertificate is tls.Config's hook: every handshake sees the latest pair.
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cur.Load(), nil
}

// Watch reloads when the files change, until ctx ends. It watches the
// directories (config.Watcher), since cert tools replace files.
func (f *Files) Watch(ctx context.Context, debounce time.Duration) error {
	w, err := config.NewWatcher([]string{f.cert, f.key})
	if err != nil {
		return err
	}
	go w.Run(ctx, debounce)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.C:
			}
			if err := f.Reload(); err != nil {
				f.logger.Error("TLS certificate reload refused; still serving the previous certificate", "err", err)
				continue
			}
			f.logger.Info("TLS certificate reloaded", "cert_file", f.cert, "not_after", f.cur.Load().Leaf.NotAfter)
		}
	}()
	return nil
}

package main

import (
	"path/filepath"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/kerberos"
)

// buildKerberos decodes a `type: kerberos` upstream and reads its keytab;
// the keytab is returned as a watched file, so a rotated one is read again.
func buildKerberos(b config.Block, d buildDeps) (protocols.Upstream, []string, error) {
	var cfg kerberos.Config
	if err := decodeUpstream(b, &cfg); err != nil {
		return nil, nil, err
	}
	if cfg.Keytab != "" && !filepath.IsAbs(cfg.Keytab) {
		cfg.Keytab = filepath.Join(b.Dir, cfg.Keytab)
	}
	u, err := kerberos.Open(cfg, kerberos.Deps{Logger: d.Logger.With("upstream", b.ID), Network: d.Policies.Network})
	if err != nil {
		return nil, nil, b.Pos("upstream %q: %v", b.ID, err)
	}
	return u, []string{cfg.Keytab}, nil
}

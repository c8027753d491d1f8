package main

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/oidc"
)

// buildOIDCProvider builds fedgate's OpenID Provider for every `type: oidc`
// app: each app's oidc: block is one client. Problems are positioned at
// the app's block.
func buildOIDCProvider(apps []config.App, snap *broker.Snapshot, d buildDeps) (protocols.Downstream, error) {
	cfg := oidc.ProviderConfig{Issuer: snap.Config.Server.PublicURL}
	blocks := map[string]*config.Block{}
	var errs []error
	for _, a := range apps {
		blocks[a.ID] = a.OIDC
		var cc oidc.ClientConfig
		if err := a.OIDC.Decode(&cc); err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.Clients = append(cfg.Clients, oidc.ProviderClient{App: a.ID, ClientConfig: cc})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	keys := snap.SigningKeys()
	if len(keys) == 0 && len(snap.Config.Keys.Signing) == 0 && snap.Config.DataDir != "" {
		// check before the first serve: serve will generate the default
		// (RSA) signing key in data_dir; check never writes, so validate
		// against a throwaway one.
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		keys = []protocols.SigningKey{{Signer: k, KeyID: "check-only", Alg: "RS256"}}
	}
	p, err := oidc.OpenProvider(cfg, oidc.ProviderDeps{Keys: keys, Logger: d.Logger.With("downstream", "oidc")})
	if err != nil {
		for _, e := range flatten(err) {
			var ce *oidc.ClientError
			if !errors.As(e, &ce) || blocks[ce.App] == nil {
				errs = append(errs, e)
				continue
			}
			for _, ee := range flatten(ce.Err) {
				errs = append(errs, blocks[ce.App].Pos("app %q: %v", ce.App, ee))
			}
		}
		return nil, errors.Join(errs...)
	}
	return p, nil
}

package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/saml"
)

// buildSAMLUpstream decodes a `type: saml` upstream, reads the IdP's
// metadata file and our SP keys; both are watched for reload.
func buildSAMLUpstream(b config.Block, d buildDeps) (protocols.Upstream, []string, error) {
	var cfg saml.UpstreamConfig
	if err := decodeUpstream(b, &cfg); err != nil {
		return nil, nil, err
	}
	var files []string
	if cfg.MetadataURL != "" {
		src, err := saml.NewMetadataSource("IdP", "upstream", b.ID, cfg.MetadataURL, cfg.MetadataRefresh,
			d.Config.DataDir, d.Config.Server.InsecureHTTP, cfg.CheckMetadata)
		if err == nil {
			cfg.Metadata, err = src.Load(context.Background(), saml.MetadataClient(nil), d.Write)
		}
		if err != nil {
			return nil, nil, upstreamProblems(b, err)
		}
		files = append(files, src.Cache)
		if d.SPMeta != nil {
			*d.SPMeta = append(*d.SPMeta, src)
		}
	} else {
		path, data, err := readMetadataFile(b, cfg.MetadataFile)
		if err != nil {
			return nil, nil, err
		}
		files, cfg.Metadata = append(files, path), data
	}
	for _, kf := range cfg.Keys {
		k, err := keys.LoadSigningKey(blockPath(b, kf.File))
		if err != nil {
			return nil, nil, b.Pos("upstream %q: keys: %v", b.ID, err)
		}
		cfg.SPKeys = append(cfg.SPKeys, protocols.SigningKey{Signer: k.Signer, Cert: k.Cert, KeyID: k.KeyID, Alg: k.JWSAlg, Next: kf.Status == "next"})
		files = append(files, blockPath(b, kf.File))
	}
	u, err := saml.OpenUpstream(cfg, saml.UpstreamDeps{PublicURL: d.PublicURL, Logger: d.Logger.With("upstream", b.ID)})
	if err != nil {
		return nil, nil, b.Pos("upstream %q: %v", b.ID, err)
	}
	return u, files, nil
}

// blockPath resolves p against the folder of the file block b is in.
func blockPath(b config.Block, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(b.Dir, p)
}

// readMetadataFile reads an upstream's metadata_file, for the watcher too.
func readMetadataFile(b config.Block, file string) (string, []byte, error) {
	path := blockPath(b, file)
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, b.Pos("upstream %q: metadata_file: %v", b.ID, err)
	}
	return path, data, nil
}

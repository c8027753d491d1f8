package main

import (
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/wsfed"
)

// buildWSFedUpstream decodes a `type: wsfed` upstream and reads the STS's
// federation metadata (watched for reload).
func buildWSFedUpstream(b config.Block, d buildDeps) (protocols.Upstream, []string, error) {
	var cfg wsfed.UpstreamConfig
	if err := decodeUpstream(b, &cfg); err != nil {
		return nil, nil, err
	}
	path, data, err := readMetadataFile(b, cfg.MetadataFile)
	if err != nil {
		return nil, nil, err
	}
	cfg.Metadata = data
	u, err := wsfed.OpenUpstream(cfg, wsfed.UpstreamDeps{PublicURL: d.PublicURL, Logger: d.Logger.With("upstream", b.ID)})
	if err != nil {
		return nil, nil, b.Pos("upstream %q: %v", b.ID, err)
	}
	return u, []string{path}, nil
}

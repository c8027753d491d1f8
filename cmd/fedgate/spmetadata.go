package main

import (
	"errors"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols/saml"
)

// newSPMetaSource wires an app's metadata_url (the fetching, caching and
// refreshing are protocols/saml's MetadataSource).
func newSPMetaSource(cfg *config.Config, app string, sc saml.SPConfig) (saml.MetadataSource, error) {
	check := func(data []byte) error { return sc.CheckMetadata(app, data) }
	src, err := saml.NewMetadataSource("SP", "app", app, sc.MetadataURL, sc.MetadataRefresh, cfg.DataDir, cfg.Server.InsecureHTTP, check)
	if sc.MetadataFile != "" {
		err = errors.Join(errors.New("metadata_file and metadata_url: use one of them"), err)
	}
	return src, err
}

package main

import (
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/local"
	"github.com/fedgate/fedgate/protocols/saml"
)

// buildDeps are what upstream builders get besides their block.
type buildDeps struct {
	Logger  *slog.Logger
	Timeout time.Duration // server.timeouts.upstream: every call to an IdP
	// PublicURL is server.public_url (SAML upstreams' ACS and metadata URLs).
	PublicURL string
	// Write allows writing under data_dir (serve; check never writes).
	Write bool
	// SPMeta collects the metadata_url sources (SAML apps' SP metadata,
	// SAML upstreams' IdP metadata) for the refresher.
	SPMeta *[]saml.MetadataSource
	// Config is the config being built (data_dir, server.insecure_http).
	Config *config.Config
	// Policies name the networks upstreams may be limited to.
	Policies *policy.Set
}

// upstreamTypes builds an upstream from its config block, one entry per type.
var upstreamTypes = map[string]func(b config.Block, d buildDeps) (protocols.Upstream, []string, error){
	"local":    buildLocal,
	"oidc":     buildOIDC,
	"kerberos": buildKerberos,
	"saml":     buildSAMLUpstream,
	"wsfed":    buildWSFedUpstream,
}

// buildLocal decodes a local upstream and its users file; it also returns the
// files it read, for the reload watcher.
func buildLocal(b config.Block, _ buildDeps) (protocols.Upstream, []string, error) {
	var cfg local.Config
	if err := b.Decode(&cfg); err != nil {
		return nil, nil, err
	}
	var files []string
	if cfg.UsersFile != "" {
		path := cfg.UsersFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.Dir, path)
		}
		var uf local.UsersFile
		if err := config.DecodeFile(path, &uf); err != nil {
			return nil, nil, err
		}
		cfg.Users = append(cfg.Users, uf.Users...)
		files = append(files, path)
	}
	u, err := local.Open(cfg, nil)
	if err != nil {
		return nil, nil, upstreamProblems(b, err)
	}
	return u, files, nil
}

// decodeUpstream decodes upstream block b strictly into cfg and validates
// it, every problem positioned at the block.
func decodeUpstream(b config.Block, cfg interface{ Validate() error }) error {
	if err := b.Decode(cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return upstreamProblems(b, err)
	}
	return nil
}

// upstreamProblems positions each problem in err at upstream block b.
func upstreamProblems(b config.Block, err error) error {
	var errs []error
	for _, e := range flatten(err) {
		errs = append(errs, b.Pos("upstream %q: %v", b.ID, e))
	}
	return errors.Join(errs...)
}

// downstreamTypes builds the protocol serving all apps of one type (an
// OpenID Provider for every oidc app, ...). Each app's own block is
// app.Protocol(); problems are positioned with its Pos.
var downstreamTypes = map[string]func(apps []config.App, snap *broker.Snapshot, d buildDeps) (protocols.Downstream, error){
	"oidc":  buildOIDCProvider,
	"saml":  buildSAMLIdP,
	"wsfed": buildWSFedSTS,
}

// buildDownstreams adds a downstream per protocol type in use and returns
// them (check asks them for warnings).
func buildDownstreams(cfg *config.Config, snap *broker.Snapshot, d buildDeps) ([]protocols.Downstream, error) {
	byType := map[string][]config.App{}
	var order []string
	var errs []error
	for _, a := range cfg.Apps {
		b := a.Protocol()
		if b == nil {
			continue
		}
		if _, ok := downstreamTypes[a.Type]; !ok {
			errs = append(errs, b.Pos("app %q: type %s is not implemented yet", a.ID, a.Type))
			continue
		}
		if byType[a.Type] == nil {
			order = append(order, a.Type)
		}
		byType[a.Type] = append(byType[a.Type], a)
	}
	var built []protocols.Downstream
	if cfg.Compat == "adfs" && byType["wsfed"] == nil {
		// ADFS always serves FederationMetadata.xml; so does its stand-in.
		order = append(order, "wsfed")
	}
	for _, t := range order {
		ds, err := downstreamTypes[t](byType[t], snap, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		snap.AddDownstream(ds)
		built = append(built, ds)
	}
	return built, errors.Join(errs...)
}

// cookieKeyPaths are the configured cookie keys, or data_dir's default.
func cookieKeyPaths(cfg *config.Config) []string {
	if len(cfg.Keys.Cookie) == 0 {
		return []string{filepath.Join(cfg.DataDir, "cookie.key")}
	}
	return cfg.Keys.Cookie
}

// loaded is a config and everything built from it.
type loaded struct {
	cfg         *config.Config
	snap        *broker.Snapshot
	spMeta      []saml.MetadataSource  // SAML apps' metadata_url, for the refresher
	upstreams   []protocols.Upstream   // as built, in config order (check describes some)
	downstreams []protocols.Downstream // as built (check asks them for warnings)
}

// load reads and builds everything; with generate, missing default keys are
// created in data_dir (serve does that; check never writes).
func load(path string, generate bool, logger *slog.Logger) (*loaded, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		logger.Warn("config: "+w.Error(), "file", path)
	}
	var errs []error
	var spMeta []saml.MetadataSource
	built := make([]protocols.Upstream, len(cfg.Upstreams))
	for i, b := range cfg.Upstreams {
		mk, ok := upstreamTypes[b.Type]
		if !ok {
			errs = append(errs, b.Pos("upstream %q has unknown type %q (known: local, oidc, kerberos, saml, wsfed)", b.ID, b.Type))
			continue
		}
		u, files, err := mk(b, buildDeps{Logger: logger, Timeout: cfg.Server.Timeouts.Upstream, Policies: cfg.PolicySet,
			PublicURL: cfg.Server.PublicURL, Config: cfg, Write: generate, SPMeta: &spMeta})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built[i] = u
		cfg.Files = append(cfg.Files, files...)
	}
	cookiePaths := cookieKeyPaths(cfg)
	if len(cfg.Keys.Cookie) == 0 {
		if generate {
			if _, _, created, err := keys.EnsureDefault(cfg.DataDir); err != nil {
				errs = append(errs, err)
			} else if created {
				logger.Warn("generated new keys for first run; back them up, or configure keys: for production",
					"data_dir", cfg.DataDir)
			}
		}
	}
	if err := resolveBuiltins(cfg, generate); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ck, err := keys.LoadCookieKeys(cookiePaths)
	if err != nil && !generate && len(cfg.Keys.Cookie) == 0 {
		// check before the first serve: the keys do not exist yet, and check
		// never writes; validate the rest with a throwaway key.
		var k keys.CookieKey
		k, err = keys.GenerateCookieKey()
		ck = []keys.CookieKey{k}
	}
	if err != nil {
		return nil, err
	}
	snap, err := broker.NewSnapshot(cfg, ck, built)
	if err != nil {
		return nil, err
	}
	d := buildDeps{Logger: logger, Timeout: cfg.Server.Timeouts.Upstream, Write: generate, SPMeta: &spMeta}
	downstreams, err := buildDownstreams(cfg, snap, d)
	if err != nil {
		return nil, err
	}
	keyFiles := slices.Clone(cookiePaths)
	for _, k := range cfg.Keys.Signing {
		keyFiles = append(keyFiles, k.File)
	}
	cfg.Digest = digestFiles(append(slices.Clone(cfg.Files), keyFiles...))
	return &loaded{cfg: cfg, snap: snap, spMeta: spMeta, upstreams: built, downstreams: downstreams}, nil
}

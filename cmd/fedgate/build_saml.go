package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fedgate/fedgate/broker"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/saml"
	"github.com/fedgate/fedgate/protocols/wsfed"
)

// maxPeerFile bounds an SP metadata or certificate file.
const maxPeerFile = 1 << 20

// buildSAMLIdP builds fedgate's SAML IdP for every `type: saml` app: each
// app's saml: block is one SP. Files it names (SP metadata, certificates)
// are read here and watched for reload; metadata_url is read from its
// cached copy (see spmetadata.go).
func buildSAMLIdP(apps []config.App, snap *broker.Snapshot, d buildDeps) (protocols.Downstream, error) {
	cfg := saml.Config{PublicURL: snap.Config.Server.PublicURL, Issuer: snap.Config.Server.Issuer}
	if snap.Config.Compat == "adfs" {
		cfg.SSOPath = broker.ADFSPassivePath
	}
	blocks := map[string]*config.Block{}
	var errs []error
	for _, a := range apps {
		b := a.SAML
		blocks[a.ID] = b
		var sc saml.SPConfig
		if err := b.Decode(&sc); err != nil {
			errs = append(errs, err)
			continue
		}
		var err error
		if sc.MetadataFile != "" {
			if sc.Metadata, err = readPeerFile(snap.Config, b, sc.MetadataFile); err != nil {
				errs = append(errs, b.Pos("app %q: metadata_file: %v", a.ID, err))
				continue
			}
		}
		if sc.Certs, err = readCerts(snap.Config, b, sc.CertificateFiles); err != nil {
			errs = append(errs, b.Pos("app %q: certificate_files: %v", a.ID, err))
			continue
		}
		if sc.MetadataURL != "" {
			src, err := newSPMetaSource(snap.Config, a.ID, sc)
			if err == nil {
				sc.Metadata, err = src.Load(context.Background(), saml.MetadataClient(nil), d.Write)
			}
			if err != nil {
				for _, e := range flatten(err) {
					errs = append(errs, b.Pos("app %q: %v", a.ID, e))
				}
				continue
			}
			snap.Config.Files = append(snap.Config.Files, src.Cache)
			if d.SPMeta != nil {
				*d.SPMeta = append(*d.SPMeta, src)
			}
		}
		if sc.EncryptionCertificateFile != "" {
			enc, err := readCerts(snap.Config, b, []string{sc.EncryptionCertificateFile})
			if err != nil {
				errs = append(errs, b.Pos("app %q: encryption_certificate_file: %v", a.ID, err))
				continue
			}
			sc.EncryptionCert = enc[0] // the leaf, when the file holds a chain
		}
		cfg.SPs = append(cfg.SPs, saml.SPEntry{App: a.ID, SPConfig: sc})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ks, err := signingKeysOrThrowaway(snap)
	if err != nil {
		return nil, err
	}
	p, err := saml.Open(cfg, saml.Deps{Keys: ks, Logger: d.Logger.With("downstream", "saml")})
	if err != nil {
		return nil, positioned(err, blocks, func(e error) (string, error, bool) {
			var se *saml.SPError
			if errors.As(e, &se) {
				return se.App, se.Err, true
			}
			return "", nil, false
		})
	}
	return p, nil
}

// buildWSFedSTS builds fedgate's WS-Federation STS for every `type: wsfed`
// app: each app's wsfed: block is one relying party.
func buildWSFedSTS(apps []config.App, snap *broker.Snapshot, d buildDeps) (protocols.Downstream, error) {
	cfg := wsfed.Config{PublicURL: snap.Config.Server.PublicURL, Issuer: snap.Config.Server.Issuer}
	if snap.Config.Compat == "adfs" {
		cfg.PassivePath = broker.ADFSPassivePath
		if slices.ContainsFunc(snap.Config.Apps, func(a config.App) bool { return a.Type == "saml" }) {
			cfg.SAMLPath = broker.ADFSPassivePath
		}
	}
	blocks := map[string]*config.Block{}
	var errs []error
	for _, a := range apps {
		blocks[a.ID] = a.WSFed
		var rc wsfed.RPConfig
		if err := a.WSFed.Decode(&rc); err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.RPs = append(cfg.RPs, wsfed.RPEntry{App: a.ID, RPConfig: rc})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ks, err := signingKeysOrThrowaway(snap)
	if err != nil {
		return nil, err
	}
	s, err := wsfed.Open(cfg, wsfed.Deps{Keys: ks, Logger: d.Logger.With("downstream", "wsfed")})
	if err != nil {
		return nil, positioned(err, blocks, func(e error) (string, error, bool) {
			var re *wsfed.RPError
			if errors.As(e, &re) {
				return re.App, re.Err, true
			}
			return "", nil, false
		})
	}
	return s, nil
}

// signingKeysOrThrowaway: the snapshot's signing keys; for check before
// the first serve (which generates the default key in data_dir; check
// never writes), a throwaway key to validate against.
func signingKeysOrThrowaway(snap *broker.Snapshot) ([]protocols.SigningKey, error) {
	ks := snap.SigningKeys()
	if len(ks) > 0 || len(snap.Config.Keys.Signing) > 0 || snap.Config.DataDir == "" {
		return ks, nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return []protocols.SigningKey{{Signer: k, Cert: cert, KeyID: "check-only", Alg: "RS256"}}, nil
}

// readPeerFile reads a file a protocol block names (relative to the config
// file) and adds it to the files the reload watcher tracks.
func readPeerFile(cfg *config.Config, b *config.Block, name string) ([]byte, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(b.Dir, path)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxPeerFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPeerFile)
	}
	cfg.Files = append(cfg.Files, path)
	return os.ReadFile(path)
}

// readCerts reads the PEM certificates of every file named; a file with
// none is an error.
func readCerts(cfg *config.Config, b *config.Block, names []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, name := range names {
		data, err := readPeerFile(cfg, b, name)
		if err != nil {
			return nil, err
		}
		n := 0
		for {
			var blk *pem.Block
			blk, data = pem.Decode(data)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			out = append(out, c)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s has no PEM certificate", name)
		}
	}
	return out, nil
}

// positioned places a protocol's per-app errors at the app's block.
func positioned(err error, blocks map[string]*config.Block, app func(error) (string, error, bool)) error {
	var errs []error
	for _, e := range flatten(err) {
		id, inner, ok := app(e)
		if !ok || blocks[id] == nil {
			errs = append(errs, e)
			continue
		}
		for _, ee := range flatten(inner) {
			errs = append(errs, blocks[id].Pos("app %q: %v", id, ee))
		}
	}
	return errors.Join(errs...)
}

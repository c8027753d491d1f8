package main

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/fedgate/fedgate/config/adfs"
	"github.com/fedgate/fedgate/protocols/local"
)

// exportFiles are the names `fedgate import adfs --from DIR` reads, as
// docs/migrate-from-adfs.md tells the admin to write them.
var exportFiles = []struct {
	name string
	dst  func(*adfs.Export) *[]byte
}{
	{"RelyingPartyTrusts.json", func(e *adfs.Export) *[]byte { return &e.RelyingPartyTrusts }},
	{"ApplicationGroups.json", func(e *adfs.Export) *[]byte { return &e.ApplicationGroups }},
	{"ServerApplications.json", func(e *adfs.Export) *[]byte { return &e.ServerApplications }},
	{"NativeClientApplications.json", func(e *adfs.Export) *[]byte { return &e.NativeClientApplications }},
	{"WebApiApplications.json", func(e *adfs.Export) *[]byte { return &e.WebApiApplications }},
	{"AccessControlPolicies.json", func(e *adfs.Export) *[]byte { return &e.AccessControlPolicies }},
	{"FederationMetadata.xml", func(e *adfs.Export) *[]byte { return &e.FederationMetadata }},
}

// importADFS writes a fedgate config directory from an ADFS export.
func importADFS(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import adfs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "directory with the exported files (RelyingPartyTrusts.json, …, FederationMetadata.xml)")
	out := fs.String("out", "", "directory to write the config to (must not exist, or be empty)")
	pfx := fs.String("token-signing-pfx", "", "the farm's exported token-signing certificate and key (PKCS#12)")
	pwFile := fs.String("pfx-password-file", "", "file holding the PFX password")
	pwEnv := fs.String("pfx-password-env", "", "environment variable holding the PFX password")
	publicURL := fs.String("public-url", "", "fedgate's public URL (default https://<federation service name>)")
	intranet := fs.String("intranet", "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16", "CIDRs of the intranet (ADFS: requests not through the Web Application Proxy)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of Markdown")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *from == "" || *out == "" {
		fmt.Fprintln(stderr, "fedgate import adfs: --from DIR and --out DIR are required")
		return 2
	}
	if err := importRun(*from, *out, *pfx, *pwFile, *pwEnv, *publicURL, *intranet, *asJSON, stdout); err != nil {
		fmt.Fprintf(stderr, "fedgate import adfs: %v\n", err)
		return 1
	}
	return 0
}

func importRun(from, out, pfx, pwFile, pwEnv, publicURL, intranet string, asJSON bool, stdout io.Writer) error {
	for _, c := range strings.Split(intranet, ",") {
		if _, err := netip.ParsePrefix(strings.TrimSpace(c)); err != nil && strings.TrimSpace(c) != "" {
			return fmt.Errorf("--intranet: %q is not a CIDR", c)
		}
	}
	if entries, err := os.ReadDir(out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: give a new directory", out)
	}
	var e adfs.Export
	for _, f := range exportFiles {
		data, err := readExport(filepath.Join(from, f.name))
		if err != nil {
			return err
		}
		*f.dst(&e) = data
	}
	secrets := map[string]string{}
	var hashErr error
	opt := adfs.Options{KeepIdentity: pfx != "", SecretHash: func(app string) string {
		secret := newSecret()
		h, err := local.HashPassword(secret)
		hashErr = errors.Join(hashErr, err)
		secrets[app] = secret
		return h
	}}
	res := adfs.Import(e, opt)
	if hashErr != nil {
		return hashErr
	}
	if len(res.Errors) > 0 {
		// Half an export would make a config that silently lacks apps.
		return fmt.Errorf("the export could not be read, nothing was written:\n  %s", strings.Join(res.Errors, "\n  "))
	}
	files := res.Files
	files["report.md"], files["report.json"] = res.Markdown(), res.JSON()
	for app, s := range secrets {
		files["secrets/"+app+".txt"] = []byte(s + "\n")
	}
	var signing string
	if pfx != "" {
		if res.Farm == nil {
			return errors.New("--token-signing-pfx needs FederationMetadata.xml (the farm's identifier and certificate)")
		}
		key, err := pfxSigningKey(pfx, pwFile, pwEnv, res.Farm)
		if err != nil {
			return err
		}
		signing = "keys/adfs-token-signing.pem"
		files[signing] = key
	}
	base, err := baseConfig(res, publicURL, signing)
	if err != nil {
		return err
	}
	files["fedgate.yaml"] = base
	files["policies/networks.yaml"] = networksFile(intranet)
	files["users.yaml"] = []byte("# Break-glass accounts (fedgate hash-password makes password_hash).\nusers: []\n")
	if err := writeTree(out, files); err != nil {
		return err
	}
	if asJSON {
		_, err = stdout.Write(res.JSON())
	} else {
		_, err = stdout.Write(res.Markdown())
	}
	return err
}

func readExport(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // every export is optional
	}
	if err != nil {
		return nil, err
	}
	if st.Size() > 64<<20 {
		return nil, fmt.Errorf("%s: larger than 64 MiB", path)
	}
	return os.ReadFile(path)
}

// pfxSigningKey reads the PKCS#12 token-signing certificate, checks that
// it is one the farm's metadata publishes, and returns it in the PEM form
// keys.signing reads (PKCS#8 key, then certificate).
func pfxSigningKey(path, pwFile, pwEnv string, farm *adfs.Farm) ([]byte, error) {
	var pw string
	switch {
	case pwFile != "" && pwEnv != "":
		return nil, errors.New("give --pfx-password-file or --pfx-password-env, not both")
	case pwFile != "":
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return nil, err
		}
		pw = strings.TrimRight(string(b), "\r\n")
	case pwEnv != "":
		v, ok := os.LookupEnv(pwEnv)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", pwEnv)
		}
		pw = v
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, cert, _, err := pkcs12.DecodeChain(data, pw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !slices.ContainsFunc(farm.Signing, cert.Equal) {
		return nil, fmt.Errorf("%s: certificate %s is not a token-signing certificate in FederationMetadata.xml", path, adfs.Thumbprint(cert))
	}
	if _, ok := key.(crypto.Signer); !ok {
		return nil, fmt.Errorf("%s: the key cannot sign", path)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...), nil
}

// baseConfig is a config that runs the imported apps: fedgate at the
// farm's host name, a local upstream for break-glass accounts (add the
// real ones), and the app_files and policies globs to merge into an
// existing config instead.
func baseConfig(res *adfs.Result, publicURL, signing string) ([]byte, error) {
	if publicURL == "" {
		if res.Farm == nil {
			return nil, errors.New("--public-url is needed without FederationMetadata.xml")
		}
		publicURL = "https://" + res.Farm.Host
	}
	if u, err := url.Parse(publicURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("--public-url %q: want https://host", publicURL)
	}
	var b strings.Builder
	b.WriteString("# Written by `fedgate import adfs` (see report.md). To add the imported apps to\n")
	b.WriteString("# an existing config instead, copy apps/, policies/ and certs/ next to it and add\n")
	b.WriteString("# the app_files and policies globs below.\n")
	fmt.Fprintf(&b, "server:\n  public_url: %q\n  listen: \":8443\"\n  tls: { cert_file: tls/cert.pem, key_file: tls/key.pem }\n", publicURL)
	if signing != "" {
		fmt.Fprintf(&b, "  # The farm's identifier: SAML and WS-Fed apps see the issuer they trust.\n  issuer: %q\n", res.Farm.Identifier)
	}
	b.WriteString("data_dir: ./data\n")
	if signing != "" {
		fmt.Fprintf(&b, "keys:\n  # The ADFS token-signing key: apps that trust the farm's metadata trust fedgate.\n  signing: [ { file: %s } ]\n", signing)
		b.WriteString("# Answer at /adfs/ls/ as the farm did, so apps keep their settings.\ncompat: adfs\n")
	}
	b.WriteString("upstreams:\n  # Add where users sign in (Windows sign-in, ADFS or Entra during the move).\n")
	b.WriteString("  - { id: breakglass, type: local, name: Emergency accounts, users_file: users.yaml }\n")
	b.WriteString("app_files: [apps/*.yaml]\npolicies: [policies/*.yaml]\n")
	return []byte(b.String()), nil
}

func networksFile(intranet string) []byte {
	var cidrs []string
	for _, c := range strings.Split(intranet, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cidrs = append(cidrs, fmt.Sprintf("%q", c))
		}
	}
	return fmt.Appendf(nil, "# ADFS's intranet: requests that did not come through the Web Application Proxy.\nnetworks:\n  %s: [%s]\n",
		adfs.IntranetNetwork, strings.Join(cidrs, ", "))
}

// writeTree writes every file under dir: keys and secrets 0600, the rest
// 0644.
func writeTree(dir string, files map[string][]byte) error {
	for _, name := range sortedNames(files) {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasPrefix(name, "keys/") || strings.HasPrefix(name, "secrets/") {
			mode = 0o600
		}
		if err := os.WriteFile(path, files[name], mode); err != nil {
			return err
		}
	}
	return nil
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

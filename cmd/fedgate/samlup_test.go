package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/saml"
)

// TestSAMLUpstreamAsDocumented: docs/upstream-saml.md's config passes
// check, and the upstream it builds publishes both keys in its metadata.
func TestSAMLUpstreamAsDocumented(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"idp", "keys"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var certs []string
	for _, name := range []string{"keys/sp-2026.pem", "keys/sp-2027.pem", "idp-signing.pem"} {
		pem, err := keys.GenerateSigningKey(keys.RSA2048, "test "+name, 24*time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, name, string(pem))
		k, err := keys.LoadSigningKey(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, base64.StdEncoding.EncodeToString(k.Cert.Raw))
	}
	writeFile(t, dir, "idp/partner-adfs.xml", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://adfs.partner.example/adfs/services/trust">
<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>`+certs[2]+`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
<SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://adfs.partner.example/adfs/ls/"/>
</IDPSSODescriptor></EntityDescriptor>`)
	cfg := checkDocumented(t, dir, "saml upstream", "partner-adfs")
	l, err := load(cfg, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mp, ok := l.upstreams[0].(protocols.MetadataPublisher)
	if !ok {
		t.Fatalf("upstream %T publishes no metadata", l.upstreams[0])
	}
	md, _, err := mp.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`entityID="https://sso.example.co.jp/upstream/partner-adfs/metadata"`,
		`Location="https://sso.example.co.jp/callback/partner-adfs"`, certs[0], certs[1], `<md:NameIDFormat>` + "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("SP metadata lacks %s:\n%s", want, md)
		}
	}
	if n := strings.Count(string(md), certs[1]); n != 2 {
		t.Errorf("the next key is published %d times, want for signing and encryption", n)
	}
}

// TestWSFedUpstreamAsDocumented: docs/upstream-saml.md's wsfed config
// passes check with an ADFS-shaped federation metadata file.
func TestWSFedUpstreamAsDocumented(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "idp"), 0o755); err != nil {
		t.Fatal(err)
	}
	pem, err := keys.GenerateSigningKey(keys.RSA2048, "adfs", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sts.pem", string(pem))
	k, err := keys.LoadSigningKey(filepath.Join(dir, "sts.pem"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "idp/corp-adfs.xml", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="http://adfs.corp.example/adfs/services/trust">
<RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:fed="http://docs.oasis-open.org/wsfed/federation/200706" xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="http://docs.oasis-open.org/wsfed/federation/200706">
<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>`+base64.StdEncoding.EncodeToString(k.Cert.Raw)+`</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
<fed:PassiveRequestorEndpoint><EndpointReference xmlns="http://www.w3.org/2005/08/addressing"><Address>https://adfs.corp.example/adfs/ls/</Address></EndpointReference></fed:PassiveRequestorEndpoint>
</RoleDescriptor></EntityDescriptor>`)
	checkDocumented(t, dir, "wsfed upstream", "corp-adfs")
}

// checkDocumented writes a config around the snippet of docs/upstream-saml.md
// after "<!-- config snippet: NAME -->", with an app signing in through
// upstream, and runs check on it; it returns the config's path.
func checkDocumented(t *testing.T, dir, name, upstream string) string {
	t.Helper()
	snippet := fileSnippet(t, "docs/upstream-saml.md", "<!-- config snippet: "+name+" -->")
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "https://sso.example.co.jp", insecure_http: true }
data_dir: data
`+snippet+`
apps:
  - { id: demo, type: whoami, policy: p, upstreams: [`+upstream+`] }
policies: [p.yaml]
`)
	writeFile(t, dir, "p.yaml", "policy: p\nrules:\n  - { name: all, allow: {} }\n")
	cfg := filepath.Join(dir, "fedgate.yaml")
	if code, stdout, stderr := runCLI("check", "--config", cfg); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	return cfg
}

// TestSAMLUpstreamMetadataURL: the IdP's metadata from a URL through the
// one metadata source: cached in data_dir, refreshed, and a document for
// another entity never replaces the last good copy.
func TestSAMLUpstreamMetadataURL(t *testing.T) {
	dir := t.TempDir()
	pemKey, err := keys.GenerateSigningKey(keys.RSA2048, "idp", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "idp.pem", string(pemKey))
	k, err := keys.LoadSigningKey(filepath.Join(dir, "idp.pem"))
	if err != nil {
		t.Fatal(err)
	}
	metadata := func(entity, sso string) string {
		return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entity + `"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
			`<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + base64.StdEncoding.EncodeToString(k.Cert.Raw) +
			`</X509Certificate></X509Data></KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sso + `"/></IDPSSODescriptor></EntityDescriptor>`
	}
	var mu sync.Mutex
	body := metadata("https://idp.example/idp", "https://idp.example/sso1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: partner, type: saml, metadata_url: "`+srv.URL+`/md", entity_id: "https://idp.example/idp" }
apps:
  - { id: demo, type: whoami, policy: p, upstreams: [partner] }
policies: [p.yaml]
`)
	writeFile(t, dir, "p.yaml", "policy: p\nrules:\n  - { name: all, allow: {} }\n")
	l, err := load(filepath.Join(dir, "fedgate.yaml"), true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var src *saml.MetadataSource
	for i := range l.spMeta {
		if l.spMeta[i].Kind == "IdP" && l.spMeta[i].Name == "partner" {
			src = &l.spMeta[i]
		}
	}
	if src == nil || !strings.Contains(readFile(t, "", src.Cache), "sso1") {
		t.Fatalf("no cached IdP metadata source: %+v", l.spMeta)
	}
	begin := func(u protocols.Upstream) string {
		to, err := u.(protocols.RedirectAuthenticator).Begin(context.Background(), protocols.AuthRequest{State: "s", Nonce: "n", CallbackURL: "http://127.0.0.1:1/callback/partner"})
		if err != nil {
			t.Fatal(err)
		}
		return to
	}
	if to := begin(l.upstreams[0]); !strings.HasPrefix(to, "https://idp.example/sso1?") {
		t.Fatalf("Begin = %s", to)
	}
	ctx, c := context.Background(), saml.MetadataClient(nil)
	mu.Lock()
	body = metadata("https://evil.example/idp", "https://evil.example/sso")
	mu.Unlock()
	if changed, err := src.Refresh(ctx, c); changed || err == nil || !strings.Contains(err.Error(), "describes entity id") {
		t.Fatalf("another entity's metadata: changed %v, err %v", changed, err)
	}
	mu.Lock()
	body = metadata("https://idp.example/idp", "https://idp.example/sso2")
	mu.Unlock()
	if changed, err := src.Refresh(ctx, c); !changed || err != nil {
		t.Fatalf("refresh: changed %v, err %v", changed, err)
	}
	// The watcher reloads on the changed cache file; a reload builds this.
	l, err = load(filepath.Join(dir, "fedgate.yaml"), false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if to := begin(l.upstreams[0]); !strings.HasPrefix(to, "https://idp.example/sso2?") {
		t.Fatalf("after refresh, Begin = %s", to)
	}
}

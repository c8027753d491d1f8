package main

import (
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/protocols"
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
	snippet := docSnippetIn(t, "upstream-saml.md", "<!-- config snippet: saml upstream -->")
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "https://sso.example.co.jp", insecure_http: true }
data_dir: data
`+snippet+`
apps:
  - { id: demo, type: whoami, policy: p, upstreams: [partner-adfs] }
policies: [p.yaml]
`)
	writeFile(t, dir, "p.yaml", "policy: p\nrules:\n  - { name: all, allow: {} }\n")
	cfg := filepath.Join(dir, "fedgate.yaml")
	if code, stdout, stderr := runCLI("check", "--config", cfg); code != 0 {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
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

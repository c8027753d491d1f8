// Package xmlsigtest has test helpers for XML signatures: throwaway keys
// and the independent check by xmlsec1. It is for tests only.
package xmlsigtest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Key is an RSA key and its self-signed certificate.
type Key struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

var (
	mu    sync.Mutex
	cache = map[string]Key{}
)

// NewKey returns an RSA-2048 key named name (cached per name within a test
// binary, so tests stay fast), its certificate valid 2020–2040.
func NewKey(t testing.TB, name string) Key {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if k, ok := cache[name]; ok {
		return k
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	k := Key{Key: key, Cert: cert}
	cache[name] = k
	return k
}

// CertPEM is the certificate in PEM.
func (k Key) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Cert.Raw})
}

// RequirePeer finds a real peer's binary (xmlsec1, xmllint). Missing peers
// fail under the README's test command (FEDGATE_REQUIRE_PEERS=1) and skip
// elsewhere.
func RequirePeer(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FEDGATE_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is required: %v", name, err)
		}
		t.Skipf("%s not installed (./test/all.sh installs it)", name)
	}
	return p
}

// XMLSec1Verify checks the signatures of doc with xmlsec1, independently of
// goxmldsig: node is "<namespace>:<local name>" of every signed element
// type and idAttr their id attribute. It fails the test on any problem.
func XMLSec1Verify(t testing.TB, doc []byte, k Key, idAttr string, nodes ...string) {
	t.Helper()
	bin := RequirePeer(t, "xmlsec1")
	dir := tempDir(t)
	file, cert := filepath.Join(dir, "doc.xml"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, k.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	n := bytes.Count(doc, []byte("<ds:Signature "))
	if n == 0 {
		t.Fatalf("xmlsec1: no signature in\n%s", doc)
	}
	for i := 1; i <= n; i++ { // every signature, not only the first
		args := []string{"--verify", "--enabled-reference-uris", "same-doc", "--pubkey-cert-pem", cert,
			"--node-xpath", fmt.Sprintf("(//*[local-name()='Signature'])[%d]", i)}
		for _, n := range nodes {
			args = append(args, "--id-attr:"+idAttr, n)
		}
		out, err := exec.Command(bin, append(args, file)...).CombinedOutput()
		if err != nil {
			t.Fatalf("xmlsec1 --verify (signature %d of %d): %v\n%s\n%s", i, n, err, out, doc)
		}
	}
}

// XMLSec1Sign signs tmpl, a document holding empty ds:Signature templates,
// with xmlsec1 (another implementation than ours) and k; node and idAttr
// name the signed element type as in XMLSec1Verify.
func XMLSec1Sign(t testing.TB, tmpl []byte, k Key, idAttr, node string) []byte {
	t.Helper()
	bin := RequirePeer(t, "xmlsec1")
	dir := tempDir(t)
	file, key, out := filepath.Join(dir, "tmpl.xml"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "signed.xml")
	p8, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), k.CertPEM()...)
	if err := os.WriteFile(file, tmpl, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	msg, err := exec.Command(bin, "--sign", "--privkey-pem", key+","+key, "--id-attr:"+idAttr, node, "--output", out, file).CombinedOutput()
	if err != nil {
		t.Fatalf("xmlsec1 --sign: %v\n%s\n%s", err, msg, tmpl)
	}
	signed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// Certs is the certificate as a list (xmlsig.Verifier.Certs).
func (k Key) Certs() []*x509.Certificate { return []*x509.Certificate{k.Cert} }

// tempDir is a directory removed after the test. Not t.TempDir: its path
// carries the test's name, and xmlsec1 reads a comma in it as a list.
func tempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "xmlsigtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// SAMLSchemaDir holds the SAML schemas (Debian: opensaml-schemas);
// w3cSchemaDir the W3C ones they import (xmltooling-schemas).
const SAMLSchemaDir, w3cSchemaDir = "/usr/share/xml/opensaml", "/usr/share/xml/xmltooling"

// ValidateSchema validates doc against the XSD at path with xmllint,
// offline: a catalog maps the W3C imports to Debian's copies.
func ValidateSchema(t testing.TB, doc []byte, xsd string) {
	t.Helper()
	bin := RequirePeer(t, "xmllint")
	for _, f := range []string{xsd, filepath.Join(w3cSchemaDir, "xmldsig-core-schema.xsd")} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("FEDGATE_REQUIRE_PEERS") != "" {
				t.Fatalf("schema missing (apt-get install opensaml-schemas xmltooling-schemas): %v", err)
			}
			t.Skipf("schema not installed: %v", err)
		}
	}
	var catalog strings.Builder
	catalog.WriteString(`<?xml version="1.0"?>` + "\n" + `<catalog xmlns="urn:oasis:names:tc:entity:xmlns:xml:catalog">` + "\n")
	for id, file := range map[string]string{
		"http://www.w3.org/TR/2002/REC-xmldsig-core-20020212/xmldsig-core-schema.xsd": "xmldsig-core-schema.xsd",
		"http://www.w3.org/TR/xmldsig-core/xmldsig-core-schema.xsd":                   "xmldsig-core-schema.xsd", // SAML 1.1
		"http://www.w3.org/TR/2002/REC-xmlenc-core-20021210/xenc-schema.xsd":          "xenc-schema.xsd",
		"http://www.w3.org/2001/xml.xsd":                                              "xml.xsd",
	} {
		uri := "file://" + filepath.Join(w3cSchemaDir, file)
		fmt.Fprintf(&catalog, "  <system systemId=%q uri=%q/>\n  <uri name=%q uri=%q/>\n", id, uri, id, uri)
	}
	catalog.WriteString("</catalog>\n")
	dir := tempDir(t)
	cat, file := filepath.Join(dir, "catalog.xml"), filepath.Join(dir, "doc.xml")
	if err := os.WriteFile(cat, []byte(catalog.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--nonet", "--noout", "--schema", xsd, file)
	cmd.Env = append(os.Environ(), "XML_CATALOG_FILES="+cat)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmllint --schema %s: %v\n%s\n%s", xsd, err, out, doc)
	}
}

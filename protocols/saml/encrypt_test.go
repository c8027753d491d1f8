package saml

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSA-OAEP-MGF1P, as the SP decrypts
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

// keyDesc is a KeyDescriptor: use ("" for none) and certificate.
type keyDesc struct {
	use  string
	cert *x509.Certificate
}

// spMetadataXML is SP metadata for basicSP's entity with these keys.
func spMetadataXML(keys ...keyDesc) []byte {
	var kds strings.Builder
	for _, k := range keys {
		attr := ""
		if k.use != "" {
			attr = ` use="` + k.use + `"`
		}
		kds.WriteString(`<md:KeyDescriptor` + attr + `><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` +
			base64.StdEncoding.EncodeToString(k.cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
	}
	return []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + appEntity + `">` +
		`<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + kds.String() +
		`<md:AssertionConsumerService Binding="` + BindingPOST + `" Location="https://app.example.com/saml/acs" index="0"/>` +
		`</md:SPSSODescriptor></md:EntityDescriptor>`)
}

// TestEncryptAssertion: an SP with an encryption key gets its signed
// assertion encrypted; it decrypts with its private key (here, and
// independently with xmlsec1) and finds fedgate's signature intact.
func TestEncryptAssertion(t *testing.T) {
	spKey := fixedKey(t, "sp")
	withMetadata := func(uses ...string) SPConfig {
		c := basicSP()
		c.EntityID, c.ACSURLs = "", nil
		var keys []keyDesc
		for _, u := range uses {
			keys = append(keys, keyDesc{u, spKey.Cert})
		}
		c.Metadata = spMetadataXML(keys...)
		return c
	}
	cbcFile := basicSP()
	cbcFile.EncryptionCert, cbcFile.EncryptionMethod = spKey.Cert, "aes256-cbc"
	signedBoth := withMetadata("encryption")
	signedBoth.SignResponse = ptr(true)
	onlyResponse := withMetadata("signing", "encryption")
	onlyResponse.SignResponse, onlyResponse.SignAssertion = ptr(true), ptr(false)
	off := withMetadata("encryption")
	off.EncryptAssertion = ptr(false)
	noUseAsked := withMetadata("")
	noUseAsked.EncryptAssertion = ptr(true)

	cases := []struct {
		name   string
		sp     SPConfig
		method string // "" for an assertion in clear
		golden string
	}{
		{name: "metadata use=encryption: GCM", sp: withMetadata("signing", "encryption"), method: EncAES256GCM, golden: "response-encrypted.xml"},
		// Many SPs publish their signing key without use=: not a reason to
		// send what they may not decrypt, unless asked.
		{name: "metadata KeyDescriptor without use: in clear", sp: withMetadata("")},
		{name: "metadata KeyDescriptor without use, encrypt_assertion: true", sp: noUseAsked, method: EncAES256GCM},
		{name: "encryption_certificate_file and aes256-cbc", sp: cbcFile, method: EncAES256CBC},
		{name: "response signed after encryption", sp: signedBoth, method: EncAES256GCM},
		{name: "only the response signed", sp: onlyResponse, method: EncAES256GCM},
		{name: "metadata use=signing only: in clear", sp: withMetadata("signing")},
		{name: "encrypt_assertion: false", sp: off},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"app": c.sp})
			e.idp.rand = mathrand.NewChaCha8([32]byte{7}) // fixed, for the golden file
			req := authnRequestXML("_req", appEntity, fixedNow, "", "")
			_, xml, _ := posted(t, e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, req, "", nil), nil)))
			xmllintSchema(t, xml, "saml-schema-protocol-2.0.xsd")
			signedResponse := c.sp.SignResponse != nil && *c.sp.SignResponse
			if c.method == "" {
				if strings.Contains(string(xml), "EncryptedAssertion") {
					t.Fatalf("encrypted, want the assertion in clear:\n%s", xml)
				}
				e.verifiedAssertion(xml, signedResponse)
				return
			}
			if c.golden != "" {
				golden(t, c.golden, xml)
			}
			doc, err := xmlsig.Parse(xml, 0)
			if err != nil {
				t.Fatal(err)
			}
			resp := doc.Root()
			if signedResponse { // signed over the ciphertext
				if resp, err = (xmlsig.Verifier{Certs: e.key.Certs()}).Verify(resp, "ID"); err != nil {
					t.Fatalf("response signature: %v", err)
				}
				xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsProtocol+":Response")
			}
			if childNS(resp, nsAssertion, "Assertion") != nil {
				t.Fatalf("an assertion in clear:\n%s", xml)
			}
			ea := childNS(resp, nsAssertion, "EncryptedAssertion")
			if ea == nil {
				t.Fatalf("no EncryptedAssertion:\n%s", xml)
			}
			ed := childNS(ea, nsXMLEnc, "EncryptedData")
			if got := ed.FindElement("./EncryptionMethod").SelectAttrValue("Algorithm", ""); got != c.method {
				t.Errorf("EncryptionMethod %s, want %s", got, c.method)
			}

			plain := decryptAssertion(t, ed, spKey.Key)
			adoc, err := xmlsig.Parse(plain, 0)
			if err != nil {
				t.Fatalf("decrypted assertion: %v\n%s", err, plain)
			}
			a := adoc.Root()
			if a.Tag != "Assertion" || a.NamespaceURI() != nsAssertion {
				t.Fatalf("decrypted %s, want saml:Assertion", a.Tag)
			}
			if c.sp.SignAssertion == nil || *c.sp.SignAssertion {
				if a, err = (xmlsig.Verifier{Certs: e.key.Certs()}).Verify(a, "ID"); err != nil {
					t.Fatalf("decrypted assertion's signature: %v", err)
				}
			}
			if a.FindElement("./Subject/NameID") == nil {
				t.Errorf("no NameID in the decrypted assertion:\n%s", plain)
			}

			// xmlsec1 decrypts on its own, and checks the signature inside.
			byXMLSec := xmlsec1Decrypt(t, ed, "testdata/sp-key.pem")
			if c.sp.SignAssertion == nil || *c.sp.SignAssertion {
				xmlsigtest.XMLSec1Verify(t, byXMLSec, e.key, "ID", nsAssertion+":Assertion")
			}
		})
	}
}

// decryptAssertion does what an SP does: RSA-OAEP-MGF1P unwraps the key,
// AES-GCM or AES-CBC the assertion.
func decryptAssertion(t *testing.T, ed *etree.Element, key *rsa.PrivateKey) []byte {
	t.Helper()
	b64 := func(path string) []byte {
		el := ed.FindElement(path)
		if el == nil {
			t.Fatalf("no %s", path)
		}
		b, err := base64.StdEncoding.DecodeString(el.Text())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ek := ed.FindElement("./KeyInfo/EncryptedKey")
	if ek == nil || ek.FindElement("./EncryptionMethod").SelectAttrValue("Algorithm", "") != EncRSAOAEPMGF1 {
		t.Fatal("want an EncryptedKey by rsa-oaep-mgf1p")
	}
	if got := ek.SelectAttrValue("Recipient", ""); got != appEntity {
		t.Errorf("EncryptedKey Recipient %q", got)
	}
	if cert := ek.FindElement("./KeyInfo/X509Data/X509Certificate"); cert == nil || cert.Text() != base64.StdEncoding.EncodeToString(fixedKey(t, "sp").Cert.Raw) {
		t.Error("EncryptedKey's KeyInfo does not name the SP's certificate")
	}
	cek, err := rsa.DecryptOAEP(sha1.New(), nil, key, b64("./KeyInfo/EncryptedKey/CipherData/CipherValue"), nil)
	if err != nil {
		t.Fatalf("unwrap key: %v", err)
	}
	data := b64("./CipherData/CipherValue")
	block, err := aes.NewCipher(cek)
	if err != nil {
		t.Fatal(err)
	}
	if ed.FindElement("./EncryptionMethod").SelectAttrValue("Algorithm", "") == EncAES256GCM {
		gcm, _ := cipher.NewGCM(block)
		plain, err := gcm.Open(nil, data[:12], data[12:], nil)
		if err != nil {
			t.Fatalf("AES-GCM: %v", err)
		}
		return plain
	}
	if len(data)%aes.BlockSize != 0 || len(data) < 2*aes.BlockSize {
		t.Fatalf("AES-CBC: %d bytes", len(data))
	}
	plain := make([]byte, len(data)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, data[:aes.BlockSize]).CryptBlocks(plain, data[aes.BlockSize:])
	n := int(plain[len(plain)-1])
	if n < 1 || n > aes.BlockSize {
		t.Fatalf("AES-CBC: padding %d", n)
	}
	return plain[:len(plain)-n]
}

// xmlsec1Decrypt decrypts the EncryptedData element with xmlsec1 and the
// SP's private key, returning the decrypted element.
func xmlsec1Decrypt(t *testing.T, ed *etree.Element, keyPEM string) []byte {
	t.Helper()
	bin := xmlsigtest.RequirePeer(t, "xmlsec1")
	doc := etree.NewDocument()
	doc.SetRoot(ed.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "enc.xml")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--decrypt", "--privkey-pem", keyPEM, file).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("xmlsec1 --decrypt: %v\n%s\n%s", err, stderr, b)
	}
	if !strings.Contains(string(out), "<saml:Assertion ") {
		t.Fatalf("xmlsec1 --decrypt gave no assertion:\n%s", out)
	}
	return out
}

// TestEncryptionConfig: what Open refuses, and when it encrypts.
func TestEncryptionConfig(t *testing.T) {
	spKey := fixedKey(t, "sp")
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec sp"}, NotBefore: fixedNow, NotAfter: fixedNow.Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	ecCert, _ := x509.ParseCertificate(der)

	cases := []struct {
		name    string
		edit    func(*SPConfig)
		wantErr string
		method  string // when it opens: "" for no encryption
	}{
		{name: "no key: in clear", edit: func(*SPConfig) {}},
		{name: "encrypt_assertion true without a key", edit: func(c *SPConfig) { c.EncryptAssertion = ptr(true) }, wantErr: "encrypt_assertion: true needs the SP's encryption certificate"},
		{name: "encrypt_assertion true with a key", edit: func(c *SPConfig) { c.EncryptAssertion, c.EncryptionCert = ptr(true), spKey.Cert }, method: EncAES256GCM},
		{name: "encrypt_assertion false with a key", edit: func(c *SPConfig) { c.EncryptAssertion, c.EncryptionCert = ptr(false), spKey.Cert }},
		{name: "aes256-cbc", edit: func(c *SPConfig) { c.EncryptionCert, c.EncryptionMethod = spKey.Cert, "AES256-CBC" }, method: EncAES256CBC},
		{name: "unknown method", edit: func(c *SPConfig) { c.EncryptionCert, c.EncryptionMethod = spKey.Cert, "aes128-cbc" }, wantErr: `encryption_method "aes128-cbc"`},
		{name: "EC certificate file", edit: func(c *SPConfig) { c.EncryptionCert = ecCert }, wantErr: "not an RSA certificate"},
		{name: "metadata use=signing only", edit: func(c *SPConfig) { c.Metadata = spMetadataXML(keyDesc{"signing", spKey.Cert}) }},
		{name: "metadata: the file wins", edit: func(c *SPConfig) {
			c.Metadata, c.EncryptionCert = spMetadataXML(keyDesc{"encryption", ecCert}), spKey.Cert
		}, method: EncAES256GCM},
		{name: "metadata: EC only", edit: func(c *SPConfig) { c.Metadata = spMetadataXML(keyDesc{"encryption", ecCert}) }, wantErr: "encryption keys are not RSA"},
		{name: "metadata: EC key, then RSA key", edit: func(c *SPConfig) {
			c.Metadata = spMetadataXML(keyDesc{"encryption", ecCert}, keyDesc{"encryption", spKey.Cert})
		}, method: EncAES256GCM},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := basicSP()
			c.edit(&sc)
			_, err := Open(Config{PublicURL: base, SPs: []SPEntry{{App: "app", SPConfig: sc}}},
				Deps{Keys: newEnv(t, nil).idp.Keys})
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, _ := sc.resolve("app")
			switch {
			case c.method == "" && s.Encryption != nil:
				t.Errorf("encrypts with %s, want in clear", s.Encryption.Method)
			case c.method != "" && (s.Encryption == nil || s.Encryption.Method != c.method):
				t.Errorf("encryption %+v, want %s", s.Encryption, c.method)
			case c.method != "" && !s.Encryption.Cert.Equal(spKey.Cert):
				t.Error("not encrypted to the SP's RSA certificate")
			}
		})
	}
}

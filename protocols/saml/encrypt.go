package saml

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSA-OAEP's MGF1-SHA1 is what every SP decrypts; not a signature
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// XML Encryption algorithms. The content key is wrapped with RSA-OAEP
// (MGF1 with SHA-1), the one key transport xmlsec1, node-saml's
// xml-encryption and Shibboleth all accept; xmlenc11#rsa-oaep is not.
const (
	nsXMLEnc       = "http://www.w3.org/2001/04/xmlenc#"
	EncAES256GCM   = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	EncAES256CBC   = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	EncRSAOAEPMGF1 = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	encTypeElement = "http://www.w3.org/2001/04/xmlenc#Element"
)

// encryption is how one SP's assertions are encrypted: to Cert's RSA key,
// the content with Method (EncAES256GCM or EncAES256CBC).
type encryption struct {
	Cert      *x509.Certificate
	Method    string
	Recipient string
}

// encryption decides whether s's assertions are encrypted: to the
// configured certificate, else to the first RSA key the metadata offers
// for encryption; unless encrypt_assertion is false.
func (c SPConfig) encryption(recipient string, fromMetadata []*x509.Certificate) (*encryption, error) {
	method := EncAES256GCM
	switch strings.ToLower(c.EncryptionMethod) {
	case "", "aes256-gcm":
	case "aes256-cbc":
		method = EncAES256CBC // for SPs without XML Encryption 1.1: no integrity of its own
	default:
		return nil, fmt.Errorf("encryption_method %q: use aes256-gcm or aes256-cbc", c.EncryptionMethod)
	}
	if c.EncryptAssertion != nil && !*c.EncryptAssertion {
		return nil, nil
	}
	if c.EncryptionCert != nil {
		if _, ok := c.EncryptionCert.PublicKey.(*rsa.PublicKey); !ok {
			return nil, errors.New("encryption_certificate_file: not an RSA certificate (assertion keys are sent with RSA-OAEP)")
		}
		return &encryption{Cert: c.EncryptionCert, Method: method, Recipient: recipient}, nil
	}
	for _, cert := range fromMetadata {
		if _, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			return &encryption{Cert: cert, Method: method, Recipient: recipient}, nil
		}
	}
	switch {
	case len(fromMetadata) > 0:
		return nil, errors.New("metadata_file: the SP's encryption keys are not RSA (assertion keys are sent with RSA-OAEP): set encrypt_assertion: false or encryption_certificate_file")
	case c.EncryptAssertion != nil:
		return nil, errors.New(`encrypt_assertion: true needs the SP's encryption certificate (encryption_certificate_file, or a KeyDescriptor use="encryption" in metadata_file)`)
	}
	return nil, nil
}

// encrypt returns <saml:EncryptedAssertion> holding a (signed) assertion:
// the element encrypted with a fresh AES-256 key, the key encrypted to the
// SP's certificate, which KeyInfo names.
func (e *encryption) encrypt(a *etree.Element, random io.Reader) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.SetRoot(a)
	doc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalAttrVal: true, CanonicalText: true} // as assertion.Serialize
	plain, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, fmt.Errorf("saml: encrypt assertion: %w", err)
	}
	var data []byte
	if e.Method == EncAES256CBC {
		data, err = sealCBC(key, plain, random)
	} else {
		data, err = sealGCM(key, plain, random)
	}
	if err != nil {
		return nil, fmt.Errorf("saml: encrypt assertion: %w", err)
	}
	wrapped, err := rsa.EncryptOAEP(sha1.New(), random, e.Cert.PublicKey.(*rsa.PublicKey), key, nil)
	if err != nil {
		return nil, fmt.Errorf("saml: encrypt assertion key: %w", err)
	}

	ea := etree.NewElement("saml:EncryptedAssertion")
	ed := ea.CreateElement("xenc:EncryptedData")
	ed.CreateAttr("xmlns:xenc", nsXMLEnc)
	ed.CreateAttr("xmlns:ds", nsDSig)
	ed.CreateAttr("Type", encTypeElement)
	ed.CreateElement("xenc:EncryptionMethod").CreateAttr("Algorithm", e.Method)
	ek := ed.CreateElement("ds:KeyInfo").CreateElement("xenc:EncryptedKey")
	ek.CreateAttr("Recipient", e.Recipient)
	m := ek.CreateElement("xenc:EncryptionMethod")
	m.CreateAttr("Algorithm", EncRSAOAEPMGF1)
	m.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", xmlsig.DigestSHA1)
	ek.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(e.Cert.Raw))
	ek.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(wrapped))
	ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText(base64.StdEncoding.EncodeToString(data))
	return ea, nil
}

// sealGCM is AES-GCM as XML Encryption 1.1 lays it out: IV (12 bytes),
// ciphertext, tag (16 bytes).
func sealGCM(key, plain []byte, random io.Reader) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	iv := make([]byte, gcm.NonceSize())
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, err
	}
	return gcm.Seal(iv, iv, plain, nil), nil
}

// sealCBC is AES-CBC as XML Encryption 1.0 lays it out: IV, then the
// ciphertext of the plaintext padded to whole blocks, the last byte
// counting the padding (PKCS#7 padding is one valid choice).
func sealCBC(key, plain []byte, random io.Reader) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	out := make([]byte, aes.BlockSize+len(plain)+n)
	iv, body := out[:aes.BlockSize], out[aes.BlockSize:]
	if _, err := io.ReadFull(random, iv); err != nil {
		return nil, err
	}
	copy(body, plain)
	for i := len(plain); i < len(body); i++ {
		body[i] = byte(n)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(body, body)
	return out, nil
}

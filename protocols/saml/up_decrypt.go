package saml

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	_ "crypto/sha1" // RSA-OAEP's default digest and MGF1 hash, not a signature
	_ "crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// More XML Encryption algorithms an IdP may use towards us. RSA PKCS#1
// v1.5 key transport is refused (Bleichenbacher).
const (
	encAES128GCM  = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	encAES128CBC  = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	encRSAOAEP11  = "http://www.w3.org/2009/xmlenc11#rsa-oaep"
	mgf1SHA256    = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
	digestSHA512  = "http://www.w3.org/2001/04/xmlenc#sha512"
	maxAssertion  = 128 << 10
	aesGCMNonce   = 12
	aesGCMTagSize = 16
)

// decrypter opens EncryptedAssertions sent to any of its keys (current,
// next and retired ones alike: the IdP may hold an older copy of our
// metadata).
type decrypter struct{ keys []*rsa.PrivateKey }

// open returns the assertion inside ea, parsed as untrusted XML of its own.
func (d decrypter) open(ea *etree.Element) (*etree.Element, error) {
	ed := childNS(ea, nsXMLEnc, "EncryptedData")
	if ed == nil {
		return nil, errors.New("EncryptedAssertion has no EncryptedData")
	}
	method := ""
	if m := childNS(ed, nsXMLEnc, "EncryptionMethod"); m != nil {
		method = m.SelectAttrValue("Algorithm", "")
	}
	var keyLen int
	switch method {
	case EncAES256GCM, EncAES256CBC:
		keyLen = 32
	case encAES128GCM, encAES128CBC:
		keyLen = 16
	default:
		return nil, fmt.Errorf("assertion encryption %q not supported", method)
	}
	// The EncryptedKey is inside the data's KeyInfo (node-saml, ADFS) or
	// beside it (Shibboleth, with a RetrievalMethod).
	var ek *etree.Element
	if ki := childNS(ed, nsDSig, "KeyInfo"); ki != nil {
		ek = childNS(ki, nsXMLEnc, "EncryptedKey")
	}
	if ek == nil {
		ek = childNS(ea, nsXMLEnc, "EncryptedKey")
	}
	if ek == nil {
		return nil, errors.New("encrypted assertion carries no EncryptedKey")
	}
	key, err := d.unwrap(ek, keyLen)
	if err != nil {
		return nil, err
	}
	data, err := cipherValue(ed)
	if err != nil {
		return nil, err
	}
	var plain []byte
	if method == EncAES256GCM || method == encAES128GCM {
		plain, err = openGCM(key, data)
	} else {
		plain, err = openCBC(key, data)
	}
	if err != nil {
		return nil, fmt.Errorf("decrypt assertion: %w", err)
	}
	doc, err := xmlsig.Parse(plain, maxAssertion)
	if err != nil {
		return nil, fmt.Errorf("decrypted assertion: %w", err)
	}
	a := doc.Root()
	if a.Tag != "Assertion" || a.NamespaceURI() != nsAssertion || samltoken.HasComment(a) {
		return nil, errors.New("decrypted content is not one comment-free saml:Assertion")
	}
	return a, nil
}

// unwrap decrypts the content key with RSA-OAEP under one of our keys.
func (d decrypter) unwrap(ek *etree.Element, keyLen int) ([]byte, error) {
	m := childNS(ek, nsXMLEnc, "EncryptionMethod")
	if m == nil {
		return nil, errors.New("EncryptedKey has no EncryptionMethod")
	}
	alg := m.SelectAttrValue("Algorithm", "")
	if alg != EncRSAOAEPMGF1 && alg != encRSAOAEP11 {
		return nil, fmt.Errorf("key transport %q not allowed (RSA-OAEP only)", alg)
	}
	h, mgf := crypto.SHA1, crypto.SHA1
	if dm := childNS(m, nsDSig, "DigestMethod"); dm != nil {
		switch dm.SelectAttrValue("Algorithm", "") {
		case xmlsig.DigestSHA1:
		case xmlsig.DigestSHA256:
			h = crypto.SHA256
		case digestSHA512:
			h = crypto.SHA512
		default:
			return nil, errors.New("unsupported OAEP digest")
		}
	}
	if g := childNS(m, "http://www.w3.org/2009/xmlenc11#", "MGF"); g != nil && alg == encRSAOAEP11 {
		if g.SelectAttrValue("Algorithm", "") != mgf1SHA256 {
			return nil, errors.New("unsupported OAEP mask generation function")
		}
		mgf = crypto.SHA256
	}
	wrapped, err := cipherValue(ek)
	if err != nil {
		return nil, err
	}
	for _, k := range d.keys {
		key, err := k.Decrypt(nil, wrapped, &rsa.OAEPOptions{Hash: h, MGFHash: mgf})
		if err == nil && len(key) == keyLen {
			return key, nil
		}
	}
	return nil, errors.New("the assertion is encrypted for a key that is not ours")
}

func cipherValue(el *etree.Element) ([]byte, error) {
	cd := childNS(el, nsXMLEnc, "CipherData")
	if cd == nil {
		return nil, errors.New("no CipherData")
	}
	cv := childNS(cd, nsXMLEnc, "CipherValue")
	if cv == nil {
		return nil, errors.New("no CipherValue")
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cv.Text()), ""))
	if err != nil {
		return nil, errors.New("CipherValue is not base64")
	}
	return b, nil
}

// openGCM reads IV (12 bytes) ‖ ciphertext ‖ tag (16 bytes).
func openGCM(key, data []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	if len(data) < aesGCMNonce+aesGCMTagSize {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, data[:aesGCMNonce], data[aesGCMNonce:], nil)
}

// openCBC reads IV ‖ ciphertext; the last plaintext byte counts the
// padding (XML Encryption 1.0, §5.2). CBC has no integrity of its own: the
// assertion inside must still verify, and every failure reads the same.
func openCBC(key, data []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(data) < 2*aes.BlockSize || len(data)%aes.BlockSize != 0 {
		return nil, errors.New("ciphertext is not whole blocks")
	}
	out := make([]byte, len(data)-aes.BlockSize)
	cipher.NewCBCDecrypter(b, data[:aes.BlockSize]).CryptBlocks(out, data[aes.BlockSize:])
	n := int(out[len(out)-1])
	if n < 1 || n > aes.BlockSize {
		return nil, errors.New("bad padding")
	}
	return out[:len(out)-n], nil
}

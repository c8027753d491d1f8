// Package assertion holds what the SAML IdP and the WS-Fed STS share when
// they issue assertions about a user: which key signs, where each value
// comes from, persistent pairwise ids, and the XML document out.
package assertion

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// ValueSource matches where a NameID, attribute or claim value comes from.
var ValueSource = regexp.MustCompile(`^(username|upn|email|name|groups|subject|upstream|claim:[A-Za-z0-9_.:/\-]+)$`)

// Values reads a value source from the identity: nil when the user has no
// value (an empty attribute would claim one).
func Values(id protocols.Identity, src string) []string {
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	switch src {
	case "username", "upn":
		return one(id.Username)
	case "email":
		return one(id.Email)
	case "name":
		return one(id.DisplayName)
	case "groups":
		return id.Groups
	case "subject":
		return one(id.Subject)
	case "upstream":
		return one(id.Upstream)
	}
	if name, ok := strings.CutPrefix(src, "claim:"); ok {
		return one(id.Claims[name])
	}
	return nil
}

// ErrNoValue: the user has no usable value for the name identifier the
// app knows users by. The answer is a refusal, never an empty NameID.
var ErrNoValue = errors.New("the user has no usable value for the name identifier")

// NameID is the subject identifier from src: "pairwise" (keyed by salt,
// for audience) or a value source.
func NameID(id protocols.Identity, src, salt, audience string) (string, error) {
	if src == "pairwise" {
		return Pairwise(salt, id, audience), nil
	}
	v := Values(id, src)
	if len(v) == 0 || v[0] == "" {
		return "", fmt.Errorf("%w (%s)", ErrNoValue, src)
	}
	return v[0], nil
}

// Pairwise is a persistent id: opaque, stable per user and audience, and
// unlinkable across audiences; HMAC-SHA256 keyed by salt (43 characters).
func Pairwise(salt string, id protocols.Identity, audience string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(id.Upstream + "\x00" + id.Subject + "\x00" + audience))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Signers makes the signers of the active key: RSA-SHA256, and RSA-SHA1
// for peers configured with sha1 (nil when the key is not RSA). The
// active key is an RSA one if there is any — every SAML and WS-Fed peer
// verifies RSA, Microsoft only RSA — else the first active key.
func Signers(keys []protocols.SigningKey) (sha256, sha1 *xmlsig.Signer, err error) {
	var k *protocols.SigningKey
	for i := range keys {
		if keys[i].Next || keys[i].Cert == nil {
			continue
		}
		if _, ok := keys[i].Signer.Public().(*rsa.PublicKey); ok {
			k = &keys[i]
			break
		}
		if k == nil {
			k = &keys[i]
		}
	}
	if k == nil {
		return nil, nil, errors.New("no active signing key with a certificate (keys.signing)")
	}
	if sha256, err = xmlsig.NewSigner(k.Signer, k.Cert, false); err != nil {
		return nil, nil, err
	}
	sha1, _ = xmlsig.NewSigner(k.Signer, k.Cert, true)
	return sha256, sha1, nil
}

// CheckEndpoint accepts a registered address of an app (ACS, reply, logout
// URL): absolute, no fragment, and https — bearer assertions are posted
// there — except to a loopback host, a developer's own machine.
func CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("%q is not an absolute https URL", raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return fmt.Errorf("%q: use https (assertions are bearer tokens; plain http only to localhost)", raw)
	}
	return nil
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// Published are the keys metadata announces (the next one included): those
// with a certificate, and only the RSA ones when there is any — SAML and
// WS-Fed peers verify RSA, and an ECDSA key beside it serves OIDC only.
func Published(keys []protocols.SigningKey) []protocols.SigningKey {
	var all, rsaKeys []protocols.SigningKey
	for _, k := range keys {
		if k.Cert == nil {
			continue
		}
		all = append(all, k)
		if _, ok := k.Signer.Public().(*rsa.PublicKey); ok {
			rsaKeys = append(rsaKeys, k)
		}
	}
	if len(rsaKeys) > 0 {
		return rsaKeys
	}
	return all
}

// ID is a fresh XML id: "_" and 160 random bits (an id must not start
// with a digit).
func ID() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return "_" + hex.EncodeToString(b)
}

// xmlBuffers are reused by Serialize and Fragment: a signed answer is
// several KB, which a fresh buffer would grow to by doubling each time.
var xmlBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Answers are written with canonical escaping: a tab, newline or carriage
// return in an attribute value, or a carriage return in text (a display
// name from an upstream), written raw would be normalised by the parser
// that verifies the signature, so its canonical form would no longer be
// what was signed. As character references they survive parsing.
var (
	documentSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalAttrVal: true, CanonicalText: true}
	fragmentSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalText: true}
)

// Serialize writes el as a UTF-8 XML document (a SAML message), empty
// elements with end tags.
func Serialize(el *etree.Element) []byte {
	return write(`<?xml version="1.0" encoding="UTF-8"?>`, el, &documentSettings)
}

// Fragment writes el alone, without an XML declaration, as a WS-Fed
// wresult carries its RSTR.
func Fragment(el *etree.Element) []byte { return write("", el, &fragmentSettings) }

func write(decl string, el *etree.Element, s *etree.WriteSettings) []byte {
	b := xmlBuffers.Get().(*bytes.Buffer)
	defer xmlBuffers.Put(b)
	b.Reset()
	b.WriteString(decl)
	xmlsig.WriteElement(b, el, s)
	return bytes.Clone(b.Bytes())
}

// Core is what the SAML IdP and the WS-Fed STS keep alike: the signing
// keys (the Next ones only published) and the active key's signers, a
// clock, ids and a log.
type Core struct {
	Keys               []protocols.SigningKey
	Logger             *slog.Logger
	Now                func() time.Time
	NewID              func() string
	signer, sha1Signer *xmlsig.Signer
	metadata           *sync.Map // app ("" for none) → document, built once per snapshot
}

// NewCore fills in the defaults (no log, the real clock, random ids)
// and makes the active key's signers.
func NewCore(keys []protocols.SigningKey, logger *slog.Logger, now func() time.Time, newID func() string) (Core, error) {
	i := Core{Keys: keys, Logger: logger, Now: now, NewID: newID, metadata: &sync.Map{}}
	if i.Logger == nil {
		i.Logger = slog.New(slog.DiscardHandler)
	}
	if i.Now == nil {
		i.Now = time.Now
	}
	if i.NewID == nil {
		i.NewID = ID
	}
	var err error
	i.signer, i.sha1Signer, err = Signers(keys)
	return i, err
}

// Signer signs with RSA-SHA256, or RSA-SHA1 for a peer configured with
// sha1 (nil when the active key is not RSA).
func (i *Core) Signer(sha1 bool) *xmlsig.Signer {
	if sha1 {
		return i.sha1Signer
	}
	return i.signer
}

// ServeMetadata answers a metadata request with the document for key (an
// app, or "" for the app-less one), built by build once per snapshot: the WS-Fed one is signed, and an RSA
// signature per anonymous GET would be cheap to make us spend. Cacheable
// for an hour (peers poll it; a rollover is announced well before it
// signs).
func (i *Core) ServeMetadata(w http.ResponseWriter, key string, build func(key string) ([]byte, error)) {
	v, ok := i.metadata.Load(key)
	if !ok {
		doc, err := build(key)
		if err != nil {
			http.Error(w, "metadata unavailable", http.StatusInternalServerError)
			return
		}
		v, _ = i.metadata.LoadOrStore(key, doc)
	}
	doc := v.([]byte)
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(doc)
}

// Package keys loads fedgate's cookie and signing keys from files and generates them
// (`fedgate keys`, and the quickstart's first run). Keys live in files named in config,
// never in the config itself, so the config can be shared and committed.
package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
)

const (
	cookieHalf   = 32 // HMAC-SHA256 hash key and AES-256 block key are 32 bytes each
	maxKeyFile   = 64 << 10
	cookieKeyLen = 2 * cookieHalf
)

// CookieKey is one securecookie key pair. A config lists several for rotation: the
// first encodes, all decode.
type CookieKey struct{ Hash, Block []byte }

// GenerateCookieKey returns a key from crypto/rand.
func GenerateCookieKey() (CookieKey, error) {
	b := make([]byte, cookieKeyLen)
	if _, err := rand.Read(b); err != nil {
		return CookieKey{}, fmt.Errorf("keys: generate cookie key: %w", err)
	}
	return CookieKey{Hash: b[:cookieHalf:cookieHalf], Block: b[cookieHalf:]}, nil
}

// Marshal returns the file form: standard padded base64 of Hash then Block, and "\n".
func (k CookieKey) Marshal() []byte {
	raw := append(append(make([]byte, 0, len(k.Hash)+len(k.Block)), k.Hash...), k.Block...)
	out := base64.StdEncoding.AppendEncode(nil, raw)
	return append(out, '\n')
}

// LoadCookieKeys reads one key per file, in order. It returns all keys or an error
// naming the first bad file; an empty list is an error, since something must encode.
func LoadCookieKeys(paths []string) ([]CookieKey, error) {
	if len(paths) == 0 {
		return nil, errors.New("keys: no cookie key files given")
	}
	out := make([]CookieKey, 0, len(paths))
	for _, p := range paths {
		data, err := readKeyFile(p)
		if err != nil {
			return nil, err
		}
		k, err := parseCookieKey(data)
		if err != nil {
			return nil, fmt.Errorf("keys: cookie key %s: %w", p, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// parseCookieKey accepts surrounding whitespace (editors add newlines) but nothing
// else: no unpadded or URL alphabet, so one key has exactly one file form. Errors never
// include the file's bytes.
func parseCookieKey(data []byte) (CookieKey, error) {
	text := bytes.TrimSpace(data)
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(raw, text)
	if err != nil {
		return CookieKey{}, errors.New("not valid base64")
	}
	if n != cookieKeyLen {
		return CookieKey{}, fmt.Errorf("decodes to %d bytes, want %d (generate one with `fedgate keys`)", n, cookieKeyLen)
	}
	return CookieKey{Hash: raw[:cookieHalf:cookieHalf], Block: raw[cookieHalf:cookieKeyLen:cookieKeyLen]}, nil
}

// readKeyFile reads a small file; the limit keeps a misconfigured path (a log, a
// device) from being slurped into memory.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: a close error loses nothing
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("keys: read %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("keys: %s: larger than %d bytes, not a key file", path, maxKeyFile)
	}
	return data, nil
}

package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Defaults for EnsureDefault. RSA-2048 is the one key type every peer fedgate talks to
// accepts (Entra ID and ADFS federation, SAML SPs, OIDC clients); three years matches
// the validity Entra gives its own SAML signing certificates.
const (
	cookieFile        = "cookie.key"
	signingFile       = "signing.pem"
	defaultAlgorithm  = RSA2048
	defaultCommonName = "fedgate signing"
	defaultValidity   = 3 * 365 * 24 * time.Hour
)

// WriteFile creates path with mode 0600 (its parent 0700 if missing) and writes data.
// It refuses to overwrite an existing file, with an error matching fs.ErrExist: a key
// that is silently replaced logs everyone out or breaks every relying party.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keys: refusing to replace a key: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync() // a key that vanishes in a crash would be regenerated and differ
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // a truncated key must not be loaded on the next start
		return fmt.Errorf("keys: write %s: %w", path, err)
	}
	return nil
}

// EnsureDefault makes sure dataDir holds cookie.key and signing.pem, generating only
// the missing ones; created reports whether it wrote anything. Existing files are not
// validated here: loading them does that, with better errors.
func EnsureDefault(dataDir string) (cookiePath, signingPath string, created bool, err error) {
	cookiePath = filepath.Join(dataDir, cookieFile)
	signingPath = filepath.Join(dataDir, signingFile)
	gens := []struct {
		path string
		gen  func() ([]byte, error)
	}{
		{cookiePath, func() ([]byte, error) {
			k, err := GenerateCookieKey()
			return k.Marshal(), err
		}},
		{signingPath, func() ([]byte, error) {
			return GenerateSigningKey(defaultAlgorithm, defaultCommonName, defaultValidity, time.Now())
		}},
	}
	for _, g := range gens {
		made, err := ensure(g.path, g.gen)
		if err != nil {
			return "", "", false, err
		}
		created = created || made
	}
	return cookiePath, signingPath, created, nil
}

func ensure(path string, gen func() ([]byte, error)) (bool, error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("keys: %w", err)
	}
	data, err := gen()
	if err != nil {
		return false, err
	}
	err = WriteFile(path, data)
	if errors.Is(err, fs.ErrExist) {
		return false, nil // another process won the race; its key is as good as ours
	}
	return err == nil, err
}

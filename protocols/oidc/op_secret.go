package oidc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Stored client secret hashes, in the formats of the local users file
// (argon2id PHC strings, or bcrypt). protocols/local has the same parser
// unexported; a shared protocols/internal package would remove this copy.

type secretHash interface{ verify(secret string) bool }

func parseSecretHash(s string) (secretHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2idSecret(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		return bcryptSecret(s), nil
	}
	return nil, errors.New("neither argon2id ($argon2id$...) nor bcrypt ($2a$/$2b$/$2y$...)")
}

type bcryptSecret string

func (h bcryptSecret) verify(secret string) bool {
	return len(secret) <= 72 && bcrypt.CompareHashAndPassword([]byte(h), []byte(secret)) == nil
}

type argon2idSecret struct {
	memory, time uint32
	threads      uint8
	salt, value  []byte
}

func parseArgon2idSecret(s string) (*argon2idSecret, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	h := &argon2idSecret{}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return nil, fmt.Errorf("argon2id hash parameters: %w", err)
	}
	if h.memory < 8*1024 || h.memory > 1<<21 || h.time < 1 || h.time > 16 || h.threads < 1 {
		return nil, errors.New("argon2id hash parameters out of range (m 8MiB..2GiB, t 1..16, p ≥ 1)")
	}
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("argon2id hash: bad salt")
	}
	if h.value, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.value) < 16 {
		return nil, errors.New("argon2id hash: bad hash value")
	}
	return h, nil
}

func (h *argon2idSecret) verify(secret string) bool {
	got := argon2.IDKey([]byte(secret), h.salt, h.time, h.memory, h.threads, uint32(len(h.value)))
	return subtle.ConstantTimeCompare(got, h.value) == 1
}

// plainSecret compares in constant time (over hashes, so the length of the
// configured secret does not leak either).
type plainSecret string

func (p plainSecret) verify(secret string) bool {
	a, b := sha256.Sum256([]byte(p)), sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

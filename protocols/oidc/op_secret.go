package oidc

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/fedgate/fedgate/protocols/internal/pwhash"
)

// Stored client secret hashes, in the formats of the local users file
// (argon2id PHC strings, or bcrypt).

type secretHash interface {
	Verify(ctx context.Context, secret string) (bool, error)
}

func parseSecretHash(s string) (secretHash, error) { return pwhash.Parse(s) }

// plainSecret compares in constant time (over hashes, so the length of the
// configured secret does not leak either).
type plainSecret string

func (p plainSecret) Verify(_ context.Context, secret string) (bool, error) {
	a, b := sha256.Sum256([]byte(p)), sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1, nil
}

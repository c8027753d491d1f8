// Package pwhash checks and makes password hashes in the formats fedgate's
// config accepts: argon2id (PHC string) and bcrypt. Local users' passwords
// and OpenID clients' secrets both use it.
package pwhash

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgate/fedgate/protocols"
)

// Argon2id parameters for new hashes: OWASP's recommended minimum
// (19 MiB, 2 passes, 1 lane) keeps a sign-in near 30 ms.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

var errBadHash = errors.New("password hash is neither argon2id ($argon2id$...) nor bcrypt ($2a$/$2b$/$2y$...)")

// Hash is a parsed password hash that can check a password.
type Hash interface {
	// Verify reports whether password matches. It runs under the process-wide
	// bound on hash computations and returns an error wrapping
	// protocols.ErrBusy (nothing was checked) when no slot frees up in time.
	Verify(ctx context.Context, password string) (bool, error)
}

// hashing bounds the hash computations running at once in the process, for
// every caller (local users, OpenID client secrets): an argon2id check holds
// its memory (19 MiB with our parameters) until it returns, so 60 parallel
// guesses took the process from 62 MB to 1.2 GB. More slots than CPUs would
// not finish sooner. It is a package variable because the memory it guards
// is the process's, whatever config snapshot or upstream asks.
var hashing = newLimiter(min(runtime.GOMAXPROCS(0), maxConcurrent), maxWait)

// maxConcurrent hash computations at once (fewer on machines with fewer CPUs),
// and how long a check waits for a slot before giving up with ErrBusy.
const (
	maxConcurrent = 4
	maxWait       = 2 * time.Second
)

// limiter is a counting semaphore whose callers wait at most wait.
type limiter struct {
	slots chan struct{}
	wait  time.Duration
}

func newLimiter(n int, wait time.Duration) *limiter {
	return &limiter{slots: make(chan struct{}, max(n, 1)), wait: wait}
}

// run calls fn in a free slot, or returns an error wrapping
// protocols.ErrBusy without calling it.
func (l *limiter) run(ctx context.Context, fn func() bool) (bool, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			return false, fmt.Errorf("pwhash: %d hash checks running: %w", cap(l.slots), protocols.ErrBusy)
		case <-ctx.Done():
			return false, fmt.Errorf("pwhash: waiting for a slot: %w (%w)", protocols.ErrBusy, ctx.Err())
		}
	}
	defer func() { <-l.slots }()
	return fn(), nil
}

// Parse reads an argon2id ($argon2id$v=19$...) or bcrypt ($2a$/$2b$/$2y$) hash.
func Parse(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return nil, fmt.Errorf("bcrypt hash: %w", err)
		}
		return bcryptHash(s), nil
	}
	return nil, errBadHash
}

type bcryptHash string

func (h bcryptHash) Verify(ctx context.Context, password string) (bool, error) {
	// bcrypt reads only 72 bytes: longer inputs would match by prefix.
	return hashing.run(ctx, func() bool {
		return len(password) <= 72 && bcrypt.CompareHashAndPassword([]byte(h), []byte(password)) == nil
	})
}

type argon2idHash struct {
	memory      uint32
	time        uint32
	threads     uint8
	salt, value []byte
}

// parseArgon2id reads the PHC string format:
// $argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>.
func parseArgon2id(s string) (*argon2idHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=..,t=..,p=..$salt$hash")
	}
	h := &argon2idHash{}
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

func (h *argon2idHash) Verify(ctx context.Context, password string) (bool, error) {
	return hashing.run(ctx, func() bool {
		got := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.value)))
		return subtle.ConstantTimeCompare(got, h.value) == 1
	})
}

// New returns a new argon2id hash of password in PHC format.
func New(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	v := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(v)), nil
}

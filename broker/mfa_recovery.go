package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// recoveryMethod: one-time codes for when the authenticator is lost, given
// once at the first enrolment. Only their hashes are kept (the codes are
// random, 50 bits each: a fast hash is enough); a used code is claimed
// (atomic across replicas) and then struck from the record.
type recoveryMethod struct{}

const recoveryCount = 10

type recoveryRecord struct {
	Hashes []string `json:"h"`
}

func (recoveryMethod) Name() string { return "recovery" }

// AMR: a recovery code proves only "mfa" (which the broker adds): a policy
// that asks for otp or hwk is not met by one.
func (recoveryMethod) AMR() []string { return nil }

func (m recoveryMethod) Enrolled(c *mfaCall) (bool, error) {
	return c.vault.has(c.r.Context(), m.Name(), c.user)
}

func (recoveryMethod) Challenge(c *mfaCall) {
	c.render(http.StatusOK, "mfacode", codePage(c, "recovery.title", "recovery.intro", "recovery.code", "mfa.verify", false))
}

// recoveryMarkerTTL keeps a spent recovery code's marker for as long as a
// code could be kept on paper.
const recoveryMarkerTTL = 10 * 365 * 24 * time.Hour

// Verify strikes the code off under the user's lock: two codes used at
// once are both struck.
func (m recoveryMethod) Verify(c *mfaCall) error {
	return c.vault.locked(c.r.Context(), c.user, func() error { return m.verify(c) })
}

func (m recoveryMethod) verify(c *mfaCall) error {
	ctx := c.r.Context()
	var rec recoveryRecord
	if err := c.vault.get(ctx, m.Name(), c.user, &rec); err != nil {
		return err
	}
	h := recoveryHash(c.r.PostForm.Get("code"))
	if !slices.Contains(rec.Hashes, h) {
		return errFactorWrong
	}
	// The claim is what makes a code single-use, even should the record
	// update below fail, so the marker must outlive the code (codes are
	// random: a new set never meets an old marker). A user has at most
	// recoveryCount.
	first, err := c.vault.claim(ctx, "rc:"+h, c.user, c.now().Add(recoveryMarkerTTL))
	if err != nil {
		return err
	}
	if !first {
		return errFactorReplayed
	}
	rec.Hashes = slices.DeleteFunc(rec.Hashes, func(x string) bool { return x == h })
	if len(rec.Hashes) == 0 {
		return c.vault.remove(ctx, m.Name(), c.user)
	}
	return c.vault.put(ctx, m.Name(), c.user, rec)
}

// issueRecoveryCodes gives the user new codes if they have none; nil if
// they have some (they were shown at the first enrolment). Under the
// user's lock: two first enrolments at once must not each show a set and
// keep only one.
func issueRecoveryCodes(c *mfaCall) (codes []string, err error) {
	err = c.vault.locked(c.r.Context(), c.user, func() error {
		codes, err = newRecoveryCodes(c)
		return err
	})
	return codes, err
}

func newRecoveryCodes(c *mfaCall) ([]string, error) {
	m := recoveryMethod{}
	if has, err := m.Enrolled(c); has || err != nil {
		return nil, err
	}
	codes := make([]string, recoveryCount)
	rec := recoveryRecord{}
	for i := range codes {
		b := make([]byte, 10)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s := strings.ToLower(base32.StdEncoding.EncodeToString(b))[:10]
		codes[i] = s[:5] + "-" + s[5:]
		rec.Hashes = append(rec.Hashes, recoveryHash(codes[i]))
	}
	return codes, c.vault.put(c.r.Context(), m.Name(), c.user, rec)
}

// recoveryHash is a code's hash, ignoring case, spaces and dashes.
func recoveryHash(code string) string {
	code = strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(code))
	h := sha256.Sum256([]byte("fedgate recovery v1\x00" + code))
	return hex.EncodeToString(h[:])
}

func (m recoveryMethod) Describe(ctx context.Context, v vault, u factorUser) ([]string, error) {
	var rec recoveryRecord
	if err := v.get(ctx, m.Name(), u, &rec); err != nil {
		return nil, err
	}
	return []string{strconv.Itoa(len(rec.Hashes)) + " codes left"}, nil
}

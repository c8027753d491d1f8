// Package fido runs the WebAuthn ceremonies that make FIDO2 security keys
// and platform passkeys a second factor (go-webauthn does the checking):
// registration of a named key, and an assertion with it. The relying party
// is fedgate's public URL: its host is the RP ID and its origin the only
// accepted one, so an assertion made for any other site is refused. The
// broker keeps the keys (per user, keyed by upstream + subject) and the
// ceremony state (sealed, in the browser); this package keeps nothing.
package fido

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
)

// Why an assertion or registration is refused (audit reasons).
var (
	ErrInvalid       = errors.New("fido: the authenticator's answer does not verify")
	ErrRPID          = errors.New("fido: the answer was made for another site (RP ID)")
	ErrCounter       = errors.New("fido: sign counter did not advance (cloned key?)")
	ErrUnknownKey    = errors.New("fido: not one of the user's keys")
	ErrAAGUIDRefused = errors.New("fido: this kind of authenticator is not allowed")
)

// Config is the relying party.
type Config struct {
	PublicURL   string // its host is the RP ID, its origin the only one accepted
	DisplayName string
	// Attestation: "none" (default), "indirect" or "direct".
	Attestation string
	// AAGUIDs, if any, are the only authenticator models that may register.
	AAGUIDs []string
	// UserVerification: "preferred" (default), "required" or "discouraged".
	UserVerification string
}

// RP is a configured relying party.
type RP struct {
	w       *webauthn.WebAuthn
	aaguids []uuid.UUID
	uv      protocol.UserVerificationRequirement
}

// New checks c and makes the relying party.
func New(c Config) (*RP, error) {
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("fido: public URL %q", c.PublicURL)
	}
	rp := &RP{uv: protocol.UserVerificationRequirement(cmpOr(c.UserVerification, "preferred"))}
	for _, a := range c.AAGUIDs {
		id, err := uuid.Parse(a)
		if err != nil {
			return nil, fmt.Errorf("fido: AAGUID %q: %w", a, err)
		}
		rp.aaguids = append(rp.aaguids, id)
	}
	rp.w, err = webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: cmpOr(c.DisplayName, "fedgate"),
		RPOrigins:             []string{u.Scheme + "://" + u.Host},
		AttestationPreference: protocol.ConveyancePreference(cmpOr(c.Attestation, "none")),
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: rp.uv, ResidentKey: protocol.ResidentKeyRequirementDiscouraged,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fido: %w", err)
	}
	return rp, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Key is one registered authenticator of a user, with the name the user
// gave it ("YubiKey on my keyring").
type Key struct {
	Name       string              `json:"name"`
	Created    time.Time           `json:"created"`
	LastUsed   time.Time           `json:"last_used,omitzero"`
	Credential webauthn.Credential `json:"cred"`
}

// User is whose keys a ceremony is about. Handle is opaque and stable
// (UserHandle derives it from upstream and subject).
type User struct {
	Handle      []byte
	Name        string
	DisplayName string
	Keys        []Key
}

// UserHandle is the WebAuthn user handle of upstream's subject: opaque (no
// personal data goes to the authenticator), and different per upstream.
func UserHandle(upstream, subject string) []byte {
	h := sha256.Sum256([]byte("fedgate webauthn user\x00" + upstream + "\x00" + subject))
	return h[:]
}

type waUser struct{ u *User }

func (w waUser) WebAuthnID() []byte          { return w.u.Handle }
func (w waUser) WebAuthnName() string        { return w.u.Name }
func (w waUser) WebAuthnDisplayName() string { return cmpOr(w.u.DisplayName, w.u.Name) }
func (w waUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, len(w.u.Keys))
	for i, k := range w.u.Keys {
		out[i] = k.Credential
	}
	return out
}

// Ceremony is what Begin* hands out: Options go to the browser's
// navigator.credentials call, State is sealed until Finish*.
type Ceremony struct {
	Options json.RawMessage
	State   []byte
}

func ceremony(opts any, s *webauthn.SessionData, err error) (Ceremony, error) {
	if err != nil {
		return Ceremony{}, fmt.Errorf("fido: %w", err)
	}
	o, err := json.Marshal(opts)
	if err != nil {
		return Ceremony{}, err
	}
	st, err := json.Marshal(s)
	return Ceremony{Options: o, State: st}, err
}

// BeginRegister starts registering a new key for u; u's existing keys are
// excluded (an authenticator registers once).
func (rp *RP) BeginRegister(u *User) (Ceremony, error) {
	var exclude []protocol.CredentialDescriptor
	for _, k := range u.Keys {
		exclude = append(exclude, k.Credential.Descriptor())
	}
	return ceremony(rp.w.BeginRegistration(waUser{u}, webauthn.WithExclusions(exclude)))
}

// FinishRegister checks the browser's answer to BeginRegister and returns
// the new key, named name.
func (rp *RP) FinishRegister(u *User, state, answer []byte, name string, now time.Time) (Key, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c, err := rp.w.CreateCredential(waUser{u}, s, parsed)
	if err != nil {
		return Key{}, classify(err)
	}
	if len(rp.aaguids) > 0 {
		// The AAGUID is what the authenticator says it is; with
		// attestation "direct" the library checks the statement behind it.
		id, err := uuid.FromBytes(c.Authenticator.AAGUID)
		if err != nil || !slices.Contains(rp.aaguids, id) {
			return Key{}, ErrAAGUIDRefused
		}
	}
	return Key{Name: name, Created: now, Credential: *c}, nil
}

// BeginLogin starts an assertion with one of u's keys.
func (rp *RP) BeginLogin(u *User) (Ceremony, error) {
	return ceremony(rp.w.BeginLogin(waUser{u}, webauthn.WithUserVerification(rp.uv)))
}

// FinishLogin checks the browser's answer to BeginLogin and returns the
// index of the key used in u.Keys, updated (sign counter, last use): the
// caller stores it. A sign counter that did not advance is refused.
func (rp *RP) FinishLogin(u *User, state, answer []byte, now time.Time) (int, Key, error) {
	var s webauthn.SessionData
	if err := json.Unmarshal(state, &s); err != nil {
		return -1, Key{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return -1, Key{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c, err := rp.w.ValidateLogin(waUser{u}, s, parsed)
	if err != nil {
		return -1, Key{}, classify(err)
	}
	if c.Authenticator.CloneWarning {
		return -1, Key{}, ErrCounter
	}
	i := slices.IndexFunc(u.Keys, func(k Key) bool { return string(k.Credential.ID) == string(c.ID) })
	if i < 0 {
		return -1, Key{}, ErrUnknownKey
	}
	k := u.Keys[i]
	k.Credential, k.LastUsed = *c, now
	return i, k, nil
}

// classify turns a library error into one of ours, keeping its detail.
func classify(err error) error {
	var pe *protocol.Error
	detail := err.Error()
	if errors.As(err, &pe) {
		detail = pe.Details + " " + pe.DevInfo
	}
	switch {
	case strings.Contains(detail, "RP Hash mismatch"):
		return fmt.Errorf("%w: %s", ErrRPID, detail)
	case errors.As(err, new(*protocol.ErrorUnknownCredential)), strings.Contains(detail, "not owned by the user"):
		return fmt.Errorf("%w: %s", ErrUnknownKey, detail)
	}
	return fmt.Errorf("%w: %s", ErrInvalid, detail)
}

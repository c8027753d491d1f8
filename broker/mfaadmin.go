package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
)

// MFAAdmin is `fedgate mfa`: what second factors a user has, and removing
// them (a lost phone, a leaver). Every change is audited.
type MFAAdmin struct {
	vault vault
	audit *Auditor
	now   func() time.Time
}

// mfaDescriber is a method that can say more about a user's factor than
// that it exists (when it was enrolled, how many codes are left, key names).
type mfaDescriber interface {
	Describe(ctx context.Context, v vault, u factorUser) ([]string, error)
}

// Factor is one method a user has, as the admin command shows it.
type Factor struct {
	Method string
	Detail []string
}

// ErrUnknownUser: nobody of that name at that upstream ever enrolled.
var ErrUnknownUser = errors.New("no enrolled factors for that user (never enrolled, or reset)")

// NewMFAAdmin works on st with fedgate's cookie keys (the vault's keys
// derive from them), auditing to audit.
func NewMFAAdmin(st store.Store, ks []keys.CookieKey, audit *Auditor) (*MFAAdmin, error) {
	v, err := newVault(st, ks)
	if err != nil {
		return nil, err
	}
	return &MFAAdmin{vault: v, audit: audit, now: time.Now}, nil
}

// List is the factors of username at upstream.
func (a *MFAAdmin) List(ctx context.Context, upstream, username string) ([]Factor, error) {
	u, err := a.user(ctx, upstream, username)
	if err != nil {
		return nil, err
	}
	var out []Factor
	for _, m := range mfaMethods {
		has, err := a.vault.has(ctx, m.Name(), u)
		if errors.Is(err, errVaultSeal) {
			out = append(out, Factor{Method: m.Name(), Detail: []string{"unusable: sealed under a cookie key no longer listed (reset it)"}})
			continue
		}
		if err != nil {
			return nil, err
		}
		if !has {
			continue
		}
		f := Factor{Method: m.Name()}
		if d, ok := m.(mfaDescriber); ok {
			if f.Detail, err = d.Describe(ctx, a.vault, u); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// Reset removes the user's factors of methods (all when empty) and returns
// the methods removed. by names who did it, for the audit log.
func (a *MFAAdmin) Reset(ctx context.Context, upstream, username string, methods []string, by string) ([]string, error) {
	u, err := a.user(ctx, upstream, username)
	if err != nil {
		return nil, err
	}
	for _, name := range methods {
		if mfaMethodByName(name) == nil {
			return nil, fmt.Errorf("unknown method %q (known: %s)", name, methodNames())
		}
	}
	var removed []string
	for _, m := range mfaMethods {
		if len(methods) > 0 && !slices.Contains(methods, m.Name()) {
			continue
		}
		// Under the user's lock: a key being registered meanwhile must not
		// write the old list back after the reset.
		err := a.vault.locked(ctx, u, func() error {
			// Also a record that no longer opens (sealed under a dropped key).
			if _, err := a.vault.st.Get(ctx, recordKey(m.Name(), u)); err != nil {
				return err
			}
			// A method keeps everything in its one record (several keys
			// too), so removing the record removes the factor.
			return a.vault.remove(ctx, m.Name(), u)
		})
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return removed, err
		}
		removed = append(removed, m.Name())
		a.audit.Record(AuditEvent{Time: a.now(), Event: "mfa-reset", Outcome: "success", User: u.Username,
			Upstream: u.Upstream, Rule: m.Name(), Reason: "admin-reset", Actor: by})
	}
	return removed, nil
}

func (a *MFAAdmin) user(ctx context.Context, upstream, username string) (factorUser, error) {
	u, err := a.vault.lookup(ctx, upstream, username)
	if errors.Is(err, store.ErrNotFound) {
		return u, ErrUnknownUser
	}
	return u, err
}

func methodNames() string {
	var s string
	for i, m := range mfaMethods {
		if i > 0 {
			s += ", "
		}
		s += m.Name()
	}
	return s
}

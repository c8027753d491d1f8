// Package local is the upstream for users defined in fedgate's own config:
// the quickstart, small sites, and break-glass accounts that must work when
// ADFS or Entra ID does not.
package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/pwhash"
)

// Config is a `type: local` upstream block.
type Config struct {
	ID      string   `yaml:"id"`
	Type    string   `yaml:"type"`
	Name    string   `yaml:"name"`
	Domains []string `yaml:"domains"`
	// UsersFile is read by the config loader and its users appended to Users.
	UsersFile string `yaml:"users_file"`
	Users     []User `yaml:"users"`
}

// User is one local account.
type User struct {
	Username     string           `yaml:"username"`
	PasswordHash protocols.Secret `yaml:"password_hash"`
	DisplayName  string           `yaml:"display_name"`
	Email        string           `yaml:"email"`
	Groups       []string         `yaml:"groups"`
	Disabled     bool             `yaml:"disabled"`
}

// UsersFile is the document a users_file holds.
type UsersFile struct {
	Users []User `yaml:"users"`
}

// Upstream checks passwords against the configured users.
type Upstream struct {
	id    string
	users map[string]account
	// dummy is verified for unknown users so they cost the same time as known ones.
	dummy pwhash.Hash
	now   func() time.Time
}

type account struct {
	User
	hash pwhash.Hash
}

var _ protocols.PasswordAuthenticator = (*Upstream)(nil)

// Open builds the upstream, checking every user; it reports all problems.
func Open(cfg Config, now func() time.Time) (*Upstream, error) {
	if now == nil {
		now = time.Now
	}
	u := &Upstream{id: cfg.ID, users: map[string]account{}, now: now}
	var errs []error
	for i, usr := range cfg.Users {
		key := strings.ToLower(strings.TrimSpace(usr.Username))
		if key == "" {
			errs = append(errs, fmt.Errorf("users[%d]: username is empty", i))
			continue
		}
		if _, dup := u.users[key]; dup {
			errs = append(errs, fmt.Errorf("users[%d]: duplicate username %q", i, usr.Username))
			continue
		}
		h, err := pwhash.Parse(usr.PasswordHash.Value())
		if err != nil {
			errs = append(errs, fmt.Errorf("users[%d] (%s): %w (hint: fedgate hash-password)", i, usr.Username, err))
			continue
		}
		u.users[key] = account{User: usr, hash: h}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	random := make([]byte, 16)
	if _, err := rand.Read(random); err != nil {
		return nil, err
	}
	dummy, err := pwhash.New(string(random))
	if err != nil {
		return nil, err
	}
	u.dummy, _ = pwhash.Parse(dummy)
	return u, nil
}

// ID is the upstream's config id.
func (u *Upstream) ID() string { return u.id }

// Ready is always nil: local users need nothing outside the process.
func (u *Upstream) Ready(context.Context) error { return nil }

// Authenticate checks username and password.
func (u *Upstream) Authenticate(ctx context.Context, username, password string) (protocols.Identity, error) {
	if err := ctx.Err(); err != nil {
		return protocols.Identity{}, err
	}
	acct, known := u.users[strings.ToLower(strings.TrimSpace(username))]
	h := acct.hash
	if !known {
		h = u.dummy
	}
	ok, err := h.Verify(ctx, password)
	if err != nil {
		return protocols.Identity{}, fmt.Errorf("local: %w", err)
	}
	if !known || !ok {
		return protocols.Identity{}, protocols.ErrInvalidCredentials
	}
	// Checked after the password so a disabled account does not reveal
	// itself to someone who does not know its password.
	if acct.Disabled {
		return protocols.Identity{}, protocols.ErrAccountDisabled
	}
	return protocols.Identity{
		Subject:     strings.ToLower(acct.Username),
		Upstream:    u.id,
		Username:    acct.Username,
		Email:       acct.Email,
		DisplayName: acct.DisplayName,
		Groups:      append([]string(nil), acct.Groups...),
		AuthTime:    u.now().UTC().Truncate(time.Second),
		AMR:         []string{"pwd"},
	}, nil
}

// HashPassword returns a new argon2id hash for a user's password_hash.
func HashPassword(password string) (string, error) { return pwhash.New(password) }

package broker

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
)

// The vault keeps enrolled factors in the store, sealed: AES-256-GCM under
// keys derived from fedgate's cookie keys (the first seals, all open, so
// they rotate together), with the store key as additional data. A stolen
// state file alone gives nothing, and a record copied to another user's or
// another method's key no longer opens: a factor cannot jump between
// users or upstreams.
//
//	mfa:<method>:<user id>     one method's record for one user
//	mfa-used:<what>:<user id>  single-use markers (a TOTP step, a recovery code)
//	mfa-user:<name id>         upstream + user name → the user (for `fedgate mfa`)
//	mfa-lock:<user id>         held while one of the user's records is rewritten
type vault struct {
	st   store.Store
	keys vaultKeys
	now  func() time.Time // the store's clock, for lock expiries
	log  *slog.Logger
}

// vaultKeys seal with the first and open with any.
type vaultKeys []cipher.AEAD

// factorUser is whom a factor belongs to: a subject of one upstream.
// Username is for people (the admin command, the authenticator app's label).
type factorUser struct {
	Upstream string `json:"up"`
	Subject  string `json:"sub"`
	Username string `json:"usr,omitempty"`
}

// id is the user's key part: a hash, so the store holds no user names.
func (u factorUser) id() string { return hashID(u.Upstream, u.Subject) }

func hashID(upstream, name string) string {
	h := sha256.Sum256([]byte(upstream + "\x00" + name))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// nameKey finds a user by upstream and user name (case-insensitive).
func nameKey(upstream, username string) string {
	return "mfa-user:" + hashID(upstream, strings.ToLower(strings.TrimSpace(username)))
}

func newVault(st store.Store, ks []keys.CookieKey) (vault, error) {
	vk, err := deriveVaultKeys(ks)
	return vault{st: st, keys: vk, now: time.Now, log: slog.Default()}, err // the admin command's stderr
}

func deriveVaultKeys(ks []keys.CookieKey) (vaultKeys, error) {
	var vk vaultKeys
	for _, k := range ks {
		m := hmac.New(sha256.New, k.Block)
		m.Write([]byte("fedgate mfa vault v1"))
		blk, err := aes.NewCipher(m.Sum(nil))
		if err != nil {
			return nil, err
		}
		a, err := cipher.NewGCM(blk)
		if err != nil {
			return nil, err
		}
		vk = append(vk, a)
	}
	if len(vk) == 0 {
		return nil, errors.New("broker: no cookie keys for the MFA vault")
	}
	return vk, nil
}

func recordKey(method string, u factorUser) string { return "mfa:" + method + ":" + u.id() }

// get opens method's record for u into dst; store.ErrNotFound when u has none.
func (v vault) get(ctx context.Context, method string, u factorUser, dst any) error {
	return v.open(ctx, recordKey(method, u), dst)
}

// put seals val as method's record for u.
func (v vault) put(ctx context.Context, method string, u factorUser, val any) error {
	return v.seal(ctx, recordKey(method, u), val)
}

func (v vault) remove(ctx context.Context, method string, u factorUser) error {
	return v.st.Delete(ctx, recordKey(method, u))
}

// has reports whether u has a record of method. A record that no listed
// key opens (sealed under a cookie key since dropped, or tampered with) is
// errVaultSeal, never "none": counting it as none would let whoever knows
// the password enrol a factor of their own. The user's MFA then fails
// closed until `fedgate mfa reset`.
func (v vault) has(ctx context.Context, method string, u factorUser) (bool, error) {
	var rec json.RawMessage
	err := v.get(ctx, method, u, &rec)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// claim spends what (a TOTP step, a recovery code's hash) for u until
// expiry, across every replica sharing the store: true the first time.
func (v vault) claim(ctx context.Context, what string, u factorUser, expiry time.Time) (bool, error) {
	return v.st.Claim(ctx, "mfa-used:"+what+":"+u.id(), expiry)
}

// The store has no compare-and-swap: a record read, changed and written
// back (a key added to the list, a sign counter, a code struck off) would
// lose a concurrent writer's change, on another replica too. locked runs
// such a change holding the user's lock, a Claim marker that expires by
// itself should its holder die. Every section it guards is a few store
// round trips (each bounded by the store's timeout) and a signature check,
// far within vaultLockTTL; a section that still outlives it may have
// raced, which is logged, and must not release a lock that another
// request has taken since.
var vaultLockTTL = 30 * time.Second // a var for the test of an overrun

const vaultLockTries = 12 // about 2s of backoff in all

// errVaultBusy: another request kept the user's lock through every retry.
var errVaultBusy = errors.New("broker: MFA record busy (another change of this user's factors is in progress)")

// locked runs change holding u's lock. One lock per user, not per record:
// issuing recovery codes once and resetting every method span records.
func (v vault) locked(ctx context.Context, u factorUser, change func() error) error {
	key := "mfa-lock:" + u.id()
	wait := 10 * time.Millisecond
	for try := 1; ; try++ {
		ok, err := v.st.Claim(ctx, key, v.now().Add(vaultLockTTL))
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if try == vaultLockTries {
			return errVaultBusy
		}
		// Jittered, so waiters that collided do not retry in step.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait/2 + mrand.N(wait/2+1)):
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
	taken := time.Now() // monotonic: how long the lock was held, whatever the wall clock does
	err := change()
	if held := time.Since(taken); held >= vaultLockTTL {
		v.log.WarnContext(ctx, "MFA record change outlived its lock; a concurrent change may have been lost", "held", held)
		return err
	}
	_ = v.st.Delete(context.WithoutCancel(ctx), key)
	return err
}

// remember lets `fedgate mfa` find u by upstream and user name.
func (v vault) remember(ctx context.Context, u factorUser) error {
	return v.seal(ctx, nameKey(u.Upstream, u.Username), u)
}

// lookup is the user named username at upstream, if they ever enrolled.
func (v vault) lookup(ctx context.Context, upstream, username string) (factorUser, error) {
	var u factorUser
	err := v.open(ctx, nameKey(upstream, username), &u)
	return u, err
}

func (v vault) seal(ctx context.Context, key string, val any) error {
	plain, err := json.Marshal(val)
	if err != nil {
		return err
	}
	sealed, err := v.keys.seal(plain, []byte(key))
	if err != nil {
		return err
	}
	return v.st.Put(ctx, key, sealed, time.Time{})
}

func (v vault) open(ctx context.Context, key string, dst any) error {
	sealed, err := v.st.Get(ctx, key)
	if err != nil {
		return err
	}
	plain, err := v.keys.open(sealed, []byte(key))
	if err != nil {
		return err
	}
	return json.Unmarshal(plain, dst)
}

// errVaultSeal: a record that no key opens (tampered, moved, or sealed
// under keys since dropped).
var errVaultSeal = errors.New("broker: sealed record does not open")

// seal encrypts plain bound to ad (the name it is stored under, so that a
// value copied to another name no longer opens).
func (vk vaultKeys) seal(plain, ad []byte) ([]byte, error) {
	a := vk[0]
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(plain)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return a.Seal(nonce, nonce, plain, ad), nil
}

func (vk vaultKeys) open(sealed, ad []byte) ([]byte, error) {
	for _, a := range vk {
		if len(sealed) < a.NonceSize() {
			break
		}
		plain, err := a.Open(nil, sealed[:a.NonceSize()], sealed[a.NonceSize():], ad)
		if err == nil {
			return plain, nil
		}
	}
	return nil, errVaultSeal
}

// StoreSealer seals what else fedgate keeps in the shared store that must not
// be readable there (the ACME private keys, broker/certs) as the vault
// seals factors: under keys derived from the cookie keys, with the value's
// name as additional data.
type StoreSealer struct{ keys func() vaultKeys }

// NewStoreSealer seals under ks (the first seals, all open).
func NewStoreSealer(ks []keys.CookieKey) (StoreSealer, error) {
	vk, err := deriveVaultKeys(ks)
	return StoreSealer{func() vaultKeys { return vk }}, err
}

// StoreSealer follows the cookie keys of the config in force, through reloads.
func (b *Server) StoreSealer() StoreSealer {
	return StoreSealer{func() vaultKeys { return b.Current().vaultKeys }}
}

// Seal encrypts plain for the value named name.
func (s StoreSealer) Seal(plain, name []byte) ([]byte, error) { return s.keys().seal(plain, name) }

// Open decrypts what Seal gave for name; an error when no listed key
// opens it (sealed under a key since dropped, tampered with, or moved).
func (s StoreSealer) Open(sealed, name []byte) ([]byte, error) { return s.keys().open(sealed, name) }

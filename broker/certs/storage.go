package certs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/fedgate/fedgate/broker/store"
)

// Storage keeps certmagic's certificates, account keys, challenge tokens and
// locks in fedgate's state store, so a fleet sharing a store (bolt on one
// node, Redis across nodes) shares certificates and only one replica orders
// each one.
//
// The store has no listing, so the set of keys lives in one index record,
// rewritten under an index lock. Locks are Claim markers that expire
// (lockTTL) and are refreshed while held: a replica that dies mid-order
// frees its names within lockTTL.
//
// Private keys (certmagic names them "….key": a certificate's and the ACME
// account's) are sealed before they reach the store, so whoever reads the
// store (a Redis shared by the fleet, a copied state file) gets no TLS key.
type Storage struct {
	st     store.Store
	seal   Sealer
	logger *slog.Logger
	prefix string
	// lockTTL bounds how long a dead holder blocks others; poll is how often
	// a waiter retries.
	lockTTL, poll time.Duration

	mu    sync.Mutex
	held  map[string]*heldLock
	owner string
}

type heldLock struct {
	token string
	stop  context.CancelFunc
	done  chan struct{}
}

// Sealer encrypts a value bound to its name (broker.StoreSealer: the MFA
// vault's AES-GCM under keys derived from the cookie keys).
type Sealer interface {
	Seal(plain, name []byte) ([]byte, error)
	Open(sealed, name []byte) ([]byte, error)
}

// NewStorage stores under "acme:" keys in st, private keys sealed by seal;
// logger says why a sealed key was not opened.
func NewStorage(st store.Store, seal Sealer, logger *slog.Logger) *Storage {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &Storage{st: st, seal: seal, logger: logger, prefix: "acme:", lockTTL: 30 * time.Second,
		poll: 250 * time.Millisecond, held: map[string]*heldLock{}, owner: hex.EncodeToString(b)}
}

// private: certmagic's name for a private key (certificate or account).
func private(key string) bool { return strings.HasSuffix(key, ".key") }

var _ certmagic.Storage = (*Storage)(nil)

func (s *Storage) valueKey(key string) string { return s.prefix + "v:" + key }
func (s *Storage) lockKey(name string) string { return s.prefix + "lock:" + name }
func (s *Storage) indexKey() string           { return s.prefix + "index" }

// A value is stored as 8 bytes of modification time (Unix ns) then the data,
// so Stat needs no second record.
func encodeValue(v []byte, mod time.Time) []byte {
	out := make([]byte, 8, 8+len(v))
	binary.BigEndian.PutUint64(out, uint64(mod.UnixNano()))
	return append(out, v...)
}

func decodeValue(b []byte) ([]byte, time.Time, error) {
	if len(b) < 8 {
		return nil, time.Time{}, errors.New("certs: stored value is truncated")
	}
	return b[8:], time.Unix(0, int64(binary.BigEndian.Uint64(b))), nil
}

// Store implements certmagic.Storage.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = clean(key)
	vk := s.valueKey(key)
	if private(key) {
		var err error
		if value, err = s.seal.Seal(value, []byte(vk)); err != nil {
			return err
		}
	}
	if err := s.st.Put(ctx, vk, encodeValue(value, time.Now()), time.Time{}); err != nil {
		return err
	}
	return s.updateIndex(ctx, func(keys []string) []string {
		if i, found := slices.BinarySearch(keys, key); !found {
			keys = slices.Insert(keys, i, key)
		}
		return keys
	})
}

// Load implements certmagic.Storage; a missing key is fs.ErrNotExist, and
// so is a private key that no cookie key opens: certmagic then orders a new
// certificate (or account) instead of failing at every start.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = clean(key)
	vk := s.valueKey(key)
	b, err := s.st.Get(ctx, vk)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fs.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	v, _, err := decodeValue(b)
	if err != nil || !private(key) {
		return v, err
	}
	if v, err = s.seal.Open(v, []byte(vk)); err != nil {
		s.logger.WarnContext(ctx, "ACME private key does not open (sealed under a cookie key no longer listed, or not sealed); treating it as absent, so a new one is obtained",
			"key", key, "err", err)
		return nil, fs.ErrNotExist
	}
	return v, nil
}

// Delete removes key and, as for a directory, every key under it.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = clean(key)
	var gone []string
	err := s.updateIndex(ctx, func(keys []string) []string {
		return slices.DeleteFunc(keys, func(k string) bool {
			if k == key || strings.HasPrefix(k, key+"/") {
				gone = append(gone, k)
				return true
			}
			return false
		})
	})
	if err != nil {
		return err
	}
	gone = append(gone, key) // a value the index missed (a crash between Put and index)
	for _, k := range gone {
		if err := s.st.Delete(ctx, s.valueKey(k)); err != nil {
			return err
		}
	}
	return nil
}

// Exists reports a key or a directory (a prefix of keys).
func (s *Storage) Exists(ctx context.Context, key string) bool {
	_, err := s.Stat(ctx, key)
	return err == nil
}

// List returns the keys under dir: all of them if recursive, else its direct
// children (files and sub-directories), as certmagic's FileStorage does.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	keys, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	dir = clean(dir)
	var out []string
	seen := map[string]bool{}
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, dir+"/")
		if dir == "" {
			rest, ok = k, true
		}
		if !ok {
			continue
		}
		if !recursive {
			first, _, _ := strings.Cut(rest, "/")
			k = path.Join(dir, first)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

// Stat implements certmagic.Storage.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = clean(key)
	b, err := s.st.Get(ctx, s.valueKey(key))
	if err == nil {
		v, mod, err := decodeValue(b)
		return certmagic.KeyInfo{Key: key, Modified: mod, Size: int64(len(v)), IsTerminal: true}, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return certmagic.KeyInfo{}, err
	}
	if _, err := s.List(ctx, key, false); err != nil {
		return certmagic.KeyInfo{}, err
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}

func (s *Storage) index(ctx context.Context) ([]string, error) {
	b, err := s.st.Get(ctx, s.indexKey())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("certs: index record: %w", err)
	}
	return keys, nil
}

// updateIndex rewrites the sorted index under its lock: the store has no
// compare-and-swap, and two replicas adding keys at once must not lose one.
func (s *Storage) updateIndex(ctx context.Context, change func([]string) []string) error {
	const name = "\x00index" // no certmagic lock name starts with NUL
	if err := s.Lock(ctx, name); err != nil {
		return err
	}
	defer s.Unlock(context.WithoutCancel(ctx), name)
	keys, err := s.index(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(change(keys))
	if err != nil {
		return err
	}
	return s.st.Put(ctx, s.indexKey(), b, time.Time{})
}

// Lock blocks until this replica holds name (or ctx ends). The lock is a
// Claim that expires after lockTTL, then stamped with this holder's token
// and refreshed every lockTTL/3 until Unlock.
func (s *Storage) Lock(ctx context.Context, name string) error {
	key := s.lockKey(name)
	for {
		ok, err := s.st.Claim(ctx, key, time.Now().Add(s.lockTTL))
		if err != nil {
			return err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.poll):
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	token := s.owner + ":" + name
	if err := s.st.Put(ctx, key, []byte(token), time.Now().Add(s.lockTTL)); err != nil {
		_ = s.st.Delete(context.WithoutCancel(ctx), key)
		return err
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h := &heldLock{token: token, stop: stop, done: make(chan struct{})}
	s.held[name] = h
	go s.refresh(rctx, key, h)
	return nil
}

// refresh extends a held lock. If another holder's token is found, the lock
// was lost (this process stalled past lockTTL): stop touching it.
func (s *Storage) refresh(ctx context.Context, key string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.lockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if b, err := s.st.Get(ctx, key); err != nil || string(b) != h.token {
			return
		}
		_ = s.st.Put(ctx, key, []byte(h.token), time.Now().Add(s.lockTTL))
	}
}

// Unlock releases a lock this replica holds; it does not delete a lock that
// expired and was taken by another replica meanwhile.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certs: unlock %q: not held", name)
	}
	h.stop()
	<-h.done
	key := s.lockKey(name)
	if b, err := s.st.Get(ctx, key); err != nil || string(b) != h.token {
		return nil
	}
	return s.st.Delete(ctx, key)
}

// clean makes "a//b/" and "a/b" the same key, as a file system would.
func clean(key string) string {
	if key == "" {
		return ""
	}
	return strings.TrimPrefix(path.Clean("/"+key), "/")
}

package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned by OpenBolt when another process holds the file lock.
var ErrLocked = errors.New("store: database file is locked by another process")

const (
	openTimeout   = 2 * time.Second
	sweepInterval = time.Minute
	// sweepBatch bounds how many deletions one sweep transaction makes, so the sweep
	// never holds bbolt's single writer lock for long while logins wait.
	sweepBatch = 1000
	// header is a version byte then the expiry as big-endian Unix nanoseconds
	// (0 = never expires). The version byte lets the layout change later.
	headerLen     = 9
	headerVersion = 1
)

var bucketName = []byte("kv")

// Bolt is the embedded default Store: one bbolt file, single node, surviving
// restarts. All writes go through one writer goroutine that commits them in groups
// (commit.go); bbolt serializes write transactions, which is what makes Claim and
// Incr atomic.
type Bolt struct {
	db     *bolt.DB
	now    func() time.Time
	writes chan *write
	stop   chan struct{}
	done   chan struct{} // the sweep has stopped
	wdone  chan struct{} // the writer has stopped
	once   sync.Once

	localWatch // Put and Delete tell it their key
}

var (
	_ Store   = (*Bolt)(nil)
	_ Watcher = (*Bolt)(nil)
	_ Lister  = (*Bolt)(nil)
)

// OpenBolt opens (creating if needed) the bbolt file at path and starts a sweep that
// deletes expired entries every minute until Close. now nil means time.Now.
func OpenBolt(path string, now func() time.Time) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// The freelist is not written on every commit (it is rebuilt from the
	// pages on open): a commit of a few small writes then writes a few
	// pages, not the freelist too. Durability of the data is unchanged.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (is another fedgate using the same data directory?)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	})
	if err != nil {
		_ = db.Close() // the bucket error is the one worth reporting
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	b := &Bolt{
		db: db, now: orNow(now), writes: make(chan *write),
		stop: make(chan struct{}), done: make(chan struct{}), wdone: make(chan struct{}),
		localWatch: newLocalWatch(),
	}
	go b.sweepLoop()
	go b.writeLoop()
	return b, nil
}

func (b *Bolt) sweepLoop() {
	defer close(b.done)
	t := time.NewTicker(sweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			// A failed sweep is retried on the next tick; entries past expiry are
			// invisible to readers meanwhile, so nothing depends on it succeeding.
			_, _ = b.sweep()
		}
	}
}

// sweep deletes expired entries in batches and returns how many it removed. Each
// batch is found in a read transaction, resuming after the previous batch rather
// than from the first key, so the scan holds no writer lock (commits waited for it:
// 16 ms a minute with 200k live keys) and scans each key once; the write
// transaction deletes only what is still expired, and none is made (no fsync) when
// nothing expired.
func (b *Bolt) sweep() (int, error) {
	total := 0
	var next []byte // where the next batch's scan starts; nil: from the first key
	for {
		var expired [][]byte
		err := b.db.View(func(tx *bolt.Tx) error {
			now := b.now()
			c := tx.Bucket(bucketName).Cursor()
			k, v := c.First()
			if next != nil {
				k, v = c.Seek(next)
			}
			for ; k != nil && len(expired) < sweepBatch; k, v = c.Next() {
				if exp, _, err := decode(v); err != nil || !live(exp, now) {
					expired = append(expired, clone(k)) // keys are only valid inside the tx
				}
			}
			next = nil
			if k != nil {
				next = clone(k)
			}
			return nil
		})
		if err == nil && len(expired) > 0 {
			n := 0
			err = b.db.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket(bucketName)
				now := b.now()
				n = 0
				for _, k := range expired {
					// Gone or written again since the scan: not ours to delete.
					raw := bk.Get(k)
					if exp, _, err := decode(raw); raw == nil || (err == nil && live(exp, now)) {
						continue
					}
					if err := bk.Delete(k); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err == nil {
				total += n
			}
		}
		if err != nil {
			return total, b.wrap("sweep", err)
		}
		if next == nil {
			return total, nil
		}
	}
}

func (b *Bolt) wrap(op string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// update runs fn through the group commit (see commit.go) and waits for the result.
func (b *Bolt) update(ctx context.Context, op, key string, fn writeFunc) error {
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	if err := checkKey(op, key); err != nil {
		return err
	}
	w := &write{fn: fn, done: make(chan error, 1)}
	select {
	case b.writes <- w:
	case <-b.stop:
		return b.wrap(op, ErrClosed)
	}
	err := <-w.done
	if err != nil && !isOwn(err) {
		return b.wrap(op, err)
	}
	return err
}

// isOwn reports errors this package already wrapped, so they are not wrapped twice.
func isOwn(err error) bool {
	return errors.Is(err, ErrInvalidArgument) || errors.Is(err, ErrNotCounter)
}

// getLive returns the live value at key (aliasing bbolt memory: valid only inside the tx).
func getLive(bk *bolt.Bucket, key string, now time.Time) ([]byte, bool, error) {
	raw := bk.Get([]byte(key))
	if raw == nil {
		return nil, false, nil
	}
	exp, v, err := decode(raw)
	if err != nil {
		return nil, false, err
	}
	return v, live(exp, now), nil
}

// The write functions below assign their results rather than accumulate them, and the
// callers read them only after the commit: a result is never published for a write
// that did not become durable.

func (b *Bolt) Claim(ctx context.Context, key string, expiry time.Time) (bool, error) {
	claimed := false
	err := b.update(ctx, "claim", key, func(bk *bolt.Bucket, now time.Time) (bool, error) {
		claimed = false
		if err := checkClaim(key, expiry, now); err != nil {
			return false, err
		}
		_, ok, err := getLive(bk, key, now)
		if err != nil || ok {
			return false, err // a lost Claim writes nothing
		}
		if err := bk.Put([]byte(key), encode(expiry, nil)); err != nil {
			return false, err
		}
		claimed = true
		return true, nil
	})
	return claimed && err == nil, err
}

func (b *Bolt) Incr(ctx context.Context, key string, window time.Duration) (int64, error) {
	var n int64
	err := b.update(ctx, "incr", key, func(bk *bolt.Bucket, now time.Time) (bool, error) {
		n = 0
		if err := checkIncr(key, window); err != nil {
			return false, err
		}
		raw := bk.Get([]byte(key))
		expiry, cur, ok := now.Add(window), []byte(nil), false
		if raw != nil {
			exp, v, err := decode(raw)
			if err != nil {
				return false, err
			}
			if live(exp, now) {
				expiry, cur, ok = exp, v, true
			}
		}
		next, err := nextCounter(cur, ok)
		if err != nil {
			return false, err
		}
		if err := bk.Put([]byte(key), encode(expiry, strconv.AppendInt(nil, next, 10))); err != nil {
			return false, err
		}
		n = next
		return true, nil
	})
	return n, err
}

func (b *Bolt) Decr(ctx context.Context, key string) (int64, error) {
	var n int64
	err := b.update(ctx, "decr", key, func(bk *bolt.Bucket, now time.Time) (bool, error) {
		n = 0
		raw := bk.Get([]byte(key))
		if raw == nil {
			return false, nil
		}
		exp, v, err := decode(raw)
		if err != nil || !live(exp, now) {
			return false, err
		}
		prev, err := prevCounter(v)
		if err != nil {
			return false, err
		}
		n = prev
		if string(v) == "0" {
			return false, nil // nothing to give back
		}
		return true, bk.Put([]byte(key), encode(exp, strconv.AppendInt(nil, prev, 10)))
	})
	return n, err
}

func (b *Bolt) Put(ctx context.Context, key string, value []byte, expiry time.Time) error {
	err := b.update(ctx, "put", key, func(bk *bolt.Bucket, _ time.Time) (bool, error) {
		enc := encode(expiry, value)
		if bytes.Equal(bk.Get([]byte(key)), enc) {
			return false, nil
		}
		return true, bk.Put([]byte(key), enc)
	})
	// Told even when the commit failed: a commit that failed at its fsync
	// may still be what reads see, and a needless notice only drops a
	// cache entry.
	b.localWatch.changed(key)
	return err
}

func (b *Bolt) Get(ctx context.Context, key string) ([]byte, error) {
	if err := ctxErr(ctx, "get"); err != nil {
		return nil, err
	}
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		v, ok, err := getLive(tx.Bucket(bucketName), key, b.now())
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		out = clone(v)
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, b.wrap("get", err)
	}
	return out, nil
}

// Keys walks the keys under prefix in one read transaction (bbolt keeps
// them sorted).
func (b *Bolt) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := ctxErr(ctx, "keys"); err != nil {
		return nil, err
	}
	if err := checkKey("keys", prefix); err != nil {
		return nil, err
	}
	var keys []string
	now, p := b.now(), []byte(prefix)
	err := b.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketName).Cursor()
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			exp, _, err := decode(v)
			if err != nil {
				return err
			}
			if live(exp, now) {
				keys = append(keys, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, b.wrap("keys", err)
	}
	return keys, nil
}

// Delete checks in a read transaction first: the usual caller clears a failure counter
// that does not exist, and that should cost neither a commit nor a place in the queue.
func (b *Bolt) Delete(ctx context.Context, key string) error {
	if err := ctxErr(ctx, "delete"); err != nil {
		return err
	}
	if err := checkKey("delete", key); err != nil {
		return err
	}
	var present bool
	err := b.db.View(func(tx *bolt.Tx) error {
		present = tx.Bucket(bucketName).Get([]byte(key)) != nil
		return nil
	})
	if err != nil {
		return b.wrap("delete", err)
	}
	if !present {
		return nil
	}
	err = b.update(ctx, "delete", key, func(bk *bolt.Bucket, _ time.Time) (bool, error) {
		if bk.Get([]byte(key)) == nil {
			return false, nil
		}
		return true, bk.Delete([]byte(key))
	})
	b.localWatch.changed(key) // as in Put
	return err
}

func (b *Bolt) Ping(ctx context.Context) error {
	if err := ctxErr(ctx, "ping"); err != nil {
		return err
	}
	err := b.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketName) == nil {
			return errors.New("bucket missing")
		}
		return nil
	})
	if err != nil {
		return b.wrap("ping", err)
	}
	return nil
}

// Close stops the sweep and the writer, waits for both (a write the writer has taken
// is committed first), and closes the file. Later calls return nil.
func (b *Bolt) Close() error {
	var err error
	b.once.Do(func() {
		b.localWatch.close()
		close(b.stop)
		<-b.done
		<-b.wdone
		if cerr := b.db.Close(); cerr != nil {
			err = fmt.Errorf("store: close: %w", cerr)
		}
	})
	return err
}

func encode(expiry time.Time, value []byte) []byte {
	out := make([]byte, headerLen, headerLen+len(value))
	out[0] = headerVersion
	if !expiry.IsZero() {
		binary.BigEndian.PutUint64(out[1:headerLen], uint64(expiry.UnixNano()))
	}
	return append(out, value...)
}

// errCorrupt means a value without a valid header: a damaged file or a foreign writer.
var errCorrupt = errors.New("corrupt value header")

func decode(raw []byte) (expiry time.Time, value []byte, err error) {
	if len(raw) < headerLen || raw[0] != headerVersion {
		return time.Time{}, nil, errCorrupt
	}
	if ns := int64(binary.BigEndian.Uint64(raw[1:headerLen])); ns != 0 {
		expiry = time.Unix(0, ns)
	}
	return expiry, raw[headerLen:], nil
}

package store

import bolt "go.etcd.io/bbolt"

// Sweep runs one sweep now, so tests need not wait for the minute ticker.
func (b *Bolt) Sweep() (int, error) { return b.sweep() }

// TxID is the id of the last committed write transaction: it grows by one per commit.
func (b *Bolt) TxID() (int, error) {
	id := 0
	err := b.db.View(func(tx *bolt.Tx) error { id = tx.ID(); return nil })
	return id, err
}

package store

import (
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds one group commit, as bbolt's own MaxBatchSize does.
const maxBatch = 1000

// maxTogether is the most writes one request makes at once (a code claim, the
// client's counter cleared and the address's given back): a commit no larger may
// have been one idle request's.
const maxTogether = 3

// writeFunc is one store write inside a shared transaction. It makes at most one
// mutation, as its last step, and reports whether it made one; so a write that fails
// leaves nothing behind, and the others in its transaction still commit.
type writeFunc func(bk *bolt.Bucket, now time.Time) (changed bool, err error)

type write struct {
	fn   writeFunc
	done chan error // buffered: the writer never waits for a caller
}

// writeLoop is the group commit. It takes one write, then every write already waiting
// (those that queued during the previous fsync), and commits them in one transaction.
// A lone write is committed at once: unlike bolt.DB.Batch there is no delay to wait
// for company, so batching costs no latency when the store is idle.
func (b *Bolt) writeLoop() {
	defer close(b.wdone)
	batch := make([]*write, 0, maxBatch)
	prev := 0 // the size of the last commit
	for {
		select {
		case <-b.stop:
			return
		case w := <-b.writes:
			batch = append(batch[:0], w)
		}
		batch = b.gather(batch)
		if len(batch) == 1 && prev <= maxTogether {
			// Alone after a small commit, so the store looks idle: let
			// writers that are runnable right now (a request's writes made at
			// once) reach the channel, so they join this commit rather than
			// wait for the next. Not a timed wait: with nothing runnable, the
			// write is committed at once. Not after a large commit: the store
			// is busy, writers queue during each commit anyway, and a yield
			// puts this goroutine at the back of the global run queue behind
			// the busy requests (10-17 ms a commit measured with the cores
			// signing tokens, as long as the commit itself).
			runtime.Gosched()
			batch = b.gather(batch)
		}
		prev = len(batch)
		b.commit(batch)
	}
}

// gather adds the writes already waiting to batch, up to maxBatch.
func (b *Bolt) gather(batch []*write) []*write {
	for len(batch) < maxBatch {
		select {
		case w := <-b.writes:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

// commit runs each write once in one transaction and tells each caller only after
// the commit: an acknowledged write is durable, and a failed commit fails every write
// in it. A transaction in which nothing changed is rolled back, which spares the
// fsync a commit would pay even with no dirty page.
func (b *Bolt) commit(batch []*write) {
	errs := make([]error, len(batch))
	err := func() error {
		tx, err := b.db.Begin(true)
		if err != nil {
			return err
		}
		// Ends the transaction when nothing changed, or when Commit failed part way;
		// after a successful Commit it is a no-op.
		defer func() { _ = tx.Rollback() }()
		bk := tx.Bucket(bucketName)
		changed := false
		for i, w := range batch {
			c, err := w.fn(bk, b.now())
			errs[i] = err
			changed = changed || (c && err == nil)
		}
		if !changed {
			return nil
		}
		return tx.Commit()
	}()
	for i, w := range batch {
		if errs[i] == nil {
			errs[i] = err
		}
		w.done <- errs[i]
	}
}

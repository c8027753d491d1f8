package store

import (
	"context"
	"sync"
)

// localWatch is Watcher for a store whose every write is made by this
// process (memory, bolt): a write tells each watcher its key before it
// returns to its caller, so a cache fed by it is never behind an
// acknowledged write. Reads of these stores cost no round trip, but they
// do cost a lock (bolt: a read transaction) that every proxied request
// would otherwise take.
type localWatch struct {
	mu       sync.Mutex
	watchers map[*func(string)]struct{}
	closed   chan struct{} // closed by the store's Close: every Watch returns
	once     sync.Once
}

func newLocalWatch() localWatch {
	return localWatch{watchers: map[*func(string)]struct{}{}, closed: make(chan struct{})}
}

// Watch implements Watcher. reset is called once the watcher is
// registered: writes made before then were not told to it. Nothing is
// ever lost in between.
func (w *localWatch) Watch(ctx context.Context, changed func(key string), _, reset func()) {
	w.mu.Lock()
	w.watchers[&changed] = struct{}{}
	w.mu.Unlock()
	reset()
	select {
	case <-ctx.Done():
	case <-w.closed:
	}
	w.mu.Lock()
	delete(w.watchers, &changed)
	w.mu.Unlock()
}

// changed tells every watcher that key was written. The callbacks run with
// w.mu held: they must not write to the store (the replica of sign-outs only
// adds an id).
func (w *localWatch) changed(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for f := range w.watchers {
		(*f)(key)
	}
}

// close ends every Watch.
func (w *localWatch) close() { w.once.Do(func() { close(w.closed) }) }

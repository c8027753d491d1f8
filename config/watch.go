package config

import (
	"context"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports when any config or policy file changes. It watches the
// directories, not the files: editors and config managers replace files.
type Watcher struct {
	fs *fsnotify.Watcher
	C  chan struct{} // receives (coalesced) after a burst of changes settles

	mu    sync.Mutex
	files map[string]bool
	dirs  map[string]bool
}

// NewWatcher watches the given files.
func NewWatcher(files []string) (*Watcher, error) {
	fs, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &Watcher{fs: fs, C: make(chan struct{}, 1), dirs: map[string]bool{}}
	if err := w.Track(files); err != nil {
		fs.Close()
		return nil, err
	}
	return w, nil
}

// Track replaces the set of watched files (a reload may add policy files).
func (w *Watcher) Track(files []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = map[string]bool{}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		w.files[abs] = true
		if d := filepath.Dir(abs); !w.dirs[d] {
			if err := w.fs.Add(d); err != nil {
				return err
			}
			w.dirs[d] = true
		}
	}
	return nil
}

func (w *Watcher) relevant(name string) bool {
	abs, err := filepath.Abs(name)
	if err != nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// A new policy file matching a glob is not tracked yet; YAML files in a
	// watched directory count too.
	ext := filepath.Ext(abs)
	return w.files[abs] || ext == ".yaml" || ext == ".yml"
}

// Run delivers change notifications until ctx ends. debounce coalesces the
// several events one save produces.
func (w *Watcher) Run(ctx context.Context, debounce time.Duration) {
	defer w.fs.Close()
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if w.relevant(ev.Name) {
				timer = time.After(debounce)
			}
		case <-w.fs.Errors:
			// Overflow or a removed directory: reloading is the safe answer.
			timer = time.After(debounce)
		case <-timer:
			timer = nil
			select {
			case w.C <- struct{}{}:
			default:
			}
		}
	}
}

package saml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// One metadata source for both sides: SP metadata of our IdP's apps
// (apps[].saml.metadata_url) and IdP metadata of our SAML upstreams
// (upstreams[].metadata_url) are fetched, checked, cached and refreshed
// here; cmd only wires them.

const (
	metaTimeout        = 10 * time.Second
	defaultMetaRefresh = time.Hour
	minMetaRefresh     = time.Minute
	// MaxMetadataFile bounds a fetched metadata document.
	MaxMetadataFile = 1 << 20
)

// MetadataSource is a peer's metadata at a URL (metadata_url). The last
// good copy is kept in Cache; the config watcher tracks that file, so
// writing a changed copy there reloads the config like any edited file.
type MetadataSource struct {
	// Kind ("SP", "IdP"), Key ("app", "upstream") and Name say whose
	// metadata it is, in logs.
	Kind, Key, Name string
	URL             string
	Cache           string        // data_dir/<kind>-metadata/<name>-<url hash>.xml
	Every           time.Duration // metadata_refresh
	// Check accepts a document only if it makes an SP that the app's
	// config and the IdP accept: a document that parses but would refuse
	// every reload never becomes the last good copy.
	Check func([]byte) error
}

// NewMetadataSource validates a metadata_url and metadata_refresh (zero:
// 1h) for kind's name, caching under dataDir. Plain http is only for tests:
// a loopback host with insecureHTTP.
func NewMetadataSource(kind, key, name, rawURL string, every time.Duration, dataDir string, insecureHTTP bool, check func([]byte) error) (MetadataSource, error) {
	var errs []error
	u, err := url.Parse(rawURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("metadata_url %q is not an absolute https URL", rawURL))
	case u.Scheme == "http" && !(insecureHTTP && isLoopback(u.Hostname())):
		errs = append(errs, fmt.Errorf("metadata_url %q: use https (plain http only to a loopback host with server.insecure_http)", rawURL))
	}
	if every == 0 {
		every = defaultMetaRefresh
	}
	if every < minMetaRefresh {
		errs = append(errs, fmt.Errorf("metadata_refresh %v: at least 1m", every))
	}
	if dataDir == "" {
		errs = append(errs, errors.New("metadata_url needs data_dir (where the last good copy is kept)"))
	}
	// The URL's hash in the name: a changed metadata_url never serves the
	// old URL's copy.
	sum := sha256.Sum256([]byte(rawURL))
	cache := filepath.Join(dataDir, strings.ToLower(kind)+"-metadata", name+"-"+hex.EncodeToString(sum[:4])+".xml")
	return MetadataSource{Kind: kind, Key: key, Name: name, URL: rawURL, Cache: cache, Every: every, Check: check}, errors.Join(errs...)
}

// shown is the URL as logs and errors show it: without its query, which
// some vendors use for an access token.
func (s MetadataSource) shown() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	u.User = nil
	return u.String()
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// Load is the cached copy if there is a usable one, else the document
// fetched now (and cached when write: serve writes, check never does). The
// refresher keeps the cached copy current.
func (s MetadataSource) Load(ctx context.Context, c *http.Client, write bool) ([]byte, error) {
	if data, err := os.ReadFile(s.Cache); err == nil && s.Check(data) == nil {
		return data, nil
	}
	data, err := s.fetch(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("metadata_url: no cached copy, and %w", err)
	}
	if write {
		if err := writeFileAtomic(s.Cache, data); err != nil {
			return nil, fmt.Errorf("metadata_url: caching: %w", err)
		}
	}
	return data, nil
}

// fetch GETs the document: at most MaxMetadataFile bytes in metaTimeout,
// and only if Check accepts it.
func (s MetadataSource) fetch(ctx context.Context, c *http.Client) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, metaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml;q=0.9, */*;q=0.1")
	resp, err := c.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		ue.URL = s.shown()
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.shown(), resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxMetadataFile+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("GET %s: %w", s.shown(), err)
	case len(data) > MaxMetadataFile:
		return nil, fmt.Errorf("GET %s: larger than %d bytes", s.shown(), MaxMetadataFile)
	}
	if err := s.Check(data); err != nil {
		return nil, fmt.Errorf("GET %s: not usable %s metadata: %w", s.shown(), s.Kind, err)
	}
	return data, nil
}

// Refresh fetches the document and, if it changed, replaces the cached copy.
func (s MetadataSource) Refresh(ctx context.Context, c *http.Client) (changed bool, err error) {
	data, err := s.fetch(ctx, c)
	if err != nil {
		return false, err
	}
	if old, err := os.ReadFile(s.Cache); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	return true, writeFileAtomic(s.Cache, data)
}

// MetadataClient may follow a redirect only on the same host and never
// from https to http. rt is the transport (nil: the default).
func MetadataClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, Timeout: metaTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			prev := via[len(via)-1].URL
			if len(via) >= 3 || req.URL.Host != prev.Host || (prev.Scheme == "https" && req.URL.Scheme != "https") {
				return fmt.Errorf("refusing redirect from %s to %s%s", prev.Host, req.URL.Host, req.URL.Path)
			}
			return nil
		}}
}

// writeFileAtomic writes data to path (mode 0600) by a rename, so readers
// and the watcher see the old or the new file, never half of one.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// MetadataRefresher fetches every metadata_url again when it is due. A
// changed document goes to its cache file (the watcher then reloads); a
// failed fetch keeps the last good copy and is logged.
type MetadataRefresher struct {
	Client *http.Client
	Logger *slog.Logger
	Tick   time.Duration // how often it looks for due sources

	mu  sync.Mutex
	due map[string]dueSource // by cache file
}

type dueSource struct {
	src MetadataSource
	at  time.Time
}

// Set replaces the sources (after each reload). A new one is due when its
// cached copy is older than its refresh interval.
func (r *MetadataRefresher) Set(srcs []MetadataSource) {
	r.mu.Lock()
	defer r.mu.Unlock()
	due := map[string]dueSource{}
	for _, s := range srcs {
		d, ok := r.due[s.Cache]
		if !ok || d.src.URL != s.URL || d.src.Every != s.Every {
			d.at = time.Now()
			if st, err := os.Stat(s.Cache); err == nil {
				d.at = st.ModTime().Add(s.Every)
			}
		}
		d.src = s // the new config's check
		due[s.Cache] = d
	}
	r.due = due
}

// Run refreshes until ctx ends.
func (r *MetadataRefresher) Run(ctx context.Context) {
	tick := time.NewTicker(r.Tick)
	defer tick.Stop()
	for {
		r.refreshDue(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (r *MetadataRefresher) refreshDue(ctx context.Context) {
	now := time.Now()
	var todo []MetadataSource
	r.mu.Lock()
	for key, d := range r.due {
		if !now.Before(d.at) {
			todo = append(todo, d.src)
			d.at = now.Add(d.src.Every)
			r.due[key] = d
		}
	}
	r.mu.Unlock()
	for _, s := range todo {
		changed, err := s.Refresh(ctx, r.Client)
		switch {
		case err != nil && ctx.Err() == nil:
			r.Logger.Warn(s.Kind+" metadata refresh failed; keeping the last good copy", s.Key, s.Name, "url", s.shown(), "err", err)
		case changed:
			r.Logger.Info(s.Kind+" metadata changed; reloading", s.Key, s.Name, "url", s.shown())
		}
	}
}

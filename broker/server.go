package broker

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgate/fedgate/broker/device"
	"github.com/fedgate/fedgate/broker/keys"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// Server is the broker's HTTP side. Its dependencies are exported fields; the
// configuration and everything derived from it sit in an immutable Snapshot
// that a reload swaps atomically, so a request sees one config from start to end.
type Server struct {
	Deps
	pages       pages
	snap        atomic.Pointer[Snapshot]
	revocations *revocations
	guard       atomic.Pointer[stallGuard] // the listener's (stalls.go), if any

	transportMu sync.Mutex
	transports  map[string]http.RoundTripper // by CA file, kept across reloads
}

// Deps are what the server needs from outside; Now nil means time.Now.
type Deps struct {
	Logger  *slog.Logger
	Audit   *Auditor
	Metrics *Metrics
	Store   store.Store
	Now     func() time.Time
}

// Snapshot is one config and what was built from it.
type Snapshot struct {
	Config    *config.Config
	upstreams []upstreamEntry // in config order, for the chooser
	byID      map[string]upstreamEntry
	owners    map[string]string // domain → the upstream owning its names (identity.go)
	apps      map[string]*config.App
	sealer    *sealer
	vaultKeys vaultKeys // the MFA vault's (mfavault.go)
	theme     []byte
	logo      []byte
	logoType  string
	proxy     *proxy.Proxy // nil without proxy apps
	// formOrigins are the app origins a sign-in may redirect to (CSP).
	formOrigins string
	sessions    *sessionCache
	signing     *signingKeys
	assertions  *assertionCache
	headerPlans map[string]headerPlan // per proxy/forward_auth app
	trust       proxy.Trust
	downstreams []protocols.Downstream
	protoMux    *http.ServeMux // the downstreams' endpoints
	devices     []*device.Profile
}

// sessionCacheSize bounds the opened-cookie cache's entries, as
// sessionCacheBytes bounds its bytes (sessioncache.go): what signed-in
// users cost in memory is this bound, however many there are. Past it, a
// cookie is opened again (tens of microseconds).
// Measured with 10,000 users cycling (issue 17): RSS grew 1.59x over one
// user with 4,096 entries, 1.34x with 2,048, 1.15x with 1,024; a busy
// proxied app's few hundred active cookies still all fit.
const sessionCacheSize = 1024

type upstreamEntry struct {
	protocols.Upstream
	name    string
	domains []string
}

// NewSnapshot derives the broker's state from cfg, its cookie keys and the
// built upstreams (one per cfg.Upstreams entry, same order).
func NewSnapshot(cfg *config.Config, cookieKeys []keys.CookieKey, built []protocols.Upstream) (*Snapshot, error) {
	pub, err := url.Parse(cfg.Server.PublicURL)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Config: cfg, byID: map[string]upstreamEntry{}, apps: map[string]*config.App{},
		headerPlans: map[string]headerPlan{},
		trust:       proxy.Trust{Proxies: cfg.Server.TrustedProxies, Header: cfg.Server.ClientIPHeader},
		sessions:    newSessionCache(sessionCacheSize), assertions: &assertionCache{m: map[assertionKey]cachedAssertion{}}}
	if s.sealer, err = newSealer(cookieKeys, pub.Scheme == "https", cfg.Session.Lifetime); err != nil {
		return nil, err
	}
	if s.vaultKeys, err = deriveVaultKeys(cookieKeys); err != nil {
		return nil, err
	}
	if len(built) != len(cfg.Upstreams) {
		return nil, fmt.Errorf("broker: %d upstreams built for %d configured", len(built), len(cfg.Upstreams))
	}
	for i, b := range cfg.Upstreams {
		e := upstreamEntry{Upstream: built[i], name: b.Name, domains: b.Domains}
		if e.name == "" {
			e.name = b.ID
		}
		s.upstreams = append(s.upstreams, e)
		s.byID[b.ID] = e
	}
	s.owners = domainOwners(s.upstreams)
	var origins []string
	for _, e := range s.upstreams {
		// A redirect upstream's IdP origin: the chooser's email form is
		// followed by a redirect there, and form-action covers redirects.
		if o, ok := e.Upstream.(interface{ RedirectOrigins() []string }); ok {
			origins = append(origins, o.RedirectOrigins()...)
		}
	}
	for i := range cfg.Apps {
		a := &cfg.Apps[i]
		s.apps[a.ID] = a
		if a.Type == "proxy" || a.Type == "forward_auth" {
			origins = append(origins, pub.Scheme+"://"+a.Host)
			s.headerPlans[a.ID] = newHeaderPlan(a)
		}
	}
	s.formOrigins = strings.Join(origins, " ")
	if s.devices, err = loadDevices(cfg); err != nil {
		return nil, err
	}
	if s.signing, err = loadSigningKeys(cfg); err != nil {
		return nil, err
	}
	// The colour was validated as #hex, so it is safe inside CSS.
	s.theme = []byte(":root { --brand: " + cfg.Branding.PrimaryColor + "; }\n")
	if f := cfg.Branding.LogoFile; f != "" {
		if s.logo, err = os.ReadFile(f); err != nil {
			return nil, fmt.Errorf("broker: branding logo: %w", err)
		}
		// By extension: content sniffing calls SVG text/xml, which <img> refuses.
		s.logoType = mime.TypeByExtension(filepath.Ext(f))
	}
	return s, nil
}

// NewServer makes a server serving snap.
func NewServer(d Deps, snap *Snapshot) (*Server, error) {
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	srv := &Server{Deps: d, pages: p, transports: map[string]http.RoundTripper{}}
	if srv.Now == nil {
		srv.Now = time.Now
	}
	// The cache follows the store's changes until the store is closed.
	srv.revocations = newRevocations(context.Background(), d.Store)
	if err := srv.Swap(snap); err != nil {
		return nil, err
	}
	return srv, nil
}

// Swap makes snap the config every new request sees; requests in flight
// finish with the one they started with. On error nothing changes.
func (b *Server) Swap(snap *Snapshot) error {
	if err := b.attachProxy(snap); err != nil {
		return err
	}
	b.attachDownstreams(snap)
	b.snap.Store(snap)
	return nil
}

// Current is the snapshot in force.
func (b *Server) Current() *Snapshot { return b.snap.Load() }

func (b *Server) now() time.Time { return b.Now() }

// Handler is the broker's HTTP interface: proxied app hosts first, then
// fedgate's own pages. An app host or the certificate host is answered
// with the snapshot it was recognised by (wrapped.serve); fedgate's own
// pages answer on every other host, so a reload in between changes
// nothing they were routed by.
func (b *Server) Handler() http.Handler {
	own := b.ownHandler()
	appHost := b.wrapProxied(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case callbackPath:
			b.appHostCallback(w, r)
		case signoutPath:
			b.appHostSignout(w, r)
		case startPath:
			b.forwardAuthStart(w, r)
		default:
			snapOf(r).proxy.ServeHTTP(w, r)
		}
	})
	certHost := b.wrap("device", b.certHost)
	route := func(w http.ResponseWriter, r *http.Request, snap *Snapshot) {
		switch {
		case isCertHost(snap, r):
			certHost.serve(w, r, snap)
		case snap.proxy != nil && snap.proxy.HasHost(r.Host):
			appHost.serve(w, r, snap)
		default:
			own.ServeHTTP(w, r)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := b.snap.Load()
		setReadDeadline(w, r, snap.Config.Server.Timeouts)
		if s := b.watchStream(w, r); s != nil {
			// Every answer on an HTTP/2 stream is watched, the mux's own
			// redirects too.
			defer s.end() // after a panic too: the server's writer is then its own again
			route(s, r, snap)
			s.flush()
			return
		}
		route(w, r, snap)
	})
}

// AdminHandler serves /metrics, /healthz and /readyz for an internal
// listener (server.admin_listen).
func (b *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", b.Metrics.Handler())
	mux.Handle("GET /healthz", b.wrap("healthz", b.healthz))
	mux.Handle("GET /readyz", b.wrap("readyz", b.readyz))
	return mux
}

func (b *Server) ownHandler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, name string, h http.HandlerFunc) { mux.Handle(pattern, b.wrap(name, h)) }
	route("GET /{$}", "home", b.home)
	route("GET /login", "login", b.loginPage)
	route("POST /login", "login", b.loginSubmit)
	route("POST /login/discover", "discover", b.discover)
	route("GET /callback/{upstream}", "callback", b.callback)
	route("POST /callback/{upstream}", "callback", b.callback)
	route("GET /upstream/{upstream}/metadata", "upstream-metadata", b.upstreamMetadata)
	route("GET /logout", "logout", b.logoutPage)
	route("POST /logout", "logout", b.logoutSubmit)
	route("GET /signed-out", "signed-out", b.signedOut)
	route("GET /apps/{app}/", "app", b.whoamiApp)
	route("GET /static/style.css", "static", staticFile("text/css", func(*Snapshot) []byte { return styleCSS }))
	route("GET /static/theme.css", "static", staticFile("text/css", func(s *Snapshot) []byte { return s.theme }))
	route("GET /static/logo", "static", func(w http.ResponseWriter, r *http.Request) {
		snap := snapOf(r)
		staticFile(snap.logoType, func(*Snapshot) []byte { return snap.logo })(w, r)
	})
	route("GET /mfa", "mfa", b.mfaStart)
	route("GET /mfa/continue", "mfa", b.mfaContinue)
	route("GET /mfa/enrol", "mfa-enrol", b.mfaEnrolStart)
	route("GET /mfa/enrol/{method}", "mfa-enrol", b.mfaEnrolPage)
	route("POST /mfa/enrol/{method}", "mfa-enrol", b.mfaEnrolSubmit)
	route("GET /mfa/{method}", "mfa", b.mfaChallenge)
	route("POST /mfa/{method}", "mfa", b.mfaAnswer)
	route("GET /auth/verify", "verify", b.verify)
	route("GET "+deviceDonePath, "device", b.deviceDone)
	route("GET /mfa/keys", "mfa-enrol", b.keysPage)
	route("POST /mfa/keys", "mfa-enrol", b.keysSubmit)
	route("GET /static/webauthn.js", "static", staticFile("text/javascript", func(*Snapshot) []byte { return webauthnJS }))
	route("GET /.well-known/jwks.json", "jwks", b.jwks)
	route("GET /healthz", "healthz", b.healthz)
	route("GET /readyz", "readyz", b.readyz)
	route("GET /metrics", "metrics", func(w http.ResponseWriter, r *http.Request) {
		// With an admin listener, metrics are served there only.
		if snapOf(r).Config.Server.AdminListen != "" {
			b.fail(w, r, snapOf(r), http.StatusNotFound, "err.notfound", nil)
			return
		}
		b.Metrics.Handler().ServeHTTP(w, r)
	})
	route("/", "protocol", func(w http.ResponseWriter, r *http.Request) {
		snap := snapOf(r)
		if snap.protoMux != nil {
			// ServeHTTP, not the handler Handler returns: only ServeHTTP
			// fills in the path values (/saml/sso/{app}).
			if _, pattern := snap.protoMux.Handler(r); pattern != "" {
				snap.protoMux.ServeHTTP(w, r)
				return
			}
		}
		b.fail(w, r, snap, http.StatusNotFound, "err.notfound", nil)
	})
	return mux
}

func staticFile(ctype string, body func(*Snapshot) []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data := body(snapOf(r))
		if len(data) == 0 {
			http.NotFound(w, r)
			return
		}
		if ctype == "" {
			ctype = http.DetectContentType(data)
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(data)
	}
}

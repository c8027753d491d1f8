// Package config turns fedgate's YAML file into a typed, validated, immutable
// *Config. Decoding is strict (unknown keys are errors with a did-you-mean),
// every problem is reported at once with file:line:col, and defaults live in
// one place (Defaults). Upstream blocks stay raw: the package that owns an
// upstream type decodes its Block.
package config

import (
	"net/netip"
	"slices"
	"time"

	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
)

// Config is one complete, validated configuration. Treat it as immutable.
type Config struct {
	Server    Server   `yaml:"server"`
	DataDir   string   `yaml:"data_dir"`
	Keys      Keys     `yaml:"keys"`
	Session   Session  `yaml:"session"`
	Store     Store    `yaml:"store"`
	Audit     Audit    `yaml:"audit"`
	Log       Log      `yaml:"log"`
	Branding  Branding `yaml:"branding"`
	Throttle  Throttle `yaml:"throttle"`
	Upstreams []Block  `yaml:"upstreams"`
	Apps      []App    `yaml:"apps"`
	// AppFiles are globs of files that each hold a list of apps, as under
	// apps: (what `fedgate import adfs` writes, one file per app).
	AppFiles  []string  `yaml:"app_files"`
	Policies  []string  `yaml:"policies"`
	Discovery Discovery `yaml:"discovery"`
	UserNames UserNames `yaml:"user_names"`
	// Compat "adfs" answers where ADFS did: /adfs/ls/ for WS-Fed and SAML
	// (and FederationMetadata.xml, as always), so apps keep their settings.
	Compat  string   `yaml:"compat"`
	Devices []Device `yaml:"devices"`
	MFA     MFA      `yaml:"mfa"`

	// Path is the file the config came from; Files are every file it read
	// (for the reload watcher). PolicySet holds the compiled policies.
	// Warnings are what is allowed but almost certainly a mistake:
	// `fedgate check` prints them, serve logs them.
	Path      string      `yaml:"-"`
	Files     []string    `yaml:"-"`
	PolicySet *policy.Set `yaml:"-"`
	Warnings  []error     `yaml:"-"`
	// fragments are the app_files apps were read from, in c.Apps order
	// after the inline ones, so that problems point into them.
	fragments []fragment
	// Digest identifies the files (and keys) this config was built from, so
	// that replicas of a fleet can be compared (check and /readyz show it).
	Digest string `yaml:"-"`
}

// Server is how fedgate listens.
type Server struct {
	PublicURL string `yaml:"public_url"`
	Listen    string `yaml:"listen"`
	// AdminListen, if set, serves /metrics (then only there), /healthz and
	// /readyz over plain HTTP: keep it on an internal address. Needs a restart.
	AdminListen string `yaml:"admin_listen"`
	// InsecureHTTP allows plain HTTP: for the quickstart on loopback or behind a
	// TLS-terminating proxy. Without it, TLS is required.
	InsecureHTTP   bool           `yaml:"insecure_http"`
	TLS            TLS            `yaml:"tls"`
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
	// ClientIPHeader is the one header trusted proxies write the client's
	// address in: X-Forwarded-For (default) or Forwarded.
	ClientIPHeader string `yaml:"client_ip_header"`
	// Issuer is fedgate's entity id as a SAML IdP and WS-Fed STS (default
	// per protocol: <public_url>/saml/metadata, <public_url>/wsfed); an
	// ADFS farm's http://<fs>/adfs/services/trust keeps its apps' trust.
	Issuer   string   `yaml:"issuer"`
	Timeouts Timeouts `yaml:"timeouts"`
	// CertHost is the host name on which fedgate asks browsers for a
	// device certificate (devices.go); ClientCertHeader is where a trusted
	// TLS terminator forwards it.
	CertHost         string `yaml:"cert_host"`
	ClientCertHeader string `yaml:"client_cert_header"`
}

// TLS is where the certificate comes from: files (reloaded when they
// change) or an ACME CA. Exactly one of the two.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	ACME     *ACME  `yaml:"acme"`
}

// ACME obtains and renews certificates for public_url's host and every proxy
// app host, storing them (and the per-name locks) in the state store so that
// one replica of a fleet orders each certificate.
type ACME struct {
	// DirectoryURL defaults to Let's Encrypt's production directory.
	DirectoryURL string `yaml:"directory_url"`
	Email        string `yaml:"email"`
	// CAFile is a PEM bundle to trust for the directory's HTTPS (a private CA).
	CAFile string `yaml:"ca_file"`
	// EAB is the external account binding commercial CAs (ZeroSSL, Sectigo,
	// Google) require.
	EAB *EAB `yaml:"eab"`
	// Challenges to offer: http-01 (needs HTTPListen reachable on port 80
	// as the host name) and tls-alpn-01 (answered on server.listen, which
	// must then be reachable on port 443). Default both.
	Challenges []string `yaml:"challenges"`
	// HTTPListen answers HTTP-01 challenges and redirects everything else to
	// https. Default ":80".
	HTTPListen string `yaml:"http_listen"`
}

// EAB is an ACME external account binding: a key id and its base64url HMAC key.
type EAB struct {
	KeyID   string           `yaml:"key_id"`
	HMACKey protocols.Secret `yaml:"hmac_key"`
}

// Timeouts bound every phase of a request and of shutdown.
type Timeouts struct {
	ReadHeader time.Duration `yaml:"read_header"`
	Read       time.Duration `yaml:"read"`
	Write      time.Duration `yaml:"write"`
	Idle       time.Duration `yaml:"idle"`
	Shutdown   time.Duration `yaml:"shutdown"`
	Upstream   time.Duration `yaml:"upstream"`
}

// Keys names key files. Cookie: the first key encodes, all decode (rotation).
type Keys struct {
	Cookie  []string     `yaml:"cookie"`
	Signing []SigningKey `yaml:"signing"`
}

// SigningKey is one signing key file; Status "next" publishes it before use.
type SigningKey struct {
	File   string `yaml:"file"`
	Status string `yaml:"status"`
}

// Session bounds the browser session.
type Session struct {
	Lifetime time.Duration `yaml:"lifetime"`
	Idle     time.Duration `yaml:"idle"`
}

// Store selects where single-use markers and enrolments live.
type Store struct {
	Bolt   string `yaml:"bolt"`
	Memory bool   `yaml:"memory"`
	Redis  *Redis `yaml:"redis"`
}

// Redis is a store shared by a fleet of replicas.
type Redis struct {
	// Addr is one node: host:port, or a redis:// or rediss:// (TLS) URL. Addrs lists several: Sentinels when MasterName is set,
	// else Cluster nodes.
	Addr       string   `yaml:"addr"`
	Addrs      []string `yaml:"addrs"`
	MasterName string   `yaml:"master_name"`
	// Username and Password are the ACL user; Password may be "${ENV}" or
	// "file:/path".
	Username string           `yaml:"username"`
	Password protocols.Secret `yaml:"password"`
	DB       int              `yaml:"db"`
	// TLS turns on TLS for host:port addresses; CAFile trusts a private CA.
	TLS    bool   `yaml:"tls"`
	CAFile string `yaml:"ca_file"`
	// Prefix namespaces every key, so deployments can share a Redis.
	Prefix string `yaml:"prefix"`
	// Timeout bounds each command; past it the store counts as down.
	Timeout time.Duration `yaml:"timeout"`
}

// Audit says where audit events go: "-" or "stdout", or a file path.
type Audit struct {
	File string `yaml:"file"`
}

// Log configures operational logs (stderr).
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// Branding customises the pages.
type Branding struct {
	Name         string `yaml:"name"`
	LogoFile     string `yaml:"logo_file"`
	PrimaryColor string `yaml:"primary_color"`
	HelpText     Text   `yaml:"help_text"`
}

// Text is a message in English and Japanese.
type Text struct {
	En string `yaml:"en"`
	Ja string `yaml:"ja"`
}

// Throttle limits failed sign-ins per user and per client IP.
type Throttle struct {
	MaxFailures int `yaml:"max_failures"`
	// MaxFailuresPerIP is higher: a whole office may share one address.
	MaxFailuresPerIP int           `yaml:"max_failures_per_ip"`
	Window           time.Duration `yaml:"window"`
}

// Discovery is home-realm discovery: which upstream a user is sent to.
type Discovery struct {
	// RememberFor keeps the chosen upstream in a cookie; 0 disables.
	RememberFor time.Duration `yaml:"remember_for"`
}

// UserNames says which upstream owns which user names. A name in a domain
// belongs to the upstream listing that domain under domains:.
type UserNames struct {
	// DefaultOwner is the upstream whose names without a domain ("alice")
	// are passed on as they are; every other upstream's are qualified with
	// its id. With a single upstream, that one.
	DefaultOwner string `yaml:"default_owner"`
	// Shared lists groups of upstreams in front of the same directory
	// (Windows sign-in beside ADFS): the members own together what any of
	// them owns, so a person has one name whichever signs them in.
	Shared [][]string `yaml:"shared"`
}

// Same reports whether upstreams a and b own the same names: the same
// upstream, or members of one Shared group.
func (u UserNames) Same(a, b string) bool {
	if a == b {
		return true
	}
	for _, g := range u.Shared {
		if slices.Contains(g, a) && slices.Contains(g, b) {
			return true
		}
	}
	return false
}

// App is a downstream application. Type "whoami" is a page fedgate renders
// itself, showing the signed-in identity (for the quickstart and for
// diagnosing claims); protocol app types build on the same fields.
// Upstreams limits which upstreams may sign in to it.
type App struct {
	ID              string   `yaml:"id"`
	Type            string   `yaml:"type"`
	Name            string   `yaml:"name"`
	Policy          string   `yaml:"policy"`
	Upstreams       []string `yaml:"upstreams"`
	DefaultUpstream string   `yaml:"default_upstream"`

	// type: proxy — an app without SSO behind fedgate's reverse proxy.
	// type: forward_auth — the same, behind another reverse proxy (nginx
	// auth_request, Traefik ForwardAuth, Caddy forward_auth) that asks
	// fedgate's /auth/verify; it has no "to".
	Host       string   `yaml:"host"`        // host[:port] the browser uses for the app
	PathPrefix string   `yaml:"path_prefix"` // default "/"
	To         []string `yaml:"to"`          // backend URLs (round robin), or builtin:echo
	// PreserveHost sends the browser's Host to the backend; HostHeader sends
	// this one. Default: the backend URL's host.
	PreserveHost bool   `yaml:"preserve_host"`
	HostHeader   string `yaml:"host_header"`
	CAFile       string `yaml:"ca_file"` // PEM CAs for https backends (default: system)
	// Headers maps a header name to what it carries: username, upn, email,
	// name, groups, subject, upstream, or claim:<name>.
	Headers         map[string]string `yaml:"headers"`
	GroupsSeparator string            `yaml:"groups_separator"` // default ","
	// JWTAssertion names a header that carries a signed JWT about the user
	// (audience: the app's origin; verify with /.well-known/jwks.json).
	JWTAssertion string `yaml:"jwt_assertion"`

	// type: oidc | saml | wsfed — the protocol's own settings, under a key
	// named after the type, decoded strictly by the protocol's package.
	OIDC  *Block `yaml:"oidc"`
	SAML  *Block `yaml:"saml"`
	WSFed *Block `yaml:"wsfed"`
}

// Protocol is the app's protocol block, if its type has one.
func (a *App) Protocol() *Block {
	switch a.Type {
	case "oidc":
		return a.OIDC
	case "saml":
		return a.SAML
	case "wsfed":
		return a.WSFed
	}
	return nil
}

// Defaults fills every zero value that has a default. It is the only place
// defaults are defined.
func (c *Config) Defaults() {
	s := &c.Server
	if s.Listen == "" {
		s.Listen = ":8443"
	}
	if s.ClientIPHeader == "" {
		s.ClientIPHeader = "X-Forwarded-For"
	}
	if a := s.TLS.ACME; a != nil {
		if a.DirectoryURL == "" {
			a.DirectoryURL = "https://acme-v02.api.letsencrypt.org/directory"
		}
		if len(a.Challenges) == 0 {
			a.Challenges = []string{"http-01", "tls-alpn-01"}
		}
		if a.HTTPListen == "" {
			a.HTTPListen = ":80"
		}
	}
	t := &s.Timeouts
	setDur(&t.ReadHeader, 10*time.Second)
	setDur(&t.Read, 30*time.Second)
	setDur(&t.Write, 60*time.Second)
	setDur(&t.Idle, 120*time.Second)
	setDur(&t.Shutdown, 30*time.Second)
	setDur(&t.Upstream, 10*time.Second)
	setDur(&c.Session.Lifetime, 12*time.Hour)
	setDur(&c.Session.Idle, 2*time.Hour)
	if c.Audit.File == "" {
		c.Audit.File = "stdout"
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "json"
	}
	if c.Branding.Name == "" {
		c.Branding.Name = "fedgate"
	}
	if c.Branding.PrimaryColor == "" {
		c.Branding.PrimaryColor = "#1f4e8c"
	}
	if c.Throttle.MaxFailures == 0 {
		c.Throttle.MaxFailures = 5
	}
	if c.Throttle.MaxFailuresPerIP == 0 {
		c.Throttle.MaxFailuresPerIP = 4 * c.Throttle.MaxFailures
	}
	setDur(&c.Throttle.Window, 5*time.Minute)
	setDur(&c.Discovery.RememberFor, 30*24*time.Hour)
	setDur(&c.MFA.Enrol.Within, 10*time.Minute)
	if c.MFA.Issuer == "" {
		c.MFA.Issuer = c.Branding.Name
	}
	if r := c.Store.Redis; r != nil {
		setDur(&r.Timeout, 500*time.Millisecond)
		if r.Prefix == "" {
			r.Prefix = "fedgate:"
		}
	}
	for i := range c.Apps {
		a := &c.Apps[i]
		if (a.Type == "proxy" || a.Type == "forward_auth") && a.PathPrefix == "" {
			a.PathPrefix = "/"
		}
		if a.GroupsSeparator == "" {
			a.GroupsSeparator = ","
		}
	}
}

func setDur(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

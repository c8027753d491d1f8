package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

var (
	idPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	colorPattern = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
)

// domainPattern: a DNS name with at least one dot, so that no domain is
// ever an upstream id (ids qualify the names nobody owns).
var domainPattern = regexp.MustCompile(`(?i)^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validate checks what no single field can: cross-references and
// combinations. It returns every finding.
func (c *Config) validate() []finding {
	var out []finding
	add := func(path, hint, format string, args ...any) {
		out = append(out, finding{path: path, msg: fmt.Sprintf(format, args...), hint: hint})
	}
	c.validateServer(add)
	if len(c.Keys.Cookie) == 0 && c.DataDir == "" {
		add("$.keys", "run `fedgate keys generate --cookie FILE`, or set data_dir to generate keys on first run",
			"keys.cookie: no cookie key configured")
	}
	for i, k := range c.Keys.Signing {
		if k.Status != "" && k.Status != "active" && k.Status != "next" {
			add(fmt.Sprintf("$.keys.signing[%d].status", i), "use active or next", "unknown signing key status %q", k.Status)
		}
	}
	if c.Session.Idle > c.Session.Lifetime {
		add("$.session.idle", "the idle timeout must not exceed the lifetime", "session.idle %s exceeds session.lifetime %s", c.Session.Idle, c.Session.Lifetime)
	}
	c.validateStore(add)
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		add("$.log.level", "use debug, info, warn or error", "unknown log level %q", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		add("$.log.format", "use json or text", "unknown log format %q", c.Log.Format)
	}
	if !colorPattern.MatchString(c.Branding.PrimaryColor) {
		add("$.branding.primary_color", `a hex colour such as "#1f4e8c"`, "invalid colour %q", c.Branding.PrimaryColor)
	}
	if c.Throttle.MaxFailures < 1 {
		add("$.throttle.max_failures", "at least 1", "throttle.max_failures must be positive")
	}
	if c.Compat != "" && c.Compat != "adfs" {
		add("$.compat", "the one compatibility mode is adfs", "unknown compat %q", c.Compat)
	}
	if u, err := url.Parse(c.Server.Issuer); c.Server.Issuer != "" && (err != nil || !u.IsAbs()) {
		add("$.server.issuer", "an absolute URI such as http://fs.corp.example/adfs/services/trust", "server.issuer %q is not an absolute URI", c.Server.Issuer)
	}
	upstreams := c.validateUpstreams(add)
	c.validateApps(upstreams, add)
	c.validateDevices(add)
	c.validateWebAuthn(add)
	c.validateMFA(upstreams, add)
	return out
}

// AppTypes are the app types the broker serves itself.
var AppTypes = []string{"whoami", "proxy", "forward_auth"}

// ProtocolAppTypes have a settings block of their own (see App.Protocol),
// decoded by the protocol's package; cmd refuses those it has no
// implementation of.
var ProtocolAppTypes = []string{"oidc", "saml", "wsfed"}

// HeaderSources are what a proxy app's identity headers may carry.
var HeaderSources = []string{"username", "upn", "email", "name", "groups", "subject", "upstream"}

type addFunc func(path, hint, format string, args ...any)

// checkID reports an identifier (field of the entry at path p, what it is
// called in messages) that is missing, not id-shaped, or already in seen.
func checkID(add addFunc, seen map[string]bool, p, field, what, id string) {
	switch {
	case !idPattern.MatchString(id):
		add(p, "lowercase letters, digits, - and _", "%s %q is missing or invalid", what, id)
	case seen[id]:
		add(p+"."+field, field+"s must be unique", "duplicate %s %q", what, id)
	}
	seen[id] = true
}

func (c *Config) validateServer(add addFunc) {
	s := c.Server
	u, err := url.Parse(s.PublicURL)
	switch {
	case s.PublicURL == "":
		add("$.server", "the URL users reach fedgate at, e.g. https://sso.example.co.jp", "server.public_url is required")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "":
		add("$.server.public_url", "an absolute http(s) URL with no query", "invalid server.public_url %q", s.PublicURL)
	case u.Scheme == "http" && !s.InsecureHTTP:
		add("$.server.public_url", "use https, or set server.insecure_http for loopback/quickstart", "public_url is plain http")
	}
	if !strings.EqualFold(s.ClientIPHeader, "X-Forwarded-For") && !strings.EqualFold(s.ClientIPHeader, "Forwarded") {
		add("$.server.client_ip_header", "X-Forwarded-For or Forwarded", "unknown client_ip_header %q", s.ClientIPHeader)
	}
	files := s.TLS.CertFile != "" || s.TLS.KeyFile != ""
	switch {
	case files && s.TLS.ACME != nil:
		add("$.server.tls", "choose one", "server.tls: both certificate files and acme are set")
	case files && (s.TLS.CertFile == "" || s.TLS.KeyFile == ""):
		add("$.server.tls", "set both cert_file and key_file", "server.tls: a certificate needs both cert_file and key_file")
	case !files && s.TLS.ACME == nil && !s.InsecureHTTP:
		add("$.server", "set server.tls.cert_file and key_file, or server.tls.acme, or insecure_http: true behind a TLS terminator",
			"TLS is required but no certificate is configured")
	}
	t := s.Timeouts
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read_header", t.ReadHeader}, {"read", t.Read}, {"write", t.Write}, {"idle", t.Idle}, {"shutdown", t.Shutdown}, {"upstream", t.Upstream}} {
		if d.v < 0 {
			add("$.server.timeouts."+d.name, "a positive duration such as 30s (0 or unset: the default)", "server.timeouts.%s is negative (%s)", d.name, d.v)
		}
	}
	if a := s.TLS.ACME; a != nil {
		if s.InsecureHTTP {
			add("$.server.tls.acme", "ACME certificates need fedgate to serve TLS: drop insecure_http or acme", "server.tls.acme is set with insecure_http")
		}
		validateACME(a, add)
	}
}

func validateACME(a *ACME, add addFunc) {
	if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
		add("$.server.tls.acme.directory_url", "the CA's https:// directory URL", "invalid acme directory_url %q", a.DirectoryURL)
	}
	for _, ch := range a.Challenges {
		if ch != "http-01" && ch != "tls-alpn-01" {
			add("$.server.tls.acme.challenges", "http-01 and/or tls-alpn-01", "unknown ACME challenge %q", ch)
		}
	}
	if e := a.EAB; e != nil && (e.KeyID == "" || e.HMACKey.Value() == "") {
		add("$.server.tls.acme.eab", "key_id and hmac_key (e.g. hmac_key: ${ACME_EAB_HMAC})", "acme eab needs both key_id and hmac_key")
	}
}

func (c *Config) validateUpstreams(add addFunc) map[string]bool {
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		p := fmt.Sprintf("$.upstreams[%d]", i)
		checkID(add, seen, p, "id", "upstream id", u.ID)
		if u.Type == "" {
			add(p, "e.g. type: local", "upstream %q has no type", u.ID)
		}
	}
	if len(c.Upstreams) == 0 {
		add("$.upstreams", "add at least one entry under upstreams", "no upstreams configured: nobody could sign in")
	}
	c.validateDomains(add)
	if o := c.UserNames.DefaultOwner; o != "" && !seen[o] {
		add("$.user_names.default_owner", "define it under upstreams", "user_names.default_owner refers to undefined upstream %q", o)
	}
	member := map[string]bool{}
	for i, g := range c.UserNames.Shared {
		p := fmt.Sprintf("$.user_names.shared[%d]", i)
		if len(g) < 2 {
			add(p, "list two or more upstreams that front the same directory", "a shared group needs at least two upstreams")
		}
		for _, id := range g {
			switch {
			case !seen[id]:
				add(p, "define it under upstreams", "user_names.shared refers to undefined upstream %q", id)
			case member[id]:
				add(p, "an upstream belongs to one group at most", "upstream %q is in more than one shared group", id)
			}
			member[id] = true
		}
	}
	return seen
}

// validateDomains: each domain is a DNS name, owned by one upstream — its
// user names come from that upstream only.
func (c *Config) validateDomains(add addFunc) {
	owner := map[string]string{}
	for i, u := range c.Upstreams {
		for j, d := range u.Domains {
			p := fmt.Sprintf("$.upstreams[%d].domains[%d]", i, j)
			key := strings.ToLower(d)
			switch other, dup := owner[key]; {
			case !domainPattern.MatchString(d):
				add(p, "a DNS domain such as corp.example (no @, no wildcard)", "upstream %q: invalid domain %q", u.ID, d)
			case dup && other != u.ID:
				add(p, "a domain's user names belong to one upstream: list it under one of them only",
					"domain %q is listed by upstreams %q and %q", d, other, u.ID)
			}
			owner[key] = u.ID
		}
	}
}

func (c *Config) validateApps(upstreams map[string]bool, add addFunc) {
	seen := map[string]bool{}
	for i, a := range c.Apps {
		p := fmt.Sprintf("$.apps[%d]", i)
		checkID(add, seen, p, "id", "app id", a.ID)
		if !slices.Contains(AppTypes, a.Type) && !slices.Contains(ProtocolAppTypes, a.Type) {
			add(p+".type", fmt.Sprintf("known types: %v %v", AppTypes, ProtocolAppTypes), "app %q has unknown type %q", a.ID, a.Type)
		}
		if a.Policy == "" {
			add(p, "every app needs a policy: access is denied by default", "app %q has no policy", a.ID)
		} else if c.PolicySet != nil {
			if _, ok := c.PolicySet.Policy(a.Policy); !ok {
				add(p+".policy", fmt.Sprintf("known policies: %v", c.PolicySet.Names()), "app %q refers to undefined policy %q", a.ID, a.Policy)
			}
		}
		for j, u := range a.Upstreams {
			if !upstreams[u] {
				add(fmt.Sprintf("%s.upstreams[%d]", p, j), "define it under upstreams", "app %q refers to undefined upstream %q", a.ID, u)
			}
		}
		if a.DefaultUpstream != "" && !upstreams[a.DefaultUpstream] {
			add(p+".default_upstream", "define it under upstreams", "app %q refers to undefined upstream %q", a.ID, a.DefaultUpstream)
		}
		if a.Type == "proxy" || a.Type == "forward_auth" {
			c.validateProxyApp(p, a, add)
		}
		for _, pt := range ProtocolAppTypes {
			b := (&App{Type: pt, OIDC: a.OIDC, SAML: a.SAML, WSFed: a.WSFed}).Protocol()
			switch {
			case a.Type == pt && b == nil:
				add(p, fmt.Sprintf("add the %s: settings block", pt), "app %q of type %s has no %s: block", a.ID, pt, pt)
			case a.Type != pt && b != nil:
				add(p+"."+pt, fmt.Sprintf("a %s: block belongs to apps of type %s", pt, pt), "app %q is of type %s", a.ID, a.Type)
			}
		}
	}
	c.validateProxyRoutes(add)
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)

func (c *Config) validateProxyApp(p string, a App, add addFunc) {
	pub, _ := url.Parse(c.Server.PublicURL)
	switch {
	case a.Host == "":
		add(p, "the host name browsers use for the app, e.g. wiki.corp.example", "proxy app %q has no host", a.ID)
	case pub != nil && strings.EqualFold(a.Host, pub.Host):
		add(p+".host", "give proxied apps their own host names", "proxy app %q uses fedgate's own host %s", a.ID, a.Host)
	}
	if !strings.HasPrefix(a.PathPrefix, "/") || !strings.HasSuffix(a.PathPrefix, "/") {
		add(p+".path_prefix", `start and end with "/"`, "invalid path_prefix %q", a.PathPrefix)
	}
	switch {
	case a.Type == "proxy" && len(a.To) == 0:
		add(p, "backend URLs, e.g. to: [http://10.0.0.5:8080]", "proxy app %q has no backend (to)", a.ID)
	case a.Type == "forward_auth" && len(a.To) > 0:
		add(p+".to", "your reverse proxy (nginx, Traefik, Caddy) reaches the backend; remove to", "forward_auth app %q must not have a backend", a.ID)
	}
	for j, t := range a.To {
		u, err := url.Parse(t)
		if t == "builtin:echo" {
			continue
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			add(fmt.Sprintf("%s.to[%d]", p, j), "an http(s) URL, or builtin:echo", "invalid backend URL %q", t)
		}
	}
	if h := a.JWTAssertion; h != "" {
		if !headerName.MatchString(h) || isReservedHeader(h) {
			add(p+".jwt_assertion", "a plain header name such as X-Fedgate-Assertion", "header %q cannot carry the assertion", h)
		}
		if len(c.Keys.Signing) == 0 && c.DataDir == "" {
			add(p+".jwt_assertion", "configure keys.signing (fedgate keys generate --signing FILE)", "app %q wants a signed assertion but there is no signing key", a.ID)
		}
	}
	// Group names are percent-encoded around the separator (proxy.EncodeList):
	// "%", letters and digits in it would make the list ambiguous.
	if strings.ContainsFunc(a.GroupsSeparator, func(r rune) bool { return r == '%' || unicode.IsLetter(r) || unicode.IsDigit(r) }) {
		add(p+".groups_separator", `punctuation or white space, such as "," or "; "`, "invalid groups_separator %q", a.GroupsSeparator)
	}
	for name, src := range a.Headers {
		if !headerName.MatchString(name) || isReservedHeader(name) {
			add(p+".headers", "a plain header name such as X-Remote-User", "header %q cannot carry identity", name)
		}
		if !slices.Contains(HeaderSources, src) && !strings.HasPrefix(src, "claim:") {
			add(p+".headers", fmt.Sprintf("one of %v or claim:<name>", HeaderSources), "unknown source %q for header %s", src, name)
		}
	}
}

// isReservedHeader: headers the proxy itself manages or that mean something
// to HTTP.
func isReservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "host", "cookie", "connection", "content-length", "content-type", "transfer-encoding", "upgrade",
		"te", "trailer", "keep-alive", "proxy-authorization", "authorization",
		"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "forwarded":
		return true
	}
	return false
}

// validateProxyRoutes: one app per host and path prefix.
func (c *Config) validateProxyRoutes(add addFunc) {
	seen := map[string]string{}
	for i, a := range c.Apps {
		if a.Type != "proxy" && a.Type != "forward_auth" {
			continue
		}
		k := strings.ToLower(a.Host) + a.PathPrefix
		if other, dup := seen[k]; dup {
			add(fmt.Sprintf("$.apps[%d].host", i), "give each app its own host or path_prefix", "apps %q and %q both serve %s", other, a.ID, k)
		}
		seen[k] = a.ID
	}
}

func (c *Config) validateStore(add addFunc) {
	st := c.Store
	n := 0
	for _, set := range []bool{st.Bolt != "", st.Memory, st.Redis != nil} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		add("$.store", "choose one of bolt, memory and redis", "store: more than one store is set")
	case n == 0:
		add("$.store", "set store.bolt, store.redis or data_dir", "store: no state store configured")
	}
	if r := st.Redis; r != nil {
		if (r.Addr == "") == (len(r.Addrs) == 0) {
			add("$.store.redis", "set addr (one node) or addrs (Sentinel or Cluster)", "store.redis: set exactly one of addr and addrs")
		}
		if r.MasterName != "" && len(r.Addrs) == 0 {
			add("$.store.redis.master_name", "list the Sentinels in addrs", "store.redis.master_name needs addrs")
		}
		if r.Timeout < 0 {
			add("$.store.redis.timeout", "a duration such as 500ms", "store.redis.timeout must not be negative")
		}
	}
}

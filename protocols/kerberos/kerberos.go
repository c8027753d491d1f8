// Package kerberos is Windows integrated sign-in: SPNEGO with Kerberos
// (the Authorization: Negotiate header of a browser on the intranet),
// verified against a keytab with gokrb5. It implements
// protocols.NegotiateAuthenticator; the broker decides when to ask.
package kerberos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/fedgate/fedgate/protocols"
)

// Config is a `type: kerberos` upstream block.
type Config struct {
	ID      string   `yaml:"id"`
	Type    string   `yaml:"type"`
	Name    string   `yaml:"name"`
	Domains []string `yaml:"domains"`

	// Keytab holds the service principal's keys (ktpass / kadmin ktadd). It
	// is read again on every config reload, so a rotated keytab is picked up.
	Keytab string `yaml:"keytab"`
	// ServicePrincipal is HTTP/<host the browser sees>, with @REALM or not.
	ServicePrincipal string `yaml:"service_principal"`
	// Realm is the users' and the service's realm (default: the SPN's).
	Realm string `yaml:"realm"`
	// ClockSkew is how far the client's clock may be off (default 5m).
	ClockSkew time.Duration `yaml:"clock_skew"`

	// UsernameDomain replaces the realm in the username: alice@CORP.EXAMPLE
	// becomes alice@<username_domain> (default: the realm in lower case).
	UsernameDomain string `yaml:"username_domain"`
	// EmailDomain, when set, gives the user the email name@<email_domain>.
	EmailDomain string `yaml:"email_domain"`
	// Groups maps group SIDs from the ticket's PAC to group names.
	Groups map[string]string `yaml:"groups"`
	// RequireGroups declines a ticket whose PAC cannot be read (without it,
	// such a user signs in with no groups).
	RequireGroups bool `yaml:"require_groups"`

	// Networks are where Negotiate is offered: named networks of the
	// policies, CIDRs or addresses. Required: elsewhere it never is.
	Networks []string `yaml:"networks"`
	// UserAgents, if set, limit the offer to browsers whose User-Agent
	// contains one of these (case-insensitive).
	UserAgents []string `yaml:"user_agents"`
}

// Validate reports every problem in the block.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Keytab == "" {
		bad("keytab is required")
	}
	spn, realm := c.spn()
	if c.ServicePrincipal == "" || slices.Contains(spn.NameString, "") {
		bad("service_principal %q must be service/host, e.g. HTTP/sso.example.com@CORP.EXAMPLE", c.ServicePrincipal)
	}
	if realm == "" {
		bad("realm is required (or write the service_principal as HTTP/host@REALM)")
	}
	if c.ClockSkew < 0 {
		bad("clock_skew must not be negative")
	}
	if len(c.Networks) == 0 {
		bad("networks is required: Negotiate is offered only on these networks (the intranet)")
	}
	for sid := range c.Groups {
		if !strings.HasPrefix(sid, "S-1-") {
			bad("groups: %q is not a SID (S-1-5-21-...)", sid)
		}
	}
	return errors.Join(errs...)
}

// spn is the service principal's name and realm.
func (c Config) spn() (types.PrincipalName, string) {
	name, realm, _ := strings.Cut(c.ServicePrincipal, "@")
	if c.Realm != "" {
		realm = c.Realm
	}
	return types.NewPrincipalName(nametype.KRB_NT_SRV_INST, name), realm
}

// Deps are what Open needs besides the block.
type Deps struct {
	Logger *slog.Logger
	// Network resolves a named network of the policies.
	Network func(name string) ([]netip.Prefix, bool)
	Now     func() time.Time
}

// Upstream signs users in from their Kerberos service ticket.
type Upstream struct {
	id         string
	cfg        Config
	kt         *keytab.Keytab
	spn        types.PrincipalName
	realm      string
	skew       time.Duration
	networks   []netip.Prefix
	userAgents []string
	logger     *slog.Logger
	now        func() time.Time
}

var _ protocols.NegotiateAuthenticator = (*Upstream)(nil)

// Open reads the keytab and checks that it holds the service principal.
func Open(cfg Config, d Deps) (*Upstream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u := &Upstream{id: cfg.ID, cfg: cfg, skew: cfg.ClockSkew, logger: d.Logger, now: d.Now}
	if u.skew == 0 {
		u.skew = 5 * time.Minute
	}
	if u.logger == nil {
		u.logger = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	u.spn, u.realm = cfg.spn()
	for _, n := range cfg.Networks {
		p, err := parseNetwork(n, d.Network)
		if err != nil {
			return nil, fmt.Errorf("kerberos: networks: %w", err)
		}
		u.networks = append(u.networks, p...)
	}
	for _, ua := range cfg.UserAgents {
		u.userAgents = append(u.userAgents, strings.ToLower(ua))
	}
	kt, err := readKeytab(cfg.Keytab)
	if err != nil {
		return nil, err
	}
	if len(entriesFor(kt, u.spn, u.realm)) == 0 {
		var held []string
		for _, e := range keytabEntries(kt) {
			if !slices.Contains(held, e.Principal) {
				held = append(held, e.Principal)
			}
		}
		return nil, fmt.Errorf("kerberos: keytab %s has no key for %s@%s; it holds [%s]",
			cfg.Keytab, u.spn.PrincipalNameString(), u.realm, strings.Join(held, ", "))
	}
	u.kt = kt
	return u, nil
}

func readKeytab(path string) (*keytab.Keytab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kerberos: keytab: %w", err)
	}
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("kerberos: keytab %s: %w", path, err)
	}
	return kt, nil
}

func parseNetwork(s string, named func(string) ([]netip.Prefix, bool)) ([]netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return []netip.Prefix{p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return []netip.Prefix{netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	}
	if named != nil {
		if p, ok := named(s); ok {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%q is neither a CIDR, an address nor a network defined in the policies", s)
}

// ID is the upstream's id.
func (u *Upstream) ID() string { return u.id }

// Ready: the keytab was read when the upstream was built.
func (u *Upstream) Ready(context.Context) error { return nil }

// GroupsSource says where this upstream's groups come from, for `policy
// explain`: a ticket without a readable PAC brings none.
func (u *Upstream) GroupsSource() string {
	return "groups come only from the Kerberos ticket's PAC (SIDs mapped under groups:); a ticket without a readable PAC (MIT KDCs, or pac: none in the session) has none"
}

// OffersTo is the intranet test: a configured network and, if listed, a
// supported browser.
func (u *Upstream) OffersTo(addr netip.Addr, userAgent string) bool {
	addr = addr.Unmap()
	in := false
	for _, p := range u.networks {
		if p.Contains(addr) {
			in = true
			break
		}
	}
	if !in || len(u.userAgents) == 0 {
		return in
	}
	ua := strings.ToLower(userAgent)
	for _, want := range u.userAgents {
		if strings.Contains(ua, want) {
			return true
		}
	}
	return false
}

// Negotiate verifies the request's SPNEGO token.
func (u *Upstream) Negotiate(ctx context.Context, r *http.Request, claim protocols.ClaimFunc) (protocols.Identity, string, error) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Negotiate") || strings.TrimSpace(tok) == "" {
		return protocols.Identity{}, "", protocols.ErrNoCredentials
	}
	a, err := u.accept(ctx, strings.TrimSpace(tok), r.RemoteAddr, claim)
	if err != nil {
		return protocols.Identity{}, "", err
	}
	id, err := u.identity(a)
	if err != nil {
		return protocols.Identity{}, "", err
	}
	return id, a.response, nil
}

// identity maps an accepted ticket to the user: alice@CORP.EXAMPLE is the
// subject; the username is alice@<username_domain>.
func (u *Upstream) identity(a accepted) (protocols.Identity, error) {
	if !strings.EqualFold(a.realm, u.realm) {
		return protocols.Identity{}, decline("foreign-realm", fmt.Errorf("client realm %s is not %s", a.realm, u.realm))
	}
	name := strings.ToLower(a.name)
	domain := u.cfg.UsernameDomain
	if domain == "" {
		domain = strings.ToLower(u.realm)
	}
	id := protocols.Identity{
		Subject: a.name + "@" + u.realm, Upstream: u.id, Username: name + "@" + domain,
		AuthTime: u.now(), AMR: []string{"wia", "kerberos"}, Claims: map[string]string{"pac": a.pac},
	}
	if u.cfg.EmailDomain != "" {
		id.Email = name + "@" + u.cfg.EmailDomain
	}
	if a.pac != pacRead && u.cfg.RequireGroups {
		return protocols.Identity{}, decline("pac", fmt.Errorf("groups are required and the ticket's PAC is %s", a.pac))
	}
	id.DisplayName = a.fullName
	id.Groups = mapGroups(a.sids, u.cfg.Groups)
	return id, nil
}

func decline(reason string, err error) error {
	return &protocols.NegotiateError{Reason: reason, Err: err}
}

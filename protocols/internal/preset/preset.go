// Package preset holds the Microsoft peers that fedgate's SAML IdP and
// WS-Fed STS answer (INTEROP.md §1–§2), as data, and resolves the part of
// an app's block both protocols read alike: who the peer is (the ids its
// requests carry, its audience, where answers go), its NameID and the
// attributes a preset adds. The protocol packages keep only what is their
// own (ACS indexes, signing, token types, attribute name formats).
package preset

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
)

// Preset names.
const (
	EntraB2B = "entra-b2b"
	M365     = "m365"
)

// Microsoft's values and the NameID formats.
const (
	MicrosoftOnline   = "urn:federation:MicrosoftOnline"
	MicrosoftLoginSRF = "https://login.microsoftonline.com/login.srf"
	ClaimEmailAddress = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	ClaimImmutableID  = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"
	ClaimUPN          = "http://schemas.xmlsoap.org/claims/UPN"
	// MethodMFA is what Entra ID honours as MFA done by the IdP (SAML
	// AuthnContextClassRef, WS-Fed authentication method).
	MethodMFA    = protocols.MicrosoftMFA
	AttrIDPEmail = "IDPEmail"
	// MaxImmutableIDLength is Entra's limit on a NameID that is an ImmutableID.
	MaxImmutableIDLength = 64

	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

	attrFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	attrFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
)

// Protocols a preset applies to.
const (
	SAML  = "saml"
	WSFed = "wsfed"
)

// immutableID as an attribute value stands for the app's immutable_id
// (pairwise when it has none).
const immutableID = "immutable_id"

// Preset is one Microsoft peer.
type Preset struct {
	Name string
	// NeedsTenant: the partner tenant's id (a GUID) fills {tenant}.
	NeedsTenant bool
	// NeedsImmutableID: immutable_id is required and is the NameID, in
	// the persistent format, whatever else is configured.
	NeedsImmutableID bool
	// OneDomain: one app per federated domain (each needs its own IssuerUri).
	OneDomain bool
	// IDs are the entity ids / realms the peer's requests carry, the
	// primary first: it is also the audience.
	IDs []string
	// Reply is where answers go; CIAMReply for an external (ciam) tenant.
	Reply, CIAMReply string
	// Attributes each protocol adds when not configured.
	Attributes map[string][]Attribute
	// SignOut is where a SAML LogoutResponse goes by default.
	SignOut string
	// MFAClass is the SAML AuthnContextClassRef of MFA by default.
	MFAClass string
	// SAML11 is the only WS-Fed token type the peer accepts.
	SAML11 bool
	// UnsignedRequests: the peer never signs its AuthnRequests.
	UnsignedRequests bool
	// SignedAssertion: the SAML assertion itself must be signed.
	SignedAssertion bool
}

// Presets are the Microsoft peers, by name.
var Presets = map[string]*Preset{
	EntraB2B: {
		Name:        EntraB2B,
		NeedsTenant: true,
		// Legacy federations still send urn:federation:MicrosoftOnline.
		IDs:              []string{"https://login.microsoftonline.com/{tenant}/", MicrosoftOnline},
		Reply:            MicrosoftLoginSRF,
		CIAMReply:        "https://{tenant}.ciamlogin.com/login.srf",
		UnsignedRequests: true,
		Attributes: map[string][]Attribute{
			SAML:  {{Name: ClaimEmailAddress, Value: "email", Format: attrFormatURI}},
			WSFed: {{Name: ClaimImmutableID, Value: immutableID}, {Name: ClaimEmailAddress, Value: "email"}},
		},
	},
	M365: {
		Name:             M365,
		NeedsImmutableID: true,
		OneDomain:        true,
		IDs:              []string{MicrosoftOnline},
		Reply:            MicrosoftLoginSRF,
		// Sign-out comes by Redirect; the answer goes back to login.srf.
		SignOut:         MicrosoftLoginSRF,
		MFAClass:        MethodMFA,
		SAML11:          true, // Entra does not accept SAML 2.0 tokens here
		SignedAssertion: true,
		Attributes: map[string][]Attribute{
			SAML:  {{Name: AttrIDPEmail, Value: "upn", Format: attrFormatUnspecified}},
			WSFed: {{Name: ClaimUPN, Value: "upn"}, {Name: ClaimImmutableID, Value: immutableID}},
		},
	},
}

// Attribute is one attribute or claim: Name carries Value (a value
// source); Format is its SAML NameFormat ("" where a protocol has none).
type Attribute struct {
	Name, Value, Format string
}

// Config is what both protocols' blocks say alike.
type Config struct {
	Preset, Tenant string
	CIAM           bool
	Domains        []string
	ImmutableID    string
	NameIDFormat   string
	NameIDValue    string
	Salt           string
	Attributes     []Attribute
}

// Peer is a Config resolved for one protocol.
type Peer struct {
	// Preset is nil without one.
	Preset *Preset
	// IDs, Audience and Replies come from the preset; nil and "" without
	// one (the protocol's own settings apply).
	IDs      []string
	Audience string
	Replies  []string
	// NameIDFormat is a URN; NameIDValue a value source, pairwise or
	// transient.
	NameIDFormat, NameIDValue string
	// Attributes are the configured ones, in order, then those the preset
	// adds.
	Attributes []Attribute
}

var tenantID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// Resolve applies c's preset for protocol (SAML or WSFed), fills the
// NameID defaults and checks what it resolved, returning every problem.
// A NameID format the app did not set stays persistent: callers that take
// it from an SP's metadata set c.NameIDFormat first.
func Resolve(c Config, protocol string) (Peer, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	p := Peer{NameIDFormat: c.NameIDFormat, NameIDValue: c.NameIDValue, Attributes: slices.Clone(c.Attributes)}
	if c.Preset != "" {
		p.Preset = Presets[c.Preset]
		if p.Preset == nil {
			bad("unknown preset %q (known: %s)", c.Preset, strings.Join(Names(), ", "))
		}
	}
	if pr := p.Preset; pr != nil {
		tenant := strings.ToLower(c.Tenant)
		if pr.NeedsTenant && !tenantID.MatchString(tenant) {
			bad("preset %s needs tenant: the partner tenant's id (a GUID)", pr.Name)
		}
		if pr.NeedsImmutableID && !assertion.ValueSource.MatchString(c.ImmutableID) {
			bad("preset %s needs immutable_id: where the user's ImmutableID comes from (e.g. claim:immutable_id)", pr.Name)
		}
		if pr.OneDomain && len(c.Domains) > 1 {
			bad("preset %s: one app per federated domain (Entra needs a distinct IssuerUri for each: give each app its own issuer)", pr.Name)
		}
		fill := func(s string) string { return strings.ReplaceAll(s, "{tenant}", tenant) }
		for _, id := range pr.IDs {
			p.IDs = append(p.IDs, fill(id))
		}
		p.Audience = p.IDs[0]
		p.Replies = []string{fill(pr.Reply)}
		if c.CIAM && pr.CIAMReply != "" {
			p.Replies = []string{fill(pr.CIAMReply)}
		}
		if pr.NeedsImmutableID {
			p.NameIDFormat, p.NameIDValue = NameIDPersistent, c.ImmutableID
		}
		if p.NameIDValue == "" {
			p.NameIDValue = c.ImmutableID
		}
		for _, a := range pr.Attributes[protocol] {
			if a.Value == immutableID {
				a.Value = cmp.Or(c.ImmutableID, "pairwise")
			}
			if !slices.ContainsFunc(p.Attributes, func(b Attribute) bool { return b.Name == a.Name }) {
				p.Attributes = append(p.Attributes, a)
			}
		}
	}
	if p.NameIDFormat == "" {
		p.NameIDFormat = NameIDPersistent
	} else if p.NameIDFormat = NameIDFormat(p.NameIDFormat); !strings.HasPrefix(p.NameIDFormat, "urn:") {
		bad("name_id_format %q: use persistent, emailAddress, unspecified, transient or a URN", p.NameIDFormat)
	}
	transient := protocol == SAML // WS-Fed tokens carry no transient ids
	if p.NameIDValue == "" {
		p.NameIDValue = map[string]string{NameIDPersistent: "pairwise", NameIDEmail: "email", NameIDTransient: "transient"}[p.NameIDFormat]
		if p.NameIDValue == "" || (p.NameIDValue == "transient" && !transient) {
			p.NameIDValue = "username"
		}
	}
	switch {
	case p.NameIDValue == "pairwise" || (p.NameIDValue == "transient" && transient):
	case !assertion.ValueSource.MatchString(p.NameIDValue) || p.NameIDValue == "groups":
		bad("name_id_value %q: use pairwise, username, upn, email, subject or claim:<name>", p.NameIDValue)
	}
	pairwise := p.NameIDValue == "pairwise" || slices.ContainsFunc(p.Attributes, func(a Attribute) bool { return a.Value == "pairwise" })
	if pairwise && len(c.Salt) < 16 {
		bad("persistent_salt: at least 16 characters are needed for pairwise persistent ids (keep it secret and never change it: they derive from it)")
	}
	return p, errors.Join(errs...)
}

// Names are the presets' names, sorted.
func Names() []string {
	var n []string
	for k := range Presets {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// Warnings are what `fedgate check` says of apps (app id → preset name)
// served from publicURL, in app order.
func Warnings(publicURL string, apps map[string]string) []string {
	var out []string
	for _, app := range slices.Sorted(maps.Keys(apps)) {
		if w := Warning(apps[app], publicURL); w != "" {
			out = append(out, fmt.Sprintf("app %q: %s", app, w))
		}
	}
	return out
}

// Warning is what `fedgate check` says of an app with preset name served
// from publicURL: Microsoft only accepts https endpoints.
func Warning(name, publicURL string) string {
	if Presets[name] == nil || !strings.HasPrefix(strings.ToLower(publicURL), "http://") {
		return ""
	}
	return fmt.Sprintf("preset %s with an http:// public_url (%s): Microsoft accepts only https endpoints (passive sign-in URI, DirectFedAuthUrl, metadata URL); fine for a test, not for a tenant", name, publicURL)
}

// NameIDFormat is the URN of a NameID format's short name (persistent,
// transient, emailAddress or email, unspecified; any case); anything else
// is returned as it is.
func NameIDFormat(name string) string {
	switch strings.ToLower(name) {
	case "persistent":
		return NameIDPersistent
	case "transient":
		return NameIDTransient
	case "emailaddress", "email":
		return NameIDEmail
	case "unspecified":
		return NameIDUnspecified
	}
	return name
}

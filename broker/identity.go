package broker

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"unicode"

	"github.com/fedgate/fedgate/protocols"
)

// Name ownership: identities from different upstreams never look alike
// downstream. Apps know users by their user name, UPN or email (the
// X-Remote-User header, a SAML NameID, an OIDC claim), so a name one
// upstream vouches for must never be produced by another. Every identity
// passes ownNames once, as it enters the broker, before its session is made:
//
//   - A name in a domain an upstream lists under domains: belongs to that
//     upstream. From it, the name passes as it is; from any other upstream,
//     the sign-in is refused (audit reason foreign-domain).
//   - A name without a domain ("alice") belongs to user_names.default_owner.
//   - Upstreams in one user_names.shared group (Windows sign-in beside
//     ADFS, in front of the same directory) own together what any of them
//     owns.
//   - With a single upstream, every name is its own.
//   - A name nobody owns is qualified with its upstream's id: "alice" from
//     partner becomes "alice@partner", "bob@gmail.com" becomes
//     "bob@gmail.com@partner". Ids have no dot and listed domains must, so
//     a qualified name is never one an owner passes on as it is.
//
// The username and the upn claim follow this rule. The email is an address
// the upstream has verified, so it is never rewritten: one in a domain
// another upstream lists refuses the sign-in; any other passes.

// admitIdentity applies name ownership to an identity that has just signed
// in. On refusal it audits, ends the in-flight login and renders the error,
// and returns false.
func (b *Server) admitIdentity(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, id protocols.Identity) (protocols.Identity, bool) {
	out, err := ownNames(snap, id)
	if err == nil {
		return out, true
	}
	reason, msg := "foreign-domain", "err.foreigndomain"
	if errors.Is(err, errUnusableName) {
		reason, msg = "unusable-name", "err.rejected"
	}
	b.Audit.Record(AuditEvent{Time: b.now(), Event: "signin", Outcome: "failure", User: id.Username, Upstream: id.Upstream,
		App: p.App, Reason: reason, ClientIP: clientIP(r, snap), UserAgent: r.UserAgent(),
		CorrelationID: requestID(r.Context())})
	b.Metrics.signins.WithLabelValues(id.Upstream, "failure").Inc()
	snap.sealer.clear(w, pendingPrefix+p.ID)
	b.fail(w, r, snap, http.StatusForbidden, msg, err)
	return protocols.Identity{}, false
}

// ownNames returns id with its names owned or qualified, or an error
// naming the field and the upstream that owns its domain.
func ownNames(snap *Snapshot, id protocols.Identity) (protocols.Identity, error) {
	up, owners := id.Upstream, snap.owners
	single := len(snap.upstreams) == 1
	same := snap.Config.UserNames.Same
	name := func(field, v string) (string, error) {
		if !plainName(v) {
			return "", fmt.Errorf("broker: upstream %q signed in a user whose %s %q has white space or invisible characters: %w", up, field, v, errUnusableName)
		}
		at := strings.LastIndexByte(v, '@')
		if at < 0 {
			if v == "" || single || same(snap.Config.UserNames.DefaultOwner, up) {
				return v, nil
			}
			return v + "@" + up, nil
		}
		switch owner := owners[domainKey(v[at+1:])]; {
		case owner != "" && same(owner, up), owner == "" && single:
			return v, nil
		case owner != "":
			return "", foreign(up, field, v, owner)
		}
		return v + "@" + up, nil
	}
	var err error
	if id.Username, err = name("username", id.Username); err != nil {
		return protocols.Identity{}, err
	}
	if upn, ok := id.Claims["upn"]; ok {
		if upn, err = name("upn", upn); err != nil {
			return protocols.Identity{}, err
		}
		id.Claims = maps.Clone(id.Claims)
		id.Claims["upn"] = upn
	}
	if !plainName(id.Email) {
		return protocols.Identity{}, fmt.Errorf("broker: upstream %q signed in a user whose email %q has white space or invisible characters: %w", up, id.Email, errUnusableName)
	}
	if at := strings.LastIndexByte(id.Email, '@'); at >= 0 {
		if owner := owners[domainKey(id.Email[at+1:])]; owner != "" && !same(owner, up) {
			return protocols.Identity{}, foreign(up, "email", id.Email, owner)
		}
	}
	return id, nil
}

// errUnusableName: a name apps could read as another (white space,
// invisible characters).
var errUnusableName = errors.New("unusable user name")

// domainOwners maps each listed domain (domainKey) to the upstream that
// lists it; built once per snapshot.
func domainOwners(ups []upstreamEntry) map[string]string {
	owners := map[string]string{}
	for _, e := range ups {
		for _, d := range e.domains {
			owners[domainKey(d)] = e.ID()
		}
	}
	return owners
}

// domainKey is how a domain is compared: case and a trailing dot (the DNS
// root, which many apps drop) make no difference.
func domainKey(d string) string { return strings.TrimSuffix(strings.ToLower(d), ".") }

// plainName: no white space, control or invisible (format) characters,
// which apps may trim or drop and so read another user's name.
func plainName(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	})
}

// upstreamName is the user's name as their upstream knows it, the
// qualification undone: the login_hint when they sign in there again.
func upstreamName(id protocols.Identity) string {
	return strings.TrimSuffix(id.Username, "@"+id.Upstream)
}

func foreign(up, field, v, owner string) error {
	return fmt.Errorf("broker: upstream %q signed in a user whose %s %q is in a domain of upstream %q", up, field, v, owner)
}

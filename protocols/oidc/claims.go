package oidc

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// identity maps verified claims to the shared Identity. forced: this login
// sent prompt=login, so the token's iat is also when the user authenticated.
func (u *Upstream) identity(ctx context.Context, c claimSet, forced bool) (protocols.Identity, error) {
	id := protocols.Identity{Upstream: u.cfg.ID}
	for _, name := range u.m.subject {
		if name == "tid:oid" {
			if tid, oid := c.str("tid"), c.str("oid"); tid != "" && oid != "" {
				id.Subject = strings.ToLower(tid) + ":" + strings.ToLower(oid)
			}
		} else {
			id.Subject = c.str(name)
		}
		if id.Subject != "" {
			break
		}
	}
	if id.Subject == "" {
		return protocols.Identity{}, u.rejected(protocols.CheckSubject, "token has no subject claim (%s)", strings.Join(u.m.subject, ", "))
	}
	// An email the IdP does not vouch for is never passed on, neither as
	// the email nor as a username taken from the email claim.
	verified := u.emailVerified(c)
	for _, name := range u.m.username {
		if !verified && (name == "email" || name == u.cfg.Claims.Email) {
			continue
		}
		if id.Username = c.str(name); id.Username != "" {
			break
		}
	}
	if id.Username == "" {
		id.Username = id.Subject
	}
	if verified {
		id.Email = first(c, u.m.email)
	}
	if id.Email != "" && !strings.Contains(id.Email, "@") {
		id.Email = ""
	}
	id.DisplayName = first(c, u.m.displayName)

	groups, err := u.groups(ctx, c)
	if err != nil {
		return protocols.Identity{}, err
	}
	id.Groups = groups

	claims := map[string]string{}
	for k, name := range u.m.extra {
		if v := c.str(name); v != "" {
			claims[k] = v
		}
	}
	if v := first(c, u.m.immutableID); v != "" {
		claims["immutable_id"] = v
	}
	if len(claims) > 0 {
		id.Claims = claims
	}

	// AuthTime drives MFA freshness, so it is never guessed upward: a
	// future or unreadable auth_time is refused, and without one the time
	// is known only when this login forced fresh credentials. Otherwise it
	// stays zero (unknown), and a policy max_age asks again.
	if _, present := c["auth_time"]; present {
		t, ok := c.time("auth_time")
		if !ok {
			return protocols.Identity{}, u.rejected(protocols.CheckToken, "auth_time %v is not a time", c["auth_time"])
		}
		if t.After(u.now().Add(u.cfg.skew())) {
			return protocols.Identity{}, u.rejected(protocols.CheckNotYetValid, "auth_time %s is in the future", t.UTC().Format(time.RFC3339))
		}
		id.AuthTime = t.UTC()
	} else if t, ok := c.time("iat"); ok && forced {
		id.AuthTime = t.UTC()
	}
	id.AMR = u.amr(c)
	return id, nil
}

// emailVerified reports whether the IdP vouches for the token's email, per
// preset. An explicit email_verified: false is believed from every IdP.
//   - entra: users and tenant admins can set email to anything (the nOAuth
//     class); only the optional claim xms_edov (the domain is verified in
//     the tenant) makes it an address.
//   - adfs: AD is authoritative for its own users; mail and UPN are set by
//     directory admins, not by users, and ADFS never sends email_verified.
//   - generic: email_verified: true, or trust_email for an IdP that never
//     sends it but whose addresses are known to be verified.
func (u *Upstream) emailVerified(c claimSet) bool {
	if v, present := c["email_verified"]; present && !isTrue(v) {
		return false
	}
	switch u.cfg.preset() {
	case PresetEntra:
		return isTrue(c["xms_edov"])
	case PresetADFS:
		return true
	}
	return u.cfg.TrustEmail || isTrue(c["email_verified"])
}

// isTrue reads a boolean claim the way IdPs send them (true, "true", 1).
func isTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	case float64:
		return v == 1
	}
	return false
}

func first(c claimSet, names []string) string {
	for _, n := range names {
		if v := c.str(n); v != "" {
			return v
		}
	}
	return ""
}

// groups reads the groups claim; Entra's overage (no groups claim, a
// _claim_names entry for it instead) is never taken as "no groups".
func (u *Upstream) groups(ctx context.Context, c claimSet) ([]string, error) {
	var out []string
	for _, name := range u.m.groups {
		if _, ok := c[name]; ok {
			out = c.strs(name)
			if u.cfg.GroupDN == "cn" {
				for i, g := range out {
					out[i] = dnCN(g)
				}
			}
			return out, nil
		}
	}
	if names, ok := c["_claim_names"].(map[string]any); ok {
		for _, name := range u.m.groups {
			if _, over := names[name]; !over {
				continue
			}
			if u.cfg.GroupsOverage == "warn" {
				u.log.ErrorContext(ctx, "groups overage: the user is in too many groups for the token; signed in with no groups (groups_overage: warn)",
					"subject", c.str("oid"))
				return nil, nil
			}
			return nil, u.rejected(protocols.CheckGroups, "groups overage: the user is in too many groups for the token to list (hint: emit only groups assigned to the application, or set groups_overage: warn)")
		}
	}
	return nil, nil
}

// dnCN returns the first CN of a distinguished name, or s itself.
func dnCN(s string) string {
	rest, ok := strings.CutPrefix(s, "CN=")
	if !ok {
		rest, ok = strings.CutPrefix(s, "cn=")
	}
	if !ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '\\':
			if i+1 < len(rest) {
				i++
				b.WriteByte(rest[i])
			}
		case ',':
			return b.String()
		default:
			b.WriteByte(rest[i])
		}
	}
	return b.String()
}

// Claims that may carry authentication methods.
const authMethodClaim = "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod"

// amrAliases normalises vendor method names to RFC 8176-style values.
var amrAliases = map[string]string{
	"pwd": "pwd", "password": "pwd",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password": "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport":              "pwd",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:Password":                                "pwd",
	"wia": "kerberos", "kerberos": "kerberos",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows":   "kerberos",
	"urn:federation:authentication:windows":                                           "kerberos",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient": "sc",
	"http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/x509":      "sc",
	"otp": "otp", "sms": "sms", "tel": "tel", "hwk": "hwk", "swk": "swk", "fpt": "fpt", "face": "face",
	"pin": "pin", "rsa": "rsa", "sc": "sc", "fed": "fed", "pop": "pop", "kba": "kba", "user": "user",
}

// amr collects the methods from amr, authnmethodsreferences, authmethod and
// the authenticationmethod claim, normalised; "mfa" is added only when a
// configured evidence value is present (or, for entra, the configured
// authentication context in acrs). "mfa" in the token is itself evidence
// only when the preset says so: ADFS proves MFA with multipleauthn.
func (u *Upstream) amr(c claimSet) []string {
	var raw []string
	for _, k := range []string{"amr", "authnmethodsreferences", "authmethod", authMethodClaim} {
		raw = append(raw, c.strs(k)...)
	}
	var out []string
	add := func(m string) {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	mfa := false
	for _, v := range raw {
		if slices.Contains(u.ev.AMR, v) {
			mfa = true
			continue
		}
		if v == "mfa" || v == "ngcmfa" || v == multipleAuthN {
			continue // not evidence for this upstream: do not pass it on either
		}
		add(amrAliases[v])
	}
	if acr := c.str("acr"); acr != "" && slices.Contains(u.ev.ACR, acr) {
		mfa = true
	}
	if ctxID := u.step.AuthContext; ctxID != "" && slices.Contains(c.strs("acrs"), ctxID) {
		mfa = true
	}
	if mfa {
		add("mfa")
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

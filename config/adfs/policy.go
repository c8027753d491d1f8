package adfs

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// PolicyRule is one rule of a fedgate policy file, in the few shapes ADFS
// authorization can take.
type PolicyRule struct {
	Name     string
	Networks []string
	Groups   []string
	Users    []string
	Claim    *ClaimTest
	MFA      bool
	Deny     bool
}

// ClaimTest is a claims condition on one claim.
type ClaimTest struct {
	Name, Equals, Regex string
}

// IntranetNetwork is the named network that stands for ADFS's intranet
// (requests that did not come through the Web Application Proxy).
const IntranetNetwork = "intranet"

var sidPattern = regexp.MustCompile(`^S-1-[0-9-]+$`)

// TranslateAuthorization reads IssuanceAuthorizationRules text into policy
// rules: deny rules first (in ADFS a deny wins whatever its place), then
// permits. changes lists what fedgate does differently.
func TranslateAuthorization(src string) (rules []PolicyRule, changes []string, skip []Skipped, err error) {
	parsed, err := ParseRules(src)
	if err != nil {
		return nil, nil, nil, err
	}
	var denies, permits []PolicyRule
	for _, r := range parsed {
		pr, note, why := authRule(r)
		if why != "" {
			skip = append(skip, skipped(r, why))
			continue
		}
		if note != "" {
			changes = append(changes, fmt.Sprintf("rule %q: %s", ruleName(r), note))
		}
		if pr.Deny {
			denies = append(denies, pr)
		} else {
			permits = append(permits, pr)
		}
	}
	return append(denies, permits...), changes, skip, nil
}

func authRule(r Rule) (PolicyRule, string, string) {
	pr := PolicyRule{Name: ruleName(r)}
	if r.Action.Store != nil || r.Action.Copy != "" {
		return pr, "", "an authorization rule that does not issue permit or deny"
	}
	f := fieldMap(r.Action.Fields)
	switch t, _ := literal(f["Type"]); t {
	case TypePermit:
	case TypeDeny:
		pr.Deny = true
	default:
		return pr, "", "an authorization rule that does not issue permit or deny"
	}
	if len(r.Conds) == 0 {
		return pr, "", ""
	}
	if len(r.Conds) > 1 || r.Conds[0].Exists {
		return pr, "", "more than one condition, or EXISTS: no template"
	}
	typ, values, ok := selectorParts(r.Conds[0])
	if !ok || len(values) != 1 || (values[0].Op != "==" && values[0].Op != "=~") {
		return pr, "", "the condition is not one claim type with one == or =~ value"
	}
	v := values[0]
	if v.Op == "==" && v.Value == "" {
		// A policy test needs a value (a group, a user, a claim value).
		return pr, "", "a test for an empty value: fedgate's policy cannot test that a claim is empty"
	}
	switch incoming[typ] {
	case "groups":
		if v.Op != "==" {
			return pr, "", "a group matched by regular expression: fedgate matches group names exactly"
		}
		pr.Groups = []string{groupName(v.Value)}
		if sidPattern.MatchString(v.Value) {
			return pr, fmt.Sprintf("group SID %s: fedgate matches group names; replace it in the policy with the group's name", v.Value), ""
		}
		return pr, "", ""
	case "upn", "username":
		if v.Op == "==" && strings.Contains(v.Value, `\`) {
			// DOMAIN\user: fedgate's user names are UPN-style, so the
			// rule would never match. A permit that never matches only
			// refuses; a deny that never matches lets the user in.
			if pr.Deny {
				return pr, "", fmt.Sprintf("a deny on the Windows account name %q: fedgate's user names are UPN-style (user@domain), so it would never match", v.Value)
			}
			pr.Users = []string{v.Value}
			return pr, fmt.Sprintf("user %s is a Windows account name: write the user's UPN (user@domain), or the rule never matches", v.Value), ""
		}
		if v.Op == "==" {
			pr.Users = []string{v.Value}
			return pr, "", ""
		}
	}
	name := strings.ToLower(typ[strings.LastIndexAny(typ, "/:")+1:])
	pr.Claim = &ClaimTest{Name: name}
	if v.Op == "==" {
		pr.Claim.Equals = v.Value
	} else {
		// ADFS regexes match anywhere in the value; fedgate's whole value.
		pr.Claim.Regex = ".*(?:" + v.Value + ").*"
		if _, err := regexp.Compile(pr.Claim.Regex); err != nil {
			return pr, "", fmt.Sprintf("the regular expression does not compile in Go: %v", err)
		}
	}
	return pr, fmt.Sprintf("claim %s is tested as the upstream's claim %q", typ, name), ""
}

// Claims of ADFS's multi-factor rules.
const (
	typeAuthnMethod     = "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod"
	typeInsideCorpNet   = "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork"
	methodMultipleAuthn = "http://schemas.microsoft.com/claims/multipleauthn"
)

// ApplyAdditionalAuthentication reads AdditionalAuthenticationRules, the
// pre-2016 way to ask for MFA, into rules: a rule that always issues
// authenticationmethod = multipleauthn puts MFA on every allow rule; one
// conditioned on insidecorporatenetwork == "false" does so outside the
// intranet only (each allow rule first repeated for the intranet without
// MFA). Other rules are returned as skipped.
func ApplyAdditionalAuthentication(rules []PolicyRule, src string) ([]PolicyRule, []Skipped, error) {
	parsed, err := ParseRules(src)
	if err != nil {
		return nil, nil, err
	}
	always, extranet := false, false
	var skip []Skipped
	for _, r := range parsed {
		f := fieldMap(r.Action.Fields)
		typ, _ := literal(f["Type"])
		val, _ := literal(f["Value"])
		if typ != typeAuthnMethod || val != methodMultipleAuthn {
			skip = append(skip, skipped(r, "an additional authentication rule that does not issue authenticationmethod = multipleauthn"))
			continue
		}
		switch {
		case len(r.Conds) == 0:
			always = true
		case len(r.Conds) == 1 && !r.Conds[0].Exists && isExtranetTest(r.Conds[0]):
			extranet = true
		default:
			skip = append(skip, skipped(r, "MFA on a condition other than insidecorporatenetwork == \"false\""))
		}
	}
	if len(skip) > 0 || (!always && !extranet) {
		return rules, skip, nil
	}
	var out []PolicyRule
	for _, r := range rules {
		switch {
		case r.Deny || r.MFA:
		case always || len(r.Networks) > 0 && !slices.Equal(r.Networks, []string{IntranetNetwork}):
			// Networks of its own: "those and not the intranet" cannot be
			// written as one rule, so MFA everywhere (stricter, never laxer).
			r.MFA = true
		case len(r.Networks) == 0:
			inside := r
			inside.Name += " (intranet)"
			inside.Networks = []string{IntranetNetwork}
			out = append(out, inside)
			r.MFA = true
		}
		out = append(out, r)
	}
	return out, nil, nil
}

func isExtranetTest(c Cond) bool {
	typ, values, ok := selectorParts(c)
	return ok && typ == typeInsideCorpNet && len(values) == 1 && values[0].Op == "==" && strings.EqualFold(values[0].Value, "false")
}

// groupName strips the NetBIOS domain ADFS group parameters carry
// (CORP\Staff → Staff): fedgate's groups are the upstream's names.
func groupName(g string) string {
	if i := strings.LastIndexByte(g, '\\'); i >= 0 {
		return g[i+1:]
	}
	return g
}

// PolicyYAML renders a fedgate policy file.
func PolicyYAML(name, comment string, rules []PolicyRule) []byte {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(comment), "\n") {
		b.WriteString("# " + line + "\n")
	}
	fmt.Fprintf(&b, "policy: %s\nrules:\n", q(name))
	if len(rules) == 0 {
		b.WriteString("  - name: nobody is permitted\n    deny: {}\n")
	}
	for _, r := range rules {
		fmt.Fprintf(&b, "  - name: %s\n", q(r.Name))
		var when []string
		if len(r.Networks) > 0 {
			when = append(when, "networks: "+qList(r.Networks))
		}
		if len(r.Groups) > 0 {
			when = append(when, "groups: "+qList(r.Groups))
		}
		if len(r.Users) > 0 {
			when = append(when, "users: "+qList(r.Users))
		}
		if c := r.Claim; c != nil {
			test := "equals: " + q(c.Equals)
			if c.Regex != "" {
				test = "regex: " + q(c.Regex)
			}
			when = append(when, fmt.Sprintf("claims: { %s: { %s } }", q(c.Name), test))
		}
		if len(when) > 0 {
			fmt.Fprintf(&b, "    when: { %s }\n", strings.Join(when, ", "))
		}
		switch {
		case r.Deny:
			b.WriteString("    deny: {}\n")
		case r.MFA:
			b.WriteString("    allow: { mfa: {} }\n")
		default:
			b.WriteString("    allow: {}\n")
		}
	}
	return []byte(b.String())
}

// q quotes a YAML scalar (a JSON string is a YAML double-quoted scalar).
func q(s string) string { return strconv.Quote(s) }

func qList(ss []string) string {
	out := slices.Clone(ss)
	for i := range out {
		out[i] = q(out[i])
	}
	return "[" + strings.Join(out, ", ") + "]"
}

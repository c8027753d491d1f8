package adfs

import (
	"fmt"
	"strings"
)

// Claim types ADFS rules use.
const (
	TypeWindowsAccountName = "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname"
	TypeNameIdentifier     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
	TypeGroupSID           = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groupsid"
	TypeGroup              = "http://schemas.xmlsoap.org/claims/Group"
	TypeRole               = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
	TypeUPN                = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
	TypeName               = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	TypeEmail              = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	TypePermit             = "http://schemas.microsoft.com/authorization/claims/permit"
	TypeDeny               = "http://schemas.microsoft.com/authorization/claims/deny"
	propFormat             = "http://schemas.xmlsoap.org/ws/2005/05/identity/claimproperties/format"
	adStore                = "Active Directory"
	adAuthority            = "AD AUTHORITY"
)

// incoming are the claims ADFS's Active Directory claims provider puts in
// the pipeline, and the fedgate value source that carries the same thing.
var incoming = map[string]string{
	TypeWindowsAccountName: "username",
	TypeName:               "username",
	TypeUPN:                "upn",
	TypeEmail:              "email",
	TypeGroupSID:           "groups",
	TypeGroup:              "groups",
	TypeRole:               "groups",
}

// ldapSources maps AD attributes (as the LDAP template names them, case
// does not matter) to fedgate value sources. Attributes not listed become
// claim:<attribute>: the upstream must supply that claim.
var ldapSources = map[string]string{
	"userprincipalname":                "upn",
	"mail":                             "email",
	"displayname":                      "name",
	"samaccountname":                   "username",
	"objectguid":                       "claim:immutable_id",
	"ms-ds-consistencyguid":            "claim:immutable_id",
	"tokengroups":                      "groups",
	"token-groups - unqualified names": "groups",
	"token-groups - qualified by domain name":      "groups",
	"token-groups - qualified by long domain name": "groups",
	"token-groups as sids":                         "groups",
}

// OutClaim is one claim of the token: its type URI and fedgate's source.
type OutClaim struct {
	Type, Source string
}

// NameID is the subject: where its value comes from, in what format.
type NameID struct {
	Source, Format string
}

// Skipped is a rule fedgate could not translate, with why.
type Skipped struct {
	Rule string `json:"rule"`
	Name string `json:"name,omitempty"`
	At   string `json:"at"`
	Why  string `json:"why"`
}

// Mapping is what a trust's issuance transform rules become.
type Mapping struct {
	Claims  []OutClaim
	NameID  *NameID
	Changes []string
	Skipped []Skipped
}

// TranslateIssuance reads IssuanceTransformRules text. A syntax error is
// returned (the trust cannot be migrated as it stands); rules that parse
// but match no template are listed in Skipped with their text.
func TranslateIssuance(src string) (*Mapping, error) {
	rules, err := ParseRules(src)
	if err != nil {
		return nil, err
	}
	m := &Mapping{}
	env := map[string]string{}
	for t, s := range incoming {
		env[strings.ToLower(t)] = s
	}
	for _, r := range rules {
		outs, why := translateRule(r, env)
		if why != "" {
			m.Skipped = append(m.Skipped, skipped(r, why))
			continue
		}
		for _, o := range outs {
			if o.note != "" {
				m.Changes = append(m.Changes, fmt.Sprintf("rule %q: %s", ruleName(r), o.note))
			}
			// Both issue and add put the claim in the pipeline for the
			// rules after; only issue puts it in the token.
			env[strings.ToLower(o.Type)] = o.Source
			if r.Action.Verb == "add" {
				continue
			}
			if strings.EqualFold(o.Type, TypeNameIdentifier) {
				m.NameID = &NameID{Source: o.Source, Format: o.format}
				continue
			}
			m.Claims = append(m.Claims, o.OutClaim)
		}
	}
	return m, nil
}

func skipped(r Rule, why string) Skipped {
	return Skipped{Rule: r.Text, Name: ruleName(r), At: r.Pos.String(), Why: why}
}

func ruleName(r Rule) string {
	return firstOf(r.Annotations["RuleName"], r.Annotations["RuleTemplate"], "rule at "+r.Pos.String())
}

type out struct {
	OutClaim
	format string
	note   string
}

// translateRule recognises the standard templates; why says what stops a
// rule that is none of them.
func translateRule(r Rule, env map[string]string) ([]out, string) {
	a := r.Action
	if len(r.Conds) != 1 || r.Conds[0].Exists || r.Conds[0].Var == "" {
		return nil, "only rules with one named condition (c:[…]) match a template"
	}
	c := r.Conds[0]
	typ, values, ok := selectorParts(c)
	if !ok {
		return nil, "the condition tests more than Type, Issuer and one Value"
	}
	switch {
	case a.Store != nil:
		return ldapRule(c, typ, values, a.Store)
	case a.Copy != "":
		if a.Copy != c.Var {
			return nil, fmt.Sprintf("issue(claim = %s) copies a claim no condition selects", a.Copy)
		}
		if len(values) > 0 {
			return nil, "a pass-through filtered by value: fedgate cannot filter values, and passing them all would send more than ADFS did"
		}
		src, known := env[strings.ToLower(typ)]
		if !known {
			return nil, fmt.Sprintf("no fedgate value carries the incoming claim %s", typ)
		}
		return []out{{OutClaim: OutClaim{typ, src}}}, ""
	}
	f := fieldMap(a.Fields)
	outType, ok := literal(f["Type"])
	if !ok {
		return nil, "the issued Type is not a plain string"
	}
	format, _ := literal(f["Properties:"+propFormat])
	if v, isLit := literal(f["Value"]); isLit {
		if len(values) != 1 || values[0].Op != "==" || (typ != TypeGroupSID && typ != TypeGroup) {
			return nil, "a constant value on a condition other than one group: fedgate issues no constants"
		}
		// "Send Group Membership as a Claim": ADFS sends the constant to
		// members of one group; fedgate can only send the group names.
		note := fmt.Sprintf("%s now carries the user's group names, where ADFS sent %q to members of %s", outType, v, values[0].Value)
		return []out{{OutClaim: OutClaim{outType, "groups"}, note: note}}, ""
	}
	if !isRef(f["Value"], c.Var, "Value") {
		return nil, "the issued Value is computed (a function or concatenation)"
	}
	if len(values) > 0 {
		return nil, "a transform filtered by value: fedgate cannot filter values"
	}
	src, known := env[strings.ToLower(typ)]
	if !known {
		return nil, fmt.Sprintf("no fedgate value carries the incoming claim %s", typ)
	}
	return []out{{OutClaim: OutClaim{outType, src}, format: format}}, ""
}

// ldapRule is "Send LDAP Attributes as Claims", and the Microsoft 365
// rules that look a user up by sAMAccountName.
func ldapRule(c Cond, typ string, values []Test, s *StoreQuery) ([]out, string) {
	if !strings.EqualFold(s.Store, adStore) {
		return nil, fmt.Sprintf("attribute store %q: only Active Directory is translated", s.Store)
	}
	if !strings.EqualFold(typ, TypeWindowsAccountName) || len(values) > 0 {
		return nil, "an LDAP query keyed by something else than the signed-in Windows account"
	}
	parts := strings.Split(s.Query, ";")
	if len(parts) != 3 {
		return nil, fmt.Sprintf("query %q is not \"filter;attributes;account\"", s.Query)
	}
	if f := strings.ToLower(strings.TrimSpace(parts[0])); f != "" && f != "samaccountname={0}" {
		return nil, fmt.Sprintf("a custom LDAP filter %q", parts[0])
	}
	attrs := strings.Split(parts[1], ",")
	if len(attrs) != len(s.Types) {
		return nil, fmt.Sprintf("%d attributes for %d claim types", len(attrs), len(s.Types))
	}
	var outs []out
	for i, attr := range attrs {
		attr = strings.TrimSpace(attr)
		o := out{OutClaim: OutClaim{Type: s.Types[i]}}
		o.Source = ldapSources[strings.ToLower(attr)]
		switch {
		case o.Source == "":
			o.Source = "claim:" + strings.ToLower(attr)
			o.note = fmt.Sprintf("AD attribute %s comes from the upstream's claim %q", attr, strings.ToLower(attr))
		case strings.HasPrefix(o.Source, "claim:"):
			o.note = fmt.Sprintf("AD attribute %s comes from the upstream's claim %q", attr, strings.TrimPrefix(o.Source, "claim:"))
		case o.Source == "groups" && !strings.EqualFold(attr, "Token-Groups - Unqualified Names"):
			o.note = fmt.Sprintf("%s is sent as fedgate's group names (as the upstream gives them)", attr)
		}
		outs = append(outs, o)
	}
	return outs, ""
}

// selectorParts splits a selector into its Type (required, ==), an Issuer
// test (must be AD AUTHORITY if present) and its Value tests.
func selectorParts(c Cond) (typ string, values []Test, ok bool) {
	for _, t := range c.Tests {
		switch {
		case t.Prop == "Type" && t.Op == "==" && typ == "":
			typ = t.Value
		case t.Prop == "Issuer" && t.Op == "==" && strings.EqualFold(t.Value, adAuthority):
		case t.Prop == "Value" && len(values) == 0:
			values = append(values, t)
		default:
			return "", nil, false
		}
	}
	return typ, values, typ != ""
}

func fieldMap(fs []Field) map[string]Expr {
	m := map[string]Expr{}
	for _, f := range fs {
		k := f.Name
		if k == "Properties" {
			k += ":" + f.Key
		}
		m[k] = f.Expr
	}
	return m
}

func literal(e Expr) (string, bool) {
	if len(e) != 1 || e[0].Lit == nil {
		return "", false
	}
	return *e[0].Lit, true
}

func isRef(e Expr, v, prop string) bool {
	return len(e) == 1 && e[0].Var == v && e[0].Prop == prop
}

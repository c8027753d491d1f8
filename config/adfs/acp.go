package adfs

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
)

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// builtinACPs are ADFS 2016's built-in access control policies, by name,
// as fedgate rules. group is filled from the trust's GroupParameter.
var builtinACPs = map[string]func(groups []string) ([]PolicyRule, string){
	"Permit everyone": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "permit everyone"}}, ""
	},
	"Permit everyone and require MFA": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "everyone, with MFA", MFA: true}}, ""
	},
	"Permit everyone and require MFA for specific group": func(g []string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "the group, with MFA", Groups: g, MFA: true}, {Name: "everyone else"}}, ""
	},
	"Permit everyone and require MFA from extranet access": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "intranet", Networks: []string{IntranetNetwork}}, {Name: "extranet, with MFA", MFA: true}}, ""
	},
	"Permit everyone and require MFA from unauthenticated devices": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "everyone, with MFA", MFA: true}},
			"ADFS device registrations do not carry over: everyone is asked for MFA; to exempt company PCs, add a devices: entry for the CA that issues their certificates and a first rule with device: (docs/mfa.md)"
	},
	"Permit everyone and require MFA, allow automatic device registration": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "everyone, with MFA", MFA: true}},
			"automatic device registration has no fedgate counterpart; MFA is required as before"
	},
	"Permit everyone for intranet access": func([]string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "intranet", Networks: []string{IntranetNetwork}}}, ""
	},
	"Permit specific group": func(g []string) ([]PolicyRule, string) {
		return []PolicyRule{{Name: "the group", Groups: g}}, ""
	},
}

// TranslateACP turns a trust's access control policy (built in, or custom
// from Get-AdfsAccessControlPolicy) with its parameters into policy rules.
// why is set when it cannot be translated.
func TranslateACP(name string, params map[string]json.RawMessage, custom map[string]AccessControlPolicy) (rules []PolicyRule, changes []string, why string) {
	groups, note := groupParameter(params)
	if note != "" {
		changes = append(changes, note)
	}
	if b, ok := builtinACPs[name]; ok {
		if strings.Contains(name, "group") && len(groups) == 0 {
			return nil, nil, fmt.Sprintf("access control policy %q without a GroupParameter", name)
		}
		rules, n := b(groups)
		if n != "" {
			changes = append(changes, n)
		}
		return rules, changes, ""
	}
	p, ok := custom[name]
	if !ok {
		return nil, nil, fmt.Sprintf("access control policy %q is not built in and not in the Get-AdfsAccessControlPolicy export", name)
	}
	rules, why = customACP(p.PolicyMetadata.XML, groups)
	return rules, changes, why
}

// groupParameter reads GroupParameter (one string or a list). A SID is
// kept, with a note that it must become the group's name.
func groupParameter(params map[string]json.RawMessage) ([]string, string) {
	raw, ok := params["GroupParameter"]
	if !ok {
		return nil, ""
	}
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil, ""
		}
		list = []string{one}
	}
	var sids []string
	for i, g := range list {
		list[i] = groupName(g)
		if sidPattern.MatchString(g) {
			sids = append(sids, g)
		}
	}
	if len(sids) > 0 {
		return list, fmt.Sprintf("group SIDs %s: fedgate matches group names; replace them in the policy", strings.Join(sids, ", "))
	}
	return list, ""
}

// mfaClaims and mfaValues: a SpecificClaimCondition that asks for one of
// these values of one of these claims asks for MFA.
var (
	mfaClaims = map[string]bool{
		"http://schemas.microsoft.com/claims/authnmethodsreferences":                   true,
		"http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod": true,
	}
	mfaValues = map[string]bool{
		"http://schemas.microsoft.com/claims/multipleauthn": true,
		"https://refeds.org/profile/mfa":                    true,
	}
)

// acpXML is the PolicyMetadata document: a list of permit rules, each a
// list of conditions that must all hold.
type acpXML struct {
	Fresh string `xml:"RequireFreshAuthentication"`
	Rules []struct {
		Conditions []struct {
			Type      string   `xml:"http://www.w3.org/2001/XMLSchema-instance type,attr"`
			ClaimType string   `xml:"ClaimType"`
			Operator  string   `xml:"Operator"`
			Values    []string `xml:"Values>Value"`
			Params    []string `xml:"Values>Parameter"`
		} `xml:"Conditions>Condition"`
		Exclusions []struct{} `xml:"Exclusions>Condition"`
	} `xml:"IssuanceAuthorizationRules>Rule"`
}

// customACP translates the conditions whose meaning is plain: always,
// MFA present (or an authentication-method claim naming MFA), location
// intranet/extranet, group membership (values or the GroupParameter, as a
// group condition or a group claim). Anything else is reported, never
// guessed. AlwaysCondition, MultiFactorAuthenticationCondition and
// SpecificClaimCondition are as published samples write them;
// LocationCondition, GroupMembershipCondition and <Parameter> are named as
// the policy editor's conditions are, not seen in a published export.
func customACP(doc string, groups []string) ([]PolicyRule, string) {
	var m acpXML
	if err := xml.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Sprintf("PolicyMetadata is not readable XML: %v", err)
	}
	if strings.EqualFold(m.Fresh, "true") {
		return nil, "RequireFreshAuthentication: no fedgate counterpart"
	}
	var rules []PolicyRule
	var extranetOnly []int // rules that hold only outside the intranet
	for i, r := range m.Rules {
		if len(r.Exclusions) > 0 {
			return nil, "a rule with exceptions (Exclusions)"
		}
		pr := PolicyRule{Name: fmt.Sprintf("rule %d", i+1)}
		for _, c := range r.Conditions {
			kind := c.Type[strings.LastIndexByte(c.Type, ':')+1:]
			switch {
			case kind == "AlwaysCondition":
			case kind == "MultiFactorAuthenticationCondition" && c.Operator == "IsPresent":
				pr.MFA = true
			case kind == "LocationCondition" && c.Operator == "Equals" && len(c.Values) == 1 && strings.EqualFold(c.Values[0], "Intranet"):
				pr.Networks = []string{IntranetNetwork}
			case kind == "LocationCondition" && c.Operator == "Equals" && len(c.Values) == 1 && strings.EqualFold(c.Values[0], "Extranet"):
				extranetOnly = append(extranetOnly, len(rules))
			case (kind == "GroupMembershipCondition" || kind == "SpecificClaimCondition" && incoming[c.ClaimType] == "groups") &&
				(c.Operator == "Contains" || c.Operator == "Equals"):
				if len(c.Params) > 0 {
					pr.Groups = append(pr.Groups, groups...)
				}
				for _, v := range c.Values {
					pr.Groups = append(pr.Groups, groupName(v))
				}
			case kind == "SpecificClaimCondition" && mfaClaims[c.ClaimType] && (c.Operator == "Contains" || c.Operator == "Equals") &&
				len(c.Values) > 0 && !slices.ContainsFunc(c.Values, func(v string) bool { return !mfaValues[v] }):
				pr.MFA = true
			default:
				return nil, fmt.Sprintf("condition %s %s %v: no fedgate counterpart", kind, c.Operator, c.Values)
			}
		}
		rules = append(rules, pr)
	}
	if len(extranetOnly) > 0 {
		// "Extranet" is "not intranet": a rule for it first denies nothing,
		// so it needs a not-condition fedgate's PolicyRule does not have.
		return nil, "a rule limited to extranet access: write it by hand with when: { not: { networks: [intranet] } }"
	}
	// ADFS permits when any rule holds; fedgate's first matching rule
	// decides. Rules without MFA go first, so that a user one of them
	// permits is not asked for MFA by an earlier one that also matches.
	slices.SortStableFunc(rules, func(a, b PolicyRule) int { return cmp.Compare(btoi(a.MFA), btoi(b.MFA)) })
	return rules, ""
}

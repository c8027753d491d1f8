// Package adfs reads what an ADFS farm's admin exports with stock
// PowerShell (relying party trusts, application groups, access control
// policies, FederationMetadata.xml) and writes fedgate app fragments,
// policy files and a report of what was and was not migrated. It parses
// the claim rule language with a real grammar (parse.go) and translates
// only the standard templates; every other rule is reported with its text.
package adfs

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Export is the farm's exported files, as read (any may be empty).
type Export struct {
	RelyingPartyTrusts       []byte // Get-AdfsRelyingPartyTrust | ConvertTo-Json -Depth 6
	ApplicationGroups        []byte // Get-AdfsApplicationGroup
	ServerApplications       []byte // Get-AdfsServerApplication
	NativeClientApplications []byte // Get-AdfsNativeClientApplication
	WebApiApplications       []byte // Get-AdfsWebApiApplication
	AccessControlPolicies    []byte // Get-AdfsAccessControlPolicy
	FederationMetadata       []byte // https://<fs>/FederationMetadata/2007-06/FederationMetadata.xml
}

// Options steer the import.
type Options struct {
	// KeepIdentity: the token-signing key was imported, so SAML and WS-Fed
	// apps keep the farm's identifier as their issuer.
	KeepIdentity bool
	// SecretHash returns the hash of a new client secret for a
	// confidential OIDC client (ADFS never exports secrets); the caller
	// keeps the secret for the app's owner.
	SecretHash func(app string) string
}

// Statuses of a report row.
const (
	Migrated            = "migrated"
	MigratedWithChanges = "migrated with changes"
	NotMigrated         = "not migrated"
)

// Row is one trust (or application group client) in the report.
type Row struct {
	Trust   string   `json:"trust"`
	Kind    string   `json:"kind"` // saml, wsfed, oidc
	App     string   `json:"app,omitempty"`
	Policy  string   `json:"policy,omitempty"`
	Status  string   `json:"status"`
	Why     string   `json:"why,omitempty"`
	Changes []string `json:"changes,omitempty"`
	// AppMustChange is what the app's owner must still do.
	AppMustChange []string  `json:"app_must_change,omitempty"`
	Skipped       []Skipped `json:"untranslated_rules,omitempty"`
}

// Result is the files to write (path relative to the output directory →
// content) and the report.
type Result struct {
	Files  map[string][]byte
	Farm   *Farm
	Rows   []Row
	Errors []string // export files that could not be read at all
}

// Import translates an export.
func Import(e Export, o Options) *Result {
	res := &Result{Files: map[string][]byte{}}
	im := &importer{res: res, opt: o, ids: map[string]bool{}, acps: map[string]AccessControlPolicy{}}
	if len(e.FederationMetadata) > 0 {
		f, err := ParseFederationMetadata(e.FederationMetadata)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		}
		res.Farm = f
	}
	acps, err := decodeList[AccessControlPolicy](e.AccessControlPolicies)
	im.fail("Get-AdfsAccessControlPolicy", err)
	for _, p := range acps {
		im.acps[p.Name] = p
	}
	trusts, err := decodeList[RelyingPartyTrust](e.RelyingPartyTrusts)
	im.fail("Get-AdfsRelyingPartyTrust", err)
	for _, t := range trusts {
		im.trust(t)
	}
	groups, err := decodeList[ApplicationGroup](e.ApplicationGroups)
	im.fail("Get-AdfsApplicationGroup", err)
	servers, err := decodeList[ServerApplication](e.ServerApplications)
	im.fail("Get-AdfsServerApplication", err)
	natives, err := decodeList[NativeClientApplication](e.NativeClientApplications)
	im.fail("Get-AdfsNativeClientApplication", err)
	apis, err := decodeList[WebApiApplication](e.WebApiApplications)
	im.fail("Get-AdfsWebApiApplication", err)
	for _, g := range groups {
		im.group(g, servers, natives, apis)
	}
	return res
}

type importer struct {
	res  *Result
	opt  Options
	ids  map[string]bool
	acps map[string]AccessControlPolicy
}

func (im *importer) fail(what string, err error) {
	if err != nil {
		im.res.Errors = append(im.res.Errors, fmt.Sprintf("%s: %v", what, err))
	}
}

var nonID = regexp.MustCompile(`[^a-z0-9]+`)

// appID makes a unique fedgate id from an ADFS display name.
func (im *importer) appID(name string) string {
	base := strings.Trim(nonID.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 50 {
		base = strings.Trim(base[:50], "-")
	}
	if base == "" {
		base = "app"
	}
	id := base
	for n := 2; im.ids[id]; n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	im.ids[id] = true
	return id
}

// accessPolicy writes the policy for an app from its ACP or its
// authorization rules; it returns the policy name, or why there is none.
func (im *importer) accessPolicy(id, trust, acp string, params map[string]json.RawMessage, authz, mfa string, row *Row) bool {
	var rules []PolicyRule
	var changes []string
	name := "adfs-" + id
	comment := fmt.Sprintf("Imported from ADFS: the access rules of %q.", trust)
	switch {
	case acp != "":
		var why string
		rules, changes, why = TranslateACP(acp, params, im.acps)
		if why != "" {
			row.Why = why
			return false
		}
		comment += fmt.Sprintf("\nAccess control policy %q.", acp)
	case strings.TrimSpace(authz) != "":
		var skip []Skipped
		var err error
		rules, changes, skip, err = TranslateAuthorization(authz)
		if err != nil {
			row.Why = "IssuanceAuthorizationRules: " + err.Error()
			return false
		}
		if len(skip) > 0 {
			// A dropped permit would deny more, a dropped deny allow more:
			// either way the meaning would change, so nothing is written.
			row.Skipped = append(row.Skipped, skip...)
			row.Why = "authorization rules that match no template (see the rules listed)"
			return false
		}
		comment += "\nIssuanceAuthorizationRules, deny rules first (in ADFS a deny wins)."
	default:
		// Neither: ADFS permits nobody.
		changes = append(changes, "the trust had no access control policy and no authorization rules: nobody was permitted, and nobody is")
	}
	if strings.TrimSpace(mfa) != "" {
		var skip []Skipped
		var err error
		rules, skip, err = ApplyAdditionalAuthentication(rules, mfa)
		switch {
		case err != nil:
			row.Why = "AdditionalAuthenticationRules: " + err.Error()
			return false
		case len(skip) > 0:
			// Dropping an MFA requirement would let in what ADFS did not.
			row.Skipped = append(row.Skipped, skip...)
			row.Why = "additional authentication (MFA) rules that match no template (see the rules listed)"
			return false
		}
		comment += "\nAdditionalAuthenticationRules: MFA where ADFS asked for it."
	}
	row.Changes = append(row.Changes, changes...)
	row.Policy = name
	im.res.Files["policies/"+name+".yaml"] = PolicyYAML(name, comment, rules)
	return true
}

// issuance translates a trust's issuance rules into the row: nil (and
// Why) when they do not parse.
func (r *Row) issuance(what, rules string) *Mapping {
	m, err := TranslateIssuance(rules)
	if err != nil {
		r.Why = what + ": " + err.Error()
		return nil
	}
	r.Skipped = append(r.Skipped, m.Skipped...)
	r.Changes = append(r.Changes, m.Changes...)
	return m
}

func (r *Row) finish() {
	switch {
	case r.Why != "":
		r.Status = NotMigrated
		r.App, r.Policy = "", ""
	case len(r.Changes) > 0 || len(r.Skipped) > 0:
		r.Status = MigratedWithChanges
	default:
		r.Status = Migrated
	}
}

// issuer is the issuer line of SAML and WS-Fed apps when the identity is
// kept.
func (im *importer) issuer() string {
	if im.opt.KeepIdentity && im.res.Farm != nil {
		return im.res.Farm.Identifier
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package adfs

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testHash stands in for a new client secret's hash: a valid argon2id
// string, fixed so that the golden files are stable.
const testHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$Z0rCNJmnJ8N1wRUm1RGx+LwI0cKbYl0UK7pdZ1F3bGQ"

func loadFarm(t *testing.T) Export {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "farm", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return Export{
		RelyingPartyTrusts:       read("RelyingPartyTrusts.json"),
		ApplicationGroups:        read("ApplicationGroups.json"),
		ServerApplications:       read("ServerApplications.json"),
		NativeClientApplications: read("NativeClientApplications.json"),
		WebApiApplications:       read("WebApiApplications.json"),
		AccessControlPolicies:    read("AccessControlPolicies.json"),
		FederationMetadata:       read("FederationMetadata.xml"),
	}
}

// TestImportGolden imports the corpus and compares every file written, and
// the report in both forms, with testdata/golden (go test -update rewrites).
func TestImportGolden(t *testing.T) {
	res := Import(loadFarm(t), Options{KeepIdentity: true, SecretHash: func(string) string { return testHash }})
	files := map[string][]byte{"report.md": res.Markdown(), "report.json": res.JSON()}
	for k, v := range res.Files {
		files[k] = v
	}
	dir := filepath.Join("testdata", "golden")
	if *update {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var golden []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			golden = append(golden, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range golden {
		want, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		got, ok := files[name]
		switch {
		case !ok:
			t.Errorf("%s: in golden, not written", name)
		case !bytes.Equal(got, want):
			t.Errorf("%s differs from golden (run go test -update and review the diff):\n%s", name, got)
		}
	}
	for name := range files {
		if !slices.Contains(golden, name) {
			t.Errorf("%s: written, not in golden", name)
		}
	}
}

// Every trust of the corpus gets exactly one row per app it became, with
// the status the corpus was built to produce.
func TestImportStatuses(t *testing.T) {
	res := Import(loadFarm(t), Options{SecretHash: func(string) string { return testHash }})
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	want := map[string]string{
		"HR Portal":                                MigratedWithChanges,
		"Microsoft Office 365 Identity Platform":   MigratedWithChanges,
		"App 1 (Permit everyone)":                  MigratedWithChanges, // no NameID rule
		"App 8 (Contractors: extranet only)":       NotMigrated,
		"Broken rules":                             NotMigrated,
		"Finance Reports":                          NotMigrated, // an MFA rule on a group
		"Disabled app":                             NotMigrated,
		"Legacy Payroll":                           MigratedWithChanges,
		"Orphan API":                               NotMigrated,
		"Expenses / Expenses - Server application": Migrated,
		"Expenses / Expenses - Native application": Migrated,
	}
	seen := map[string]int{}
	for _, r := range res.Rows {
		seen[r.Trust]++
		if w, ok := want[r.Trust]; ok && r.Status != w {
			t.Errorf("%s: %s (%s), want %s", r.Trust, r.Status, r.Why, w)
		}
		if r.Status == NotMigrated && (r.Why == "" || r.App != "") {
			t.Errorf("%s: not migrated needs a reason and no app: %+v", r.Trust, r)
		}
		if r.Status != NotMigrated && res.Files["apps/"+r.App+".yaml"] == nil {
			t.Errorf("%s: no app file for %q", r.Trust, r.App)
		}
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d rows", name, n)
		}
	}
	for _, r := range res.Rows {
		if r.Trust == "Broken rules" && !strings.Contains(r.Why, "4:1") {
			t.Errorf("a syntax error must say where: %s", r.Why)
		}
		if r.Trust == "Legacy Payroll" && len(r.Skipped) != 3 {
			t.Errorf("Legacy Payroll: %d untranslated rules, want 3 (SQL store, two conditions, NOT EXISTS)", len(r.Skipped))
		}
		// Without the imported key, every SAML/WS-Fed app must be told.
		if (r.Kind == "saml" || r.Kind == "wsfed") && r.Status != NotMigrated && !strings.Contains(strings.Join(r.AppMustChange, " "), "new IdP identity") {
			t.Errorf("%s: without --token-signing-pfx the app must import new metadata: %v", r.Trust, r.AppMustChange)
		}
	}
}

// Without SecretHash, confidential clients are reported, not a panic.
func TestImportWithoutSecrets(t *testing.T) {
	res := Import(loadFarm(t), Options{})
	for _, r := range res.Rows {
		if strings.HasSuffix(r.Trust, "Server application") && (r.Status != NotMigrated || !strings.Contains(r.Why, "secret")) {
			t.Errorf("%+v", r)
		}
		if strings.HasSuffix(r.Trust, "Native application") && r.Status != Migrated {
			t.Errorf("a public client needs no secret: %+v", r)
		}
	}
}

func TestTranslateIssuance(t *testing.T) {
	const win = `c:[Type == "` + TypeWindowsAccountName + `", Issuer == "AD AUTHORITY"]`
	for _, tc := range []struct {
		name, src string
		claims    []OutClaim
		nameID    *NameID
		skipped   int
	}{
		{"ldap", win + ` => issue(store = "Active Directory", types = ("e", "u", "g"), query = ";mail,userPrincipalName,tokenGroups;{0}", param = c.Value);`,
			[]OutClaim{{"e", "email"}, {"u", "upn"}, {"g", "groups"}}, nil, 0},
		{"ldap add then pass through", win + ` => add(store = "Active Directory", types = ("d"), query = ";department;{0}", param = c.Value);
			c:[Type == "d"] => issue(claim = c);`, []OutClaim{{"d", "claim:department"}}, nil, 0},
		{"other store", win + ` => issue(store = "SQL", types = ("e"), query = "x", param = c.Value);`, nil, nil, 1},
		{"custom LDAP filter", win + ` => issue(store = "Active Directory", types = ("e"), query = "mail={0};mail;{1}", param = c.Value, param = c.Value);`, nil, nil, 1},
		{"transform to nameid", `c:[Type == "` + TypeUPN + `"] => issue(Type = "` + TypeNameIdentifier + `", Value = c.Value, Properties["` + propFormat + `"] = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent");`,
			nil, &NameID{"upn", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"}, 0},
		{"filtered pass through", `c:[Type == "` + TypeGroup + `", Value =~ "^adm"] => issue(claim = c);`, nil, nil, 1},
		{"group membership", `c:[Type == "` + TypeGroupSID + `", Value == "S-1-5-32-544", Issuer == "AD AUTHORITY"] => issue(Type = "r", Value = "Admins");`,
			[]OutClaim{{"r", "groups"}}, nil, 0},
		{"constant without a group", `c:[Type == "` + TypeUPN + `", Value == "a"] => issue(Type = "r", Value = "x");`, nil, nil, 1},
		{"computed value", `c:[Type == "` + TypeUPN + `"] => issue(Type = "r", Value = "x" + c.Value);`, nil, nil, 1},
		{"unknown incoming type", `c:[Type == "urn:other"] => issue(claim = c);`, nil, nil, 1},
		{"no condition", `=> issue(Type = "r", Value = "x");`, nil, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := TranslateIssuance(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(m.Claims, tc.claims) {
				t.Errorf("claims %v, want %v", m.Claims, tc.claims)
			}
			if (m.NameID == nil) != (tc.nameID == nil) || m.NameID != nil && *m.NameID != *tc.nameID {
				t.Errorf("name id %v, want %v", m.NameID, tc.nameID)
			}
			if len(m.Skipped) != tc.skipped {
				t.Errorf("skipped %v, want %d", m.Skipped, tc.skipped)
			}
			for _, s := range m.Skipped {
				if s.Rule == "" || s.Why == "" || s.At == "" {
					t.Errorf("a skipped rule must carry its text, place and reason: %+v", s)
				}
			}
		})
	}
}

func TestTranslateAuthorization(t *testing.T) {
	permit := `=> issue(Type = "` + TypePermit + `", Value = "true");`
	rules, _, skip, err := TranslateAuthorization(`c:[Type == "` + TypeGroup + `", Value == "Staff"] => issue(Type = "` + TypePermit + `", Value = "x");
		c:[Type == "` + TypeGroupSID + `", Value == "S-1-5-21-1-2-3-4"] => issue(Type = "` + TypeDeny + `", Value = "x");
		c:[Type == "urn:dept", Value =~ "^fin"] => issue(Type = "` + TypePermit + `", Value = "x");
		` + permit)
	if err != nil || len(skip) > 0 {
		t.Fatal(err, skip)
	}
	if len(rules) != 4 || !rules[0].Deny || rules[0].Groups[0] != "S-1-5-21-1-2-3-4" || rules[1].Groups[0] != "Staff" ||
		rules[2].Claim == nil || rules[2].Claim.Regex != ".*(?:^fin).*" || len(rules[3].Groups)+len(rules[3].Networks) != 0 {
		t.Errorf("rules %+v", rules)
	}
	_, _, skip, _ = TranslateAuthorization(`c:[Type == "` + TypeGroup + `", Value =~ "adm"] => issue(Type = "` + TypePermit + `", Value = "x");`)
	if len(skip) != 1 {
		t.Errorf("a group regex must be reported, got %v", skip)
	}
}

// Windows PowerShell's Out-File writes UTF-16LE with a byte order mark;
// one result is an object, several an array; broken JSON is an error.
func TestDecodeList(t *testing.T) {
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range `{"Name": "Ä"}` {
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	for _, tc := range []struct {
		in   []byte
		want []string
		err  bool
	}{
		{[]byte(`[{"Name": "a"}, {"Name": "b"}]`), []string{"a", "b"}, false},
		{[]byte("\ufeff{\"Name\": \"a\"}"), []string{"a"}, false},
		{utf16, []string{"Ä"}, false},
		{[]byte("  "), nil, false},
		{[]byte(`[{"Name": `), nil, true},
		{[]byte(`{"Name": "a", "EncryptionCertificate": {"RawData": [1, 2, 3]}}`), nil, true},
	} {
		got, err := decodeList[RelyingPartyTrust](tc.in)
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		var names []string
		for _, g := range got {
			names = append(names, g.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("%q: %v, want %v", tc.in, names, tc.want)
		}
	}
}

func TestApplyAdditionalAuthentication(t *testing.T) {
	mfa := `=> issue(Type = "` + typeAuthnMethod + `", Value = "` + methodMultipleAuthn + `");`
	extranet := `c:[Type == "` + typeInsideCorpNet + `", Value == "false"] => issue(Type = "` + typeAuthnMethod + `", Value = "` + methodMultipleAuthn + `");`
	base := []PolicyRule{{Name: "deny", Deny: true}, {Name: "staff", Groups: []string{"Staff"}}, {Name: "office", Networks: []string{IntranetNetwork}}, {Name: "lab", Networks: []string{"10.9.0.0/16"}}}
	got, skip, err := ApplyAdditionalAuthentication(base, mfa)
	if err != nil || len(skip) > 0 || len(got) != 4 || got[0].MFA || !got[1].MFA || !got[2].MFA || !got[3].MFA {
		t.Errorf("always: %+v %v %v", got, skip, err)
	}
	got, skip, err = ApplyAdditionalAuthentication(base, extranet)
	want := []PolicyRule{base[0], {Name: "staff (intranet)", Groups: []string{"Staff"}, Networks: []string{IntranetNetwork}},
		{Name: "staff", Groups: []string{"Staff"}, MFA: true}, base[2], {Name: "lab", Networks: []string{"10.9.0.0/16"}, MFA: true}}
	if err != nil || len(skip) > 0 || len(got) != len(want) {
		t.Fatalf("extranet: %+v %v %v", got, skip, err)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].MFA != want[i].MFA || !slices.Equal(got[i].Networks, want[i].Networks) {
			t.Errorf("extranet rule %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Anything else is reported: dropping it would ask for less than ADFS.
	for _, src := range []string{
		`c:[Type == "` + TypeGroup + `", Value == "Admins"] => issue(Type = "` + typeAuthnMethod + `", Value = "` + methodMultipleAuthn + `");`,
		`=> issue(Type = "` + typeAuthnMethod + `", Value = "urn:other");`,
	} {
		if _, skip, _ := ApplyAdditionalAuthentication(base, src); len(skip) != 1 {
			t.Errorf("%s: skipped %v, want it reported", src, skip)
		}
	}
	if _, _, err := ApplyAdditionalAuthentication(base, "=> issue("); err == nil {
		t.Error("a syntax error must be an error")
	}
}

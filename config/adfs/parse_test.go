package adfs

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fedgate/fedgate/policy"
)

func TestParseRules(t *testing.T) {
	src := `@RuleTemplate = "LdapClaims"
@RuleName = "LDAP"
c:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname", Issuer == "AD AUTHORITY"]
 => issue(store = "Active Directory", types = ("a", "b"), query = ";mail,userPrincipalName;{0}", param = c.Value);

c1:[type == "g", value =~ "^(?i)admins$"] && NOT EXISTS([Type == "x"]) && exists([Type == "y"])
 => ADD(Type = "r", Value = RegexReplace(c1.Value, "a", "b") + "-" + c1.Value, Properties["p"] = "v");

 => issue(claim = c);`
	rules, err := ParseRules(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 {
		t.Fatalf("%d rules, want 3", len(rules))
	}
	r := rules[0]
	if r.Annotations["RuleTemplate"] != "LdapClaims" || r.Annotations["RuleName"] != "LDAP" {
		t.Errorf("annotations %v", r.Annotations)
	}
	if r.Action.Store == nil || r.Action.Store.Store != "Active Directory" || len(r.Action.Store.Types) != 2 ||
		r.Action.Store.Query != ";mail,userPrincipalName;{0}" || len(r.Action.Store.Params) != 1 {
		t.Errorf("store %+v", r.Action.Store)
	}
	if !strings.HasPrefix(r.Text, "c:[Type ==") || !strings.HasSuffix(r.Text, "param = c.Value);") {
		t.Errorf("text %q", r.Text)
	}
	r = rules[1]
	if len(r.Conds) != 3 || r.Conds[0].Var != "c1" || r.Conds[1].Not != true || !r.Conds[1].Exists || r.Conds[2].Not || !r.Conds[2].Exists {
		t.Errorf("conditions %+v", r.Conds)
	}
	if r.Conds[0].Tests[1].Prop != "Value" || r.Conds[0].Tests[1].Op != "=~" {
		t.Errorf("tests %+v", r.Conds[0].Tests)
	}
	if r.Action.Verb != "add" || len(r.Action.Fields) != 3 || r.Action.Fields[2].Key != "p" {
		t.Errorf("action %+v", r.Action)
	}
	if v := r.Action.Fields[1].Expr; len(v) != 3 || v[0].Func != "RegexReplace" || len(v[0].Args) != 3 {
		t.Errorf("value expression %+v", v)
	}
	if rules[2].Pos != (Pos{9, 2}) || rules[2].Action.Copy != "c" {
		t.Errorf("third rule %+v", rules[2])
	}
}

// Malformed text is an error at the place it goes wrong.
func TestParseRulesErrors(t *testing.T) {
	for _, tc := range []struct {
		src  string
		at   Pos
		want string
	}{
		{`c:[Type == "x"] => issue(claim = c)`, Pos{1, 36}, `expected ";"`},
		{`c:[Type == "x] => issue(claim = c);`, Pos{1, 12}, "string not closed"},
		{"c:[Type == \"x\"]\n  => issue(Kind = \"y\");", Pos{2, 12}, "expected Type, Value"},
		{`c:[Colour == "x"] => issue(claim = c);`, Pos{1, 4}, "expected a claim property"},
		{`c:[Type = "x"] => issue(claim = c);`, Pos{1, 9}, "expected ==, !=, =~ or !~"},
		{`c:[Type == "x"] => emit(claim = c);`, Pos{1, 20}, "expected issue or add"},
		{`NOT [Type == "x"] => issue(claim = c);`, Pos{1, 5}, "expected EXISTS after NOT"},
		{`=> issue(store = "AD", types = ("a"), query = "q", param = );`, Pos{1, 60}, "expected a string"},
		{`=> issue(store = "AD", query = "q");`, Pos{1, 24}, "expected types"},
		{"@RuleName = \"x\"\n", Pos{2, 1}, `expected "[", found the end of the text`},
		{`=> issue(Type = "a" + , Value = "b");`, Pos{1, 23}, "expected a string"},
		{"c:[Type == \"x\"] => issue(claim = c); \x00", Pos{1, 38}, "unexpected character"},
		{"=> issue(Type = \"\xff\");", Pos{1, 17}, "invalid UTF-8"},
		{`=> issue(Type = f(` + strings.Repeat("f(", 40) + `"x"` + strings.Repeat(")", 41) + `);`, Pos{1, 81}, "nested too deeply"},
	} {
		_, err := ParseRules(tc.src)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v, want a *SyntaxError", tc.src, err)
			continue
		}
		if se.Pos != tc.at || !strings.Contains(se.Msg, tc.want) {
			t.Errorf("%q: %v, want at %v: %s", tc.src, err, tc.at, tc.want)
		}
	}
}

// FuzzClaimRules: any text parses or fails with a *SyntaxError whose
// position lies inside the text; it never panics; and whatever the
// authorization rules translate to is a policy fedgate loads.
func FuzzClaimRules(f *testing.F) {
	for _, s := range []string{
		`c:[Type == "a", Issuer == "AD AUTHORITY"] => issue(store = "Active Directory", types = ("t"), query = ";mail;{0}", param = c.Value);`,
		`c1:[Type == "g", Value =~ "x"] && NOT EXISTS([Type == "y"]) => add(Type = "r", Value = RegexReplace(c1.Value, "a", "b") + "c");`,
		`@RuleName = "n" => issue(Type = "http://schemas.microsoft.com/authorization/claims/permit", Value = "true");`,
		"c:[Type == “x”] => issue(claim = c);",
		`@RuleName = "a\"b" c:[Type == "http://schemas.xmlsoap.org/claims/Group", Value =~ "^(?i)adm"] => issue(Type = "http://schemas.microsoft.com/authorization/claims/deny", Value = "x");`,
		`c:[Type == "urn:dept", Value == "fin"] => issue(Type = "http://schemas.microsoft.com/authorization/claims/permit", Value = "x");`,
		`c:[Type == "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork", Value == "false"] => issue(Type = "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod", Value = "http://schemas.microsoft.com/claims/multipleauthn");`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		rules, err := ParseRules(src)
		if err == nil {
			for _, r := range rules {
				if _, why := translateRule(r, map[string]string{}); why == "" && len(r.Conds) != 1 {
					t.Fatalf("a rule with %d conditions matched a template", len(r.Conds))
				}
			}
			if _, err := TranslateIssuance(src); err != nil {
				t.Fatalf("parsed, then did not translate: %v", err)
			}
			pr, _, _, err := TranslateAuthorization(src)
			if err != nil {
				t.Fatalf("parsed, then did not translate: %v", err)
			}
			if withMFA, _, err := ApplyAdditionalAuthentication(pr, src); err != nil {
				t.Fatalf("parsed, then did not translate: %v", err)
			} else if len(withMFA) < len(pr) {
				t.Fatalf("MFA rules dropped policy rules: %d of %d", len(withMFA), len(pr))
			} else {
				pr = withMFA
			}
			doc := PolicyYAML("fuzz", "from\nfuzz", pr)
			if _, err := policy.Load([]policy.File{{Name: "fuzz.yaml", Data: doc}}); err != nil {
				t.Fatalf("translated policy does not load: %v\n%s", err, doc)
			}
			return
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("error %T %v is not a *SyntaxError", err, err)
		}
		lines := strings.Split(src, "\n")
		if se.Pos.Line < 1 || se.Pos.Line > len(lines) || se.Pos.Col < 1 || se.Pos.Col > utf8.RuneCountInString(lines[se.Pos.Line-1])+1 {
			t.Fatalf("position %v outside the text (%d lines): %v", se.Pos, len(lines), err)
		}
	})
}

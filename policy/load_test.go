package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestLoadReportsEveryProblem(t *testing.T) {
	src := lines(
		"policy: broken",
		"timezone: Asia/Tokio",
		"mesage: { en: hi }",
		"networks:",
		"  office: [10.0.0.0/8, 10.1.2.3/8, \"2001:db8::/129\"]",
		"rules:",
		"  - name: one",
		"    when: { netwroks: [office] }",
		"    allow: {}",
		"  - name: two",
		"    when:",
		"      networks: [ofice, 300.1.1.1]",
		"      time: { weekdays: [mon, thurs], hours: \"25:00-06:00\" }",
		"    allow: { mfa: { max_age: 12 }, max_session: 8h }",
		"    deny: {}",
		"  - name: one",
		"    when:",
		"      time: { hours: \"0800\" }",
		"      claims: { email: { regex: \"(\" } }",
		"  - name: catch all",
		"    allow: {}",
		"  - name: unreachable",
		"    when: { users: [bob] }",
		"    deny: {}",
	)
	got := problems(t, File{Name: "bad.yaml", Data: []byte(src)})
	want := []string{
		`bad.yaml:2:11: unknown timezone "Asia/Tokio" (hint: use an IANA zone name such as Asia/Tokyo, America/New_York or UTC)`,
		`bad.yaml:3:1: unknown key "mesage" in policy file (hint: did you mean "message"?)`,
		`bad.yaml:5:24: CIDR "10.1.2.3/8" has host bits set (hint: did you mean 10.0.0.0/8?)`,
		`bad.yaml:5:36: invalid CIDR "2001:db8::/129" (hint: write a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address)`,
		`bad.yaml:8:13: unknown key "netwroks" in when (hint: did you mean "networks"?)`,
		`bad.yaml:12:18: unknown network "ofice" (hint: did you mean "office"?)`,
		`bad.yaml:12:25: invalid IP address "300.1.1.1" (hint: write a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address)`,
		`bad.yaml:13:31: unknown weekday "thurs" (hint: did you mean "thu"?)`,
		`bad.yaml:13:46: hours "25:00-06:00": invalid start time "25:00" (hint: write "HH:MM-HH:MM", e.g. "08:00-18:00"; a range may span midnight ("22:00-06:00"))`,
		`bad.yaml:14:30: mfa.max_age: invalid duration "12" (hint: use a positive duration like 30m, 12h or 1h30m (no days: write 168h for 7d))`,
		`bad.yaml:15:5: rule "two" has both allow and deny (hint: a rule either allows or denies; split it into two rules)`,
		`bad.yaml:16:5: rule "one" has neither allow nor deny (hint: add ` + "`allow: {}` or `deny: {}`" + `)`,
		`bad.yaml:16:11: duplicate rule name "one" (first at bad.yaml:7:11) (hint: rule names are unique within a policy)`,
		`bad.yaml:18:22: hours "0800": missing '-' between start and end (hint: write "HH:MM-HH:MM", e.g. "08:00-18:00"; a range may span midnight ("22:00-06:00"))`,
		"bad.yaml:19:33: claims.email: invalid regex: error parsing regexp: missing closing ): `(` (hint: Go RE2 syntax; the pattern must match the whole value)",
		`bad.yaml:22:5: rule "unreachable" can never match: rule "catch all" before it matches everything (hint: move it above "catch all", or give "catch all" a ` + "`when`" + `)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"rules without a policy name", "rules:\n  - name: a\n    allow: {}\n",
			[]string{"f.yaml:1:1: rules without a policy name (hint: add `policy: <name>` at the top of the file; apps refer to policies by name)"}},
		{"yaml syntax error", "policy: a\nrules: [\n",
			[]string{"f.yaml:2:8: sequence end token ']' not found (hint: fix the YAML syntax)"}},
		{"two documents", "policy: a\n---\npolicy: b\n",
			[]string{"f.yaml:2:1: a policy file holds one YAML document, found 2 (hint: put each policy in its own file)"}},
		{"Local is not a zone", "policy: a\ntimezone: Local\n",
			[]string{`f.yaml:2:11: unknown timezone "Local" (hint: use an IANA zone name such as Asia/Tokyo, America/New_York or UTC)`}},
		{"neither allow nor deny, no name", "policy: a\nrules:\n  - when: { users: [x] }\n",
			[]string{
				"f.yaml:3:5: rule #1 has no name (hint: add `name: ...`; it appears in audit events and traces)",
				"f.yaml:3:5: rule \"#1\" has neither allow nor deny (hint: add `allow: {}` or `deny: {}`)",
			}},
		{"empty list", "policy: a\nrules:\n  - name: r\n    when: { users: [] }\n    allow: {}\n",
			[]string{"f.yaml:4:20: users is an empty list and can never match (hint: remove the condition, or list at least one entry)"}},
		{"wrong shape", "policy: a\nrules:\n  - name: r\n    when: [users]\n    allow: yes\n",
			[]string{
				"f.yaml:4:11: when must be a mapping, not a list (hint: write it as key: value pairs)",
				"f.yaml:5:12: allow must be a mapping, not a single value (hint: write it as key: value pairs)",
			}},
		{"time mistakes", "policy: a\nrules:\n  - name: r\n    when:\n      time:\n        hours: \"09:00-09:00\"\n        dates: [{from: 2027-01-03, to: 2026-12-28}, {from: 2026-02-30}]\n    allow: {}\n",
			[]string{
				`f.yaml:6:16: hours "09:00-09:00": start equals end (hint: for the whole day, leave hours out or write "00:00-24:00")`,
				"f.yaml:7:17: date range ends before it starts (hint: swap from and to)",
				`f.yaml:7:60: dates.from: invalid date "2026-02-30" (hint: write dates as YYYY-MM-DD, e.g. 2026-11-23)`,
			}},
		{"claim tests", "policy: a\nrules:\n  - name: r\n    when: { claims: { a: { present: yes }, b: { equals: x, regex: y }, c: { equl: z } } }\n    allow: {}\n",
			[]string{
				"f.yaml:4:37: claims.a.present must be true or false (hint: write true or false)",
				"f.yaml:4:47: claims.b needs exactly one test, found 2 (hint: use exactly one of equals, one_of, regex or present)",
				`f.yaml:4:77: unknown key "equl" in claims.c (hint: did you mean "equals"?)`,
			}},
		{"networks", "networks:\n  9lives: [10.0.0.0/8]\n  corp: [office]\n  zoned: [\"fe80::1%eth0\"]\n",
			[]string{
				`f.yaml:2:3: invalid network name "9lives" (hint: start with a letter; use letters, digits, '-', '_' or '.')`,
				`f.yaml:3:10: invalid address "office" in network "corp" (hint: a named network lists addresses (10.0.0.0/8, 2001:db8::/32, 192.0.2.1), not other names)`,
				`f.yaml:4:11: invalid IP address "fe80::1%eth0" (hint: write a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address)`,
			}},
		{"duplicate key", "policy: a\nrules: []\npolicy: b\n",
			[]string{`f.yaml:3:1: mapping key "policy" already defined at [1:1] (hint: remove one of them)`}},
		{"aliases", "policy: a\nrules:\n  - &r { name: r, allow: {} }\n  - *r\n",
			[]string{
				"f.yaml:4:5: YAML aliases are not supported (hint: repeat the value, or define a named network under networks:)",
			}},
		{"rule that is not a mapping", "policy: a\nrules:\n  - office\n",
			[]string{"f.yaml:3:5: rule must be a mapping, not a single value (hint: write it as key: value pairs)"}},
		{"mfa", "policy: a\nrules:\n  - name: r\n    allow: { mfa: { methods: [], max_age: -1h }, max_sesion: 8h }\n",
			[]string{
				"f.yaml:4:30: mfa.methods is an empty list and can never match (hint: remove the condition, or list at least one entry)",
				`f.yaml:4:43: mfa.max_age: invalid duration "-1h" (hint: use a positive duration like 30m, 12h or 1h30m (no days: write 168h for 7d))`,
				`f.yaml:4:50: unknown key "max_sesion" in allow (hint: did you mean "max_session"?)`,
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, File{Name: "f.yaml", Data: []byte(tc.src)})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("problems:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestLoadAcrossFiles(t *testing.T) {
	got := problems(t,
		File{Name: "a.yaml", Data: []byte("policy: staff\nnetworks:\n  office: [10.0.0.0/8]\n")},
		File{Name: "b.yaml", Data: []byte("policy: staff\nnetworks:\n  office: [192.168.0.0/16]\nrules:\n  - name: r\n    when: { users: [] }\n    allow: {}\n")},
		File{Name: "c.yaml", Data: []byte("policy: c\nrules:\n  - name: r\n    when: { networks: [vpn] }\n    allow: {}\n")},
	)
	want := []string{
		"b.yaml:1:1: policy \"staff\" is already defined at a.yaml:1:1 (hint: policy names are unique across all files; rename one)",
		"b.yaml:3:3: network \"office\" is already defined at a.yaml:3:3 (hint: network names are shared by all policy files; rename one or merge the lists)",
		"b.yaml:6:20: users is an empty list and can never match (hint: remove the condition, or list at least one entry)",
		"c.yaml:4:24: unknown network \"vpn\" (hint: defined networks: office)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestProblemsAreTyped(t *testing.T) {
	_, err := Load([]File{{Name: "x.yaml", Data: []byte("policy: a\ntimezone: Nowhere/City\n")}})
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("errors.As(*Problem) failed on %v", err)
	}
	want := Problem{File: "x.yaml", Line: 2, Col: 11, Msg: `unknown timezone "Nowhere/City"`, Hint: "use an IANA zone name such as Asia/Tokyo, America/New_York or UTC"}
	if *p != want {
		t.Errorf("got %+v, want %+v", *p, want)
	}
	if got := (&Problem{File: "f", Msg: "m"}).Error(); got != "f: m" {
		t.Errorf("no position, no hint: %q", got)
	}
}

func TestSet(t *testing.T) {
	set, err := Load([]File{
		{Name: "b.yaml", Data: []byte("policy: zeta\n")},
		{Name: "a.yaml", Data: []byte("policy: alpha\nrules:\n  - name: r\n    allow: {}\n")},
		{Name: "n.yaml", Data: []byte("# only networks\nnetworks: { lab: [192.0.2.0/24] }\n")},
		{Name: "empty.yaml", Data: nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Names(); !reflect.DeepEqual(got, []string{"alpha", "zeta"}) {
		t.Errorf("Names() = %v", got)
	}
	set.Names()[0] = "changed"
	if set.Names()[0] != "alpha" {
		t.Error("Names exposes internal state")
	}
	if p, ok := set.Policy("alpha"); !ok || p.Name() != "alpha" {
		t.Errorf("Policy(alpha) = %v, %v", p, ok)
	}
	if _, ok := set.Policy("missing"); ok {
		t.Error("Policy(missing) found")
	}
}

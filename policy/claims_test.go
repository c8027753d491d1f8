package policy

import "testing"

func TestClaims(t *testing.T) {
	const tid = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
	runCondCases(t, "", []condCase{
		{name: "equals", when: "claims: { tid: { equals: " + tid + " } }",
			in: Input{Claims: map[string]string{"tid": tid}}, want: true},
		{name: "equals shorthand", when: "claims: { tid: " + tid + " }",
			in: Input{Claims: map[string]string{"tid": tid}}, want: true},
		{name: "equals is case-sensitive", when: "claims: { dept: { equals: Sales } }",
			in: Input{Claims: map[string]string{"dept": "sales"}}, failed: `claims: dept is "sales", want "Sales"`},
		{name: "equals, absent", when: "claims: { tid: { equals: x } }",
			in: Input{}, failed: `claims: tid absent, want "x"`},
		{name: "one_of", when: "claims: { dept: { one_of: [sales, marketing] } }",
			in: Input{Claims: map[string]string{"dept": "marketing"}}, want: true},
		{name: "one_of miss", when: "claims: { dept: { one_of: [sales, marketing] } }",
			in: Input{Claims: map[string]string{"dept": "it"}}, failed: `claims: dept is "it", want one of [sales, marketing]`},
		{name: "regex whole value", when: `claims: { email: { regex: '.*@partner\.example' } }`,
			in: Input{Claims: map[string]string{"email": "kim@partner.example"}}, want: true},
		{name: "regex is anchored", when: `claims: { email: { regex: '.*@partner\.example' } }`,
			in: Input{Claims: map[string]string{"email": "kim@partner.example.evil"}}, failed: `claims: email is "kim@partner.example.evil", want to match ".*@partner\\.example"`},
		{name: "present", when: "claims: { employee_id: { present: true } }",
			in: Input{Claims: map[string]string{"employee_id": "42"}}, want: true},
		{name: "present, but empty", when: "claims: { employee_id: { present: true } }",
			in: Input{Claims: map[string]string{"employee_id": ""}}, failed: "claims: employee_id absent, want present"},
		{name: "present false", when: "claims: { guest: { present: false } }",
			in: Input{}, want: true},
		{name: "present false, is present", when: "claims: { guest: { present: false } }",
			in: Input{Claims: map[string]string{"guest": "yes"}}, failed: `claims: guest is "yes", want absent`},
		{name: "all claims must hold, first failing reported", when: "claims: { tid: a, dept: b }",
			in: Input{Claims: map[string]string{"tid": "a", "dept": "c"}}, failed: `claims: dept is "c", want "b"`},
	})
}

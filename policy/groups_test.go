package policy

import "testing"

func TestGroups(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "plain list is any_of", when: "groups: [staff, contractors]",
			in: Input{Groups: []string{"sales", "contractors"}}, want: true},
		{name: "case-insensitive", when: "groups: [Domain Admins]",
			in: Input{Groups: []string{"DOMAIN ADMINS"}}, want: true},
		{name: "any_of none", when: "groups: { any_of: [staff, contractors] }",
			in: Input{Groups: []string{"sales"}}, failed: "groups: in none of [staff, contractors]"},
		{name: "no groups at all", when: "groups: [staff]",
			in: Input{}, failed: "groups: in none of [staff]"},
		{name: "all_of satisfied", when: "groups: { all_of: [admins, tier0] }",
			in: Input{Groups: []string{"Tier0", "users", "Admins"}}, want: true},
		{name: "all_of missing one", when: "groups: { all_of: [admins, tier0] }",
			in: Input{Groups: []string{"admins", "users"}}, failed: "groups: not in tier0 (all_of [admins, tier0])"},
		{name: "any_of and all_of both hold", when: "groups: { any_of: [jp, us], all_of: [staff] }",
			in: Input{Groups: []string{"us", "staff"}}, want: true},
		{name: "any_of and all_of, any fails", when: "groups: { any_of: [jp, us], all_of: [staff] }",
			in: Input{Groups: []string{"staff"}}, failed: "groups: in none of [jp, us]"},
	})
}

package policy

import "testing"

func TestUsers(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "listed", when: "users: [alice@corp.example, bob@corp.example]",
			in: Input{User: "bob@corp.example"}, want: true},
		{name: "case-insensitive both ways", when: "users: [Alice@Corp.Example]",
			in: Input{User: "ALICE@corp.example"}, want: true},
		{name: "single value shorthand", when: "users: alice",
			in: Input{User: "alice"}, want: true},
		{name: "not listed", when: "users: [alice, bob]",
			in: Input{User: "mallory"}, failed: "users: mallory not in [alice, bob]"},
		{name: "prefix is not a match", when: "users: [alice]",
			in: Input{User: "alice2"}, failed: "users: alice2 not in [alice]"},
		{name: "no user", when: "users: [alice]",
			in: Input{}, failed: "users: no user not in [alice]"},
	})
}

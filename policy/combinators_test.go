package policy

import "testing"

func TestCombinators(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "not holds", when: "not: { groups: [suspended] }",
			in: Input{Groups: []string{"staff"}}, want: true},
		{name: "not fails", when: "not: { groups: [suspended], users: [eve] }",
			in: Input{User: "eve", Groups: []string{"suspended"}}, failed: "not: {groups, users} matched"},
		{name: "not with only part matching", when: "not: { groups: [suspended], users: [eve] }",
			in: Input{User: "eve"}, want: true},
		{name: "any, second alternative", when: "any: [{ users: [alice] }, { groups: [admins] }]",
			in: Input{User: "bob", Groups: []string{"admins"}}, want: true},
		{name: "any, none", when: "any: [{ users: [alice] }, { groups: [admins] }]",
			in: Input{User: "bob"}, failed: "any: none matched (users: bob not in [alice]; groups: in none of [admins])"},
		{name: "all, every one", when: "all: [{ users: [bob] }, { apps: [wiki] }]",
			in: Input{User: "bob", App: "wiki"}, want: true},
		{name: "all, second fails", when: "all: [{ users: [bob] }, { apps: [wiki] }]",
			in: Input{User: "bob", App: "hr"}, failed: "apps: hr not in [wiki]"},
		{name: "nested", when: "any: [{ not: { networks: [10.0.0.0/8] }, auth: { amr: [mfa] } }, { networks: [10.0.0.0/8] }]",
			in: Input{ClientIP: ip("203.0.113.1"), AMR: []string{"mfa"}}, want: true},
		{name: "nested, fails", when: "any: [{ not: { networks: [10.0.0.0/8] }, auth: { amr: [mfa] } }, { networks: [10.0.0.0/8] }]",
			in:     Input{ClientIP: ip("203.0.113.1"), AMR: []string{"pwd"}},
			failed: "any: none matched (auth: amr [pwd] has none of [mfa]; networks: 203.0.113.1 not in [10.0.0.0/8])"},
		{name: "conditions in a map all hold; first failing in file order", when: "users: [bob], apps: [wiki], upstreams: [corp]",
			in: Input{User: "bob", App: "hr", Upstream: "other"}, failed: "apps: hr not in [wiki]"},
	})
}

package policy

import "testing"

func TestApps(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "listed", when: "apps: [wiki, salesforce]",
			in: Input{App: "salesforce"}, want: true},
		{name: "single value", when: "apps: wiki",
			in: Input{App: "wiki"}, want: true},
		{name: "other app", when: "apps: [wiki]",
			in: Input{App: "payroll"}, failed: "apps: payroll not in [wiki]"},
		{name: "ids are exact", when: "apps: [wiki]",
			in: Input{App: "WIKI"}, failed: "apps: WIKI not in [wiki]"},
	})
}

package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// loadExamples loads every file in examples/policies as one Set, as fedgate
// does with `policies: [policies/*.yaml]`.
func loadExamples(t testing.TB) ([]File, *Set) {
	t.Helper()
	paths, err := filepath.Glob("../examples/policies/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example policies found: %v", err)
	}
	var files []File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, File{Name: p, Data: data})
	}
	set, err := Load(files)
	if err != nil {
		t.Fatalf("examples do not load:\n%v", err)
	}
	return files, set
}

func TestExamples(t *testing.T) {
	_, set := loadExamples(t)
	// 2026-11-24 is a Tuesday; 01:00Z is 10:00 in Tokyo.
	tue10 := tm(t, "2026-11-24T01:00:00Z")
	home, office := ip("198.51.100.20"), ip("10.4.5.6")
	const tid = "6f1c2a8e-3b4d-4e5f-9a0b-1c2d3e4f5a6b"
	tests := []struct {
		policy, name string
		in           Input
		want         Effect
		rule         string
	}{
		{"office-only", "office", Input{ClientIP: office, Now: tue10}, Allow, "office or VPN"},
		{"office-only", "vpn over mapped ipv6", Input{ClientIP: ip("::ffff:192.168.100.7"), Now: tue10}, Allow, "office or VPN"},
		{"office-only", "home", Input{ClientIP: home, Now: tue10}, Deny, ""},

		{"remote-weekdays", "office, password only", Input{ClientIP: office, AMR: []string{"pwd"}, Now: tue10}, Allow, "office network"},
		{"remote-weekdays", "remote staff with mfa", Input{ClientIP: home, Groups: []string{"Staff"}, AMR: []string{"pwd", "mfa"}, AuthTime: tue10.Add(-2 * time.Hour), Now: tue10}, Allow, "remote staff on weekdays, with MFA"},
		{"remote-weekdays", "remote staff, password only", Input{ClientIP: home, Groups: []string{"staff"}, AMR: []string{"pwd"}, AuthTime: tue10, Now: tue10}, StepUp, "remote staff on weekdays, with MFA"},
		{"remote-weekdays", "remote staff on a holiday", Input{ClientIP: home, Groups: []string{"staff"}, AMR: []string{"mfa"}, AuthTime: tue10, Now: tue10.AddDate(0, 0, -1)}, Deny, ""},
		{"remote-weekdays", "remote staff at 22:00", Input{ClientIP: home, Groups: []string{"staff"}, AMR: []string{"mfa"}, AuthTime: tue10, Now: tue10.Add(12 * time.Hour)}, Deny, ""},

		{"contractors", "contractor at 10:00", Input{Groups: []string{"contractors"}, Now: tue10}, Allow, "contractors in business hours"},
		{"contractors", "contractor at 19:00", Input{Groups: []string{"contractors"}, Now: tue10.Add(9 * time.Hour)}, Deny, "contractors out of hours"},
		{"contractors", "employee at 19:00", Input{Groups: []string{"employees"}, Now: tue10.Add(9 * time.Hour)}, Allow, "employees"},

		{"admin-console", "admin, mfa 30 min ago", Input{Groups: []string{"admins"}, AMR: []string{"hwk"}, AuthTime: tue10.Add(-30 * time.Minute), Now: tue10}, Allow, "administrators with fresh MFA"},
		{"admin-console", "admin, mfa 61 min ago", Input{Groups: []string{"admins"}, AMR: []string{"hwk"}, AuthTime: tue10.Add(-61 * time.Minute), Now: tue10}, StepUp, "administrators with fresh MFA"},
		{"admin-console", "suspended admin", Input{Groups: []string{"admins", "admins-suspended"}, AMR: []string{"hwk"}, AuthTime: tue10, Now: tue10}, Deny, ""},
		{"admin-console", "not an admin", Input{Groups: []string{"staff"}, AMR: []string{"hwk"}, AuthTime: tue10, Now: tue10}, Deny, ""},

		{"partner-portal", "partner on the portal", Input{Upstream: "partner-entra", App: "partner-portal", Claims: map[string]string{"tid": tid}}, Allow, "partner tenant users on the partner portal"},
		{"partner-portal", "partner on another app", Input{Upstream: "partner-entra", App: "wiki", Claims: map[string]string{"tid": tid}}, Deny, ""},
		{"partner-portal", "another tenant", Input{Upstream: "partner-entra", App: "partner-portal", Claims: map[string]string{"tid": "00000000-0000-0000-0000-000000000000"}}, Deny, ""},
		{"partner-portal", "our staff", Input{Upstream: "corp-adfs", App: "partner-portal"}, Allow, "our own staff"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.policy+"/"+tc.name, func(t *testing.T) {
			p, ok := set.Policy(tc.policy)
			if !ok {
				t.Fatalf("policy %q not loaded; have %v", tc.policy, set.Names())
			}
			seen[tc.policy] = true
			d := Explain(p, tc.in)
			if d.Effect != tc.want || d.Rule != tc.rule {
				t.Errorf("got %v by %q, want %v by %q; trace %+v", d.Effect, d.Rule, tc.want, tc.rule, d.Trace)
			}
			if d.Effect == Deny && d.Message.En == "" && tc.policy != "contractors" {
				t.Errorf("deny without a message")
			}
		})
	}
	for _, name := range set.Names() {
		if !seen[name] {
			t.Errorf("example policy %q has no decision test", name)
		}
	}
}

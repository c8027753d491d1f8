package adfs

import (
	"strings"
	"testing"
)

// TestWindowsAccountNameRules: fedgate's user names are UPN-style, so a
// rule on DOMAIN\user never matches. A deny that never matches would let
// the user in: it is not translated. A permit only refuses: translated,
// with a change to make.
func TestWindowsAccountNameRules(t *testing.T) {
	for _, tc := range []struct {
		issue, skip, change string
	}{
		{TypeDeny, "deny on the Windows account name", ""},
		{TypePermit, "", "is a Windows account name"},
	} {
		rules, err := ParseRules(`c:[Type == "` + TypeWindowsAccountName + `", Value == "CORP\\bob"] => issue(Type = "` + tc.issue + `", Value = "true");`)
		if err != nil || len(rules) != 1 {
			t.Fatalf("parse: %v", err)
		}
		_, change, skip := authRule(rules[0])
		if (tc.skip == "") != (skip == "") || !strings.Contains(skip, tc.skip) || !strings.Contains(change, tc.change) {
			t.Errorf("%s: change %q, skip %q", tc.issue, change, skip)
		}
	}
}

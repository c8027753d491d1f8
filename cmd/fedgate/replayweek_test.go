package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/brokertest"
)

// TestPolicyReplayCommandOverAWeek: `fedgate policy replay` over the audit
// log of a week of real sign-ins (brokertest.RecordWeek, the week the
// broker's TestPolicyReplayOverAWeek replays through the library). An edit
// that keeps the meaning changes nothing (exit 0); an edit that keeps
// non-staff out of the office and lets anyone in with MFA on weekends
// reports exactly eve's 5 weekday office sign-ins (allow → deny) and her 4
// weekend ones (→ step-up), each with the rule that decided then and now,
// and nothing about alice.
func TestPolicyReplayCommandOverAWeek(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "audit.jsonl", string(brokertest.RecordWeek(t)))
	writeFile(t, dir, "fedgate.yaml", brokertest.WeekConfig)
	cfg, log := filepath.Join(dir, "fedgate.yaml"), filepath.Join(dir, "audit.jsonl")

	renamed := strings.Replace(brokertest.PortalPolicy, "name: office\n", "name: on site\n", 1)
	writeFile(t, dir, "policies/portal.yaml", renamed)
	code, stdout, stderr := runCLI("policy", "replay", "--config", cfg, log)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "28 decision(s) of the last 7 day(s) replayed; 0 would change") {
		t.Fatalf("rule renamed: exit %d\n%s%s", code, stdout, stderr)
	}

	edited := strings.Replace(brokertest.PortalPolicy, "when: { networks: [office] }", "when: { networks: [office], groups: [staff] }", 1) +
		"  - name: weekends with MFA\n    when: { time: { weekdays: [sat, sun] } }\n    allow: { mfa: {} }\n"
	writeFile(t, dir, "policies/portal.yaml", edited)
	code, stdout, stderr = runCLI("policy", "replay", "--config", cfg, log)
	var want strings.Builder
	for day := range 7 { // Wednesday to Tuesday; days 3 and 4 are the weekend
		at := brokertest.WeekStart.Add(time.Duration(day) * 24 * time.Hour).Format(time.RFC3339)
		if weekend := day == 3 || day == 4; weekend {
			fmt.Fprintf(&want, "%s  portal  user=eve upstream=local ip=%s  deny → step-up  (was no rule of portal matched: denied by default; now rule \"weekends with MFA\")\n", at, brokertest.Home)
			fmt.Fprintf(&want, "%s  portal  user=eve upstream=local ip=%s  allow → step-up  (was rule \"office\"; now rule \"weekends with MFA\")\n", at, brokertest.Office)
		} else {
			fmt.Fprintf(&want, "%s  portal  user=eve upstream=local ip=%s  allow → deny  (was rule \"office\"; now no rule of portal matched: denied by default)\n", at, brokertest.Office)
		}
	}
	if code != 1 || stdout != want.String() ||
		!strings.Contains(stderr, "28 decision(s) of the last 7 day(s) replayed; 9 would change: 5 allow → deny, 0 now allowed, 4 new step-up(s)") {
		t.Fatalf("edited: exit %d\n got:\n%s\nwant:\n%s\n%s", code, stdout, want.String(), stderr)
	}
}

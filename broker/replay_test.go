package broker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
	"github.com/fedgate/fedgate/broker/brokertest"
	"github.com/fedgate/fedgate/policy"
)

// TestPolicyReplayOverAWeek records a week of real sign-ins (alice is
// staff, eve is not; each signs in from home and from the office every
// day, Wednesday to Tuesday: brokertest.RecordWeek), then replays the
// audit log through edited policies: exactly the decisions each edit
// changes are reported, and nothing else.
func TestPolicyReplayOverAWeek(t *testing.T) {
	var events []auditlog.Event
	for _, line := range bytes.Split(bytes.TrimSpace(brokertest.RecordWeek(t)), []byte("\n")) {
		var ev auditlog.Event
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event == "access" {
			events = append(events, ev)
		}
	}
	if len(events) != 28 {
		t.Fatalf("recorded %d access events, want 28 (4 a day for 7 days)", len(events))
	}

	for _, tc := range []struct {
		name, policy string
		want         []string // "user from day: was → now"
	}{
		{"same meaning, rule renamed", `policy: portal
timezone: Asia/Tokyo
networks: { office: [10.0.0.0/8] }
rules:
  - name: on site
    when: { networks: [office] }
    allow: {}
  - name: staff, anywhere
    when: { groups: [staff] }
    allow: {}
`, nil},
		{"remote staff on weekdays only; the office for staff only", `policy: portal
timezone: Asia/Tokyo
networks: { office: [10.0.0.0/8] }
rules:
  - name: office staff
    when: { networks: [office], groups: [staff] }
    allow: {}
  - name: remote staff on weekdays
    when: { groups: [staff], time: { weekdays: [mon, tue, wed, thu, fri] } }
    allow: {}
`, []string{
			"alice 203.0.113.5 Sat: allow → deny", "alice 203.0.113.5 Sun: allow → deny",
			"eve 10.1.2.3 Wed: allow → deny", "eve 10.1.2.3 Thu: allow → deny", "eve 10.1.2.3 Fri: allow → deny",
			"eve 10.1.2.3 Sat: allow → deny", "eve 10.1.2.3 Sun: allow → deny", "eve 10.1.2.3 Mon: allow → deny",
			"eve 10.1.2.3 Tue: allow → deny",
		}},
		{"everyone else with MFA", brokertest.PortalPolicy + `  - name: anyone with MFA
    allow: { mfa: {} }
`, []string{
			"eve 203.0.113.5 Wed: deny → step-up", "eve 203.0.113.5 Thu: deny → step-up", "eve 203.0.113.5 Fri: deny → step-up",
			"eve 203.0.113.5 Sat: deny → step-up", "eve 203.0.113.5 Sun: deny → step-up", "eve 203.0.113.5 Mon: deny → step-up",
			"eve 203.0.113.5 Tue: deny → step-up",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := policy.Load([]policy.File{{Name: "portal.yaml", Data: []byte(tc.policy)}})
			if err != nil {
				t.Fatal(err)
			}
			p, _ := set.Policy("portal")
			var got []string
			for i := range events {
				ev := &events[i]
				ch, asked := auditlog.Replay(ev, func(app string) *policy.Policy { return p })
				if !asked {
					t.Fatalf("event %+v records no decision", ev)
				}
				if ch != nil {
					user, _, _ := strings.Cut(ev.User, "@")
					got = append(got, fmt.Sprintf("%s %s %s: %s → %s", user, ev.ClientIP,
						ev.Time.In(tokyo(t)).Weekday().String()[:3], ch.Was, ch.Now))
				}
			}
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func tokyo(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

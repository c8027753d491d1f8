package broker

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
	"github.com/fedgate/fedgate/policy"
)

const replayConfig = `
server: { public_url: "http://127.0.0.1:8080", insecure_http: true, trusted_proxies: [127.0.0.1/32] }
keys: { cookie: [unused.key] }
store: { memory: true }
upstreams:
  - { id: local, type: local }
  - { id: partner, type: local }
apps:
  - { id: portal, type: whoami, policy: portal, upstreams: [local] }
policies: [policies/*.yaml]
`

// portalPolicy is the policy in force while the week is recorded; the
// edits below are what an operator proposes next.
const portalPolicy = `policy: portal
timezone: Asia/Tokyo
networks: { office: [10.0.0.0/8] }
rules:
  - name: office
    when: { networks: [office] }
    allow: {}
  - name: staff anywhere
    when: { groups: [staff] }
    allow: {}
`

const (
	home   = "203.0.113.5"
	office = "10.1.2.3"
)

// TestPolicyReplayOverAWeek records a week of real sign-ins (alice is
// staff, eve is not; each signs in from home and from the office every
// day, Wednesday to Tuesday), then replays the audit log through edited
// policies: exactly the decisions each edit changes are reported, and
// nothing else.
func TestPolicyReplayOverAWeek(t *testing.T) {
	e := newEnv(t)
	e.reconfigure(replayConfig, map[string]string{"portal.yaml": portalPolicy})
	for day := range 7 {
		for _, v := range [][2]string{{"alice", home}, {"alice", office}, {"eve", home}, {"eve", office}} {
			user, from := v[0], v[1]
			c := e.from(from)
			formURL, csrf := e.beginLogin(c, "/apps/portal/")
			r := e.post(c, formURL, url.Values{"csrf": {csrf}, "upstream": {"local"}, "username": {user}, "password": {user + "-pw"}})
			if allowed := r.code == 303; allowed != (user == "alice" || from == office) {
				t.Fatalf("day %d: %s from %s: sign-in answered %d", day, user, from, r.code)
			}
		}
		e.clock.Advance(24 * time.Hour)
	}
	var events []auditlog.Event
	for _, ev := range e.audit.events(t) {
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
		{"everyone else with MFA", portalPolicy + `  - name: anyone with MFA
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

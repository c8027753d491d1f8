package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchPolicy generates a policy of n rules of mixed kinds; only the last
// matches the benchmark input, so Decide evaluates every rule and traces
// n-1 of them.
func benchPolicy(tb testing.TB, n int) *Policy {
	var b strings.Builder
	b.WriteString("policy: big\ntimezone: Asia/Tokyo\nnetworks: { office: [10.0.0.0/8, \"2001:db8::/32\"] }\nrules:\n")
	for i := range n - 1 {
		fmt.Fprintf(&b, "  - name: rule %d\n", i)
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "    when: { networks: [172.16.%d.0/24, office] }\n", i%256)
		case 1:
			fmt.Fprintf(&b, "    when: { groups: [team-%d, Team-%d-leads], users: [u%d] }\n", i, i, i)
		case 2:
			fmt.Fprintf(&b, "    when: { upstreams: [corp-adfs], claims: { dept: { one_of: [d%d, e%d] } } }\n", i, i)
		case 3:
			b.WriteString("    when: { time: { weekdays: [sat, sun], hours: \"22:00-06:00\" } }\n")
		case 4:
			fmt.Fprintf(&b, "    when: { any: [{ apps: [app-%d] }, { auth: { amr: [hwk] } }] }\n", i)
		}
		b.WriteString("    deny: {}\n")
	}
	fmt.Fprintf(&b, "  - name: last\n    when: { groups: { all_of: [staff, engineers] }, networks: [192.168.0.0/16] }\n    allow: { mfa: { max_age: 12h } }\n")
	return mustLoad(tb, b.String())
}

func benchInput() Input {
	now := time.Date(2026, 3, 10, 3, 0, 0, 0, time.UTC) // Tuesday 12:00 JST
	return Input{
		App: "wiki", User: "Alice@Corp.Example", Upstream: "corp-adfs",
		Groups: []string{"Staff", "Engineers", "all-users", "vpn-users"},
		Claims: map[string]string{"dept": "eng"}, AMR: []string{"pwd", "mfa"},
		AuthTime: now.Add(-time.Hour), ClientIP: ip("192.168.1.20"), Now: now,
	}
}

func TestBenchPolicyShape(t *testing.T) {
	p := benchPolicy(t, 1000)
	if d := Decide(p, benchInput()); d.Effect != Allow || d.Rule != "last" || d.Trace != nil {
		t.Fatalf("Decide: %v by %q, trace %d", d.Effect, d.Rule, len(d.Trace))
	}
	d := Explain(p, benchInput())
	if d.Effect != Allow || d.Rule != "last" || len(d.Trace) != 999 {
		t.Fatalf("got %v by %q with %d trace entries", d.Effect, d.Rule, len(d.Trace))
	}
	for i, want := range map[int]string{
		0: "networks: 192.168.1.20 not in [172.16.0.0/24, office]",
		1: "groups: in none of [team-1, Team-1-leads]",
		2: `claims: dept is "eng", want one of [d2, e2]`,
		3: "time: 12:00 Asia/Tokyo not within 22:00-06:00",
		4: "any: none matched (apps: wiki not in [app-4]; auth: amr [pwd, mfa] has none of [hwk])",
	} {
		if d.Trace[i].Failed != want {
			t.Errorf("trace[%d] = %q, want %q", i, d.Trace[i].Failed, want)
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	p := benchPolicy(b, 1000)
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(p, in); d.Effect != Allow {
			b.Fatal(d.Effect)
		}
	}
}

// BenchmarkExplain is the same decision with every rule's explanation, as
// `fedgate policy explain` prints it.
func BenchmarkExplain(b *testing.B) {
	p := benchPolicy(b, 1000)
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if d := Explain(p, in); len(d.Trace) != 999 {
			b.Fatal(len(d.Trace))
		}
	}
}

func BenchmarkDecideFirstRule(b *testing.B) {
	p := benchPolicy(b, 1000)
	in := benchInput()
	in.ClientIP = ip("10.1.1.1")
	b.ReportAllocs()
	for b.Loop() {
		if d := Decide(p, in); d.Rule != "rule 0" {
			b.Fatal(d.Rule)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("policy: big\nrules:\n")
	for i := range 1000 {
		fmt.Fprintf(&sb, "  - name: r%d\n    when: { networks: [10.%d.0.0/16], groups: [g%d] }\n    allow: {}\n", i, i%256, i)
	}
	src := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load([]File{{Name: "big.yaml", Data: src}}); err != nil {
			b.Fatal(err)
		}
	}
}

package policy

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// mustLoad loads one file and returns its only policy.
func mustLoad(t testing.TB, src string) *Policy {
	t.Helper()
	set, err := Load([]File{{Name: "test.yaml", Data: []byte(src)}})
	if err != nil {
		t.Fatalf("Load:\n%v\nsource:\n%s", err, src)
	}
	names := set.Names()
	if len(names) != 1 {
		t.Fatalf("want one policy, got %v", names)
	}
	p, _ := set.Policy(names[0])
	return p
}

// whenPolicy builds a policy with one allow rule "r" guarded by when (a YAML
// flow mapping body) in timezone tz.
func whenPolicy(t testing.TB, tz, when string) *Policy {
	t.Helper()
	src := "policy: t\n"
	if tz != "" {
		src += "timezone: " + tz + "\n"
	}
	src += "rules:\n  - name: r\n    when: { " + when + " }\n    allow: {}\n"
	return mustLoad(t, src)
}

// condCase is one row of a condition table: the rule allows iff the
// condition holds; when it does not, failed is the trace text.
type condCase struct {
	name   string
	when   string
	in     Input
	want   bool
	failed string
}

func runCondCases(t *testing.T, tz string, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := whenPolicy(t, tz, tc.when)
			d := Explain(p, tc.in)
			if got := d.Effect == Allow; got != tc.want {
				t.Fatalf("when {%s}: matched = %v, want %v (decision %+v)", tc.when, got, tc.want, d)
			}
			if tc.want {
				if len(d.Trace) != 0 || d.Rule != "r" {
					t.Fatalf("matched: want rule r and no trace, got rule %q trace %+v", d.Rule, d.Trace)
				}
				return
			}
			if len(d.Trace) != 1 || d.Trace[0].Rule != "r" {
				t.Fatalf("want one trace entry for rule r, got %+v", d.Trace)
			}
			if d.Trace[0].Failed != tc.failed {
				t.Errorf("trace:\n got %q\nwant %q", d.Trace[0].Failed, tc.failed)
			}
		})
	}
}

// tm parses an RFC 3339 time or fails the test.
func tm(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// problems loads files and returns the Error() texts of every problem.
func problems(t *testing.T, files ...File) []string {
	t.Helper()
	set, err := Load(files)
	if err == nil {
		t.Fatal("Load succeeded, want problems")
	}
	if set != nil {
		t.Error("Load returned a Set along with an error")
	}
	var out []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		p, ok := e.(*Problem)
		if !ok {
			t.Fatalf("error %v is %T, not *Problem", e, e)
		}
		out = append(out, p.Error())
	}
	return out
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

package benchratio

import (
	"testing"
	"time"
)

// spin uses d of CPU time, however busy the machine is.
func spin(d time.Duration) {
	for start := cpuTime(); cpuTime()-start < d; {
	}
}

// side counts what Run asks of it: every Op must have been prepared, and
// the slices of the two sides must alternate.
type side struct {
	t                 *testing.T
	name              string
	prepared, ops     int
	slices            int
	took              time.Duration
	last              *string // which side ran the previous op
	switchesFromOther int
}

func (s *side) Side() Side {
	return Side{Name: s.name,
		Prepare: func(n int) { s.prepared += n; s.slices++ },
		Op: func() {
			if s.ops == s.prepared {
				s.t.Errorf("%s: op %d was not prepared", s.name, s.ops)
			}
			if *s.last != s.name {
				s.switchesFromOther++
				*s.last = s.name
			}
			s.ops++
			spin(s.took)
		}}
}

func TestRunInterleavesAndReports(t *testing.T) {
	var last string
	// Long enough that a clock read and the bookkeeping around an op (a few
	// µs on a loaded machine, under -race) do not move the ratio: with 40
	// and 10 µs, CI measured 3.27.
	sub := &side{t: t, name: "verify", took: 400 * time.Microsecond, last: &last}
	raw := &side{t: t, name: "raw", took: 100 * time.Microsecond, last: &last}
	res := testing.Benchmark(func(b *testing.B) { Run(b, sub.Side(), raw.Side()) })

	for _, s := range []*side{sub, raw} {
		if s.ops != s.prepared || s.ops == 0 {
			t.Errorf("%s: %d ops, %d prepared", s.name, s.ops, s.prepared)
		}
		// A second's run in half-millisecond slices: hundreds of turns,
		// not one long run per side.
		if s.switchesFromOther < 100 || s.slices < 100 {
			t.Errorf("%s: %d turns in %d slices, want interleaving", s.name, s.switchesFromOther, s.slices)
		}
	}
	if res.NsPerOp() != 0 {
		t.Errorf("ns/op = %d, want it suppressed", res.NsPerOp())
	}
	vs, rs, x := res.Extra["verify/cpu-s"], res.Extra["raw/cpu-s"], res.Extra["x-raw"]
	if vs <= 0 || rs <= 0 || x != rs/vs {
		t.Fatalf("metrics %v", res.Extra)
	}
	// The subject costs 4 baselines, give or take a clock read.
	if x < 3.5 || x > 4.5 {
		t.Errorf("x-raw = %.2f, want about 4", x)
	}
}

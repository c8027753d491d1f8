// Package benchratio times a subject (a real verification) against the raw
// primitive inside it (an HMAC, an ECDSA or RSA verify) in one benchmark,
// in alternating short slices, so that whatever the machine does meanwhile
// weighs on both alike. Test-only: benchmarks import it.
//
// Time is the process's CPU time (user + system), not the wall clock: on a
// shared machine a slice that waits for a core would otherwise be charged
// for other processes' work, and a few such waits swing the ratio several
// times over. Run with -cpu 1, so that the process does nothing else
// meanwhile; the garbage collector's work lands in the slice that ran it.
//
// A benchmark run with it reports, instead of ns/op (which would time a
// round of both sides and their untimed preparation):
//
//	<subject>/cpu-s    subject operations per CPU second
//	<baseline>/cpu-s   baseline operations per CPU second
//	x-<baseline>       subject CPU time per op ÷ baseline CPU time per op
//
// The built-in B/op and allocs/op (-benchmem) are per round, not per op.
package benchratio

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time the process has used so far (Linux keeps it to
// the nanosecond and reports it to the microsecond).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err) // only for a bad argument
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Side is one of the two things compared.
type Side struct {
	Name string // metric names: Name+"/cpu-s", and "x-"+Name for a baseline
	// Prepare, if not nil, readies the next n calls of Op (fresh codes,
	// signed answers): it runs before each slice, untimed.
	Prepare func(n int)
	Op      func()
}

// slice is how long one side runs before the other has its turn: short, so
// that both see the same machine; long against the clock's microsecond and
// the two reads around it.
const slice = 500 * time.Microsecond

// tally is one side's ops and time so far, and the size of its next slice.
type tally struct {
	ops  int
	took time.Duration
	next int
}

func (t *tally) run(s Side) {
	n := max(t.next, 1)
	if s.Prepare != nil {
		s.Prepare(n)
	}
	start := cpuTime()
	for range n {
		s.Op()
	}
	t.took += cpuTime() - start
	t.ops += n
	if t.took > 0 {
		t.next = int(int64(slice) * int64(t.ops) / int64(t.took))
	} else {
		t.next = 2 * n
	}
}

func (t *tally) perSecond() float64 { return float64(t.ops) / t.took.Seconds() }

// Run times subject and baseline in alternating slices (which goes first
// alternates too) until the benchmark's time is up, and reports both rates
// and their ratio.
func Run(b *testing.B, subject, baseline Side) {
	b.Helper()
	var s, r tally
	first := true
	for b.Loop() {
		if first {
			s.run(subject)
			r.run(baseline)
		} else {
			r.run(baseline)
			s.run(subject)
		}
		first = !first
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(s.perSecond(), subject.Name+"/cpu-s")
	b.ReportMetric(r.perSecond(), baseline.Name+"/cpu-s")
	b.ReportMetric(r.perSecond()/s.perSecond(), "x-"+baseline.Name)
}

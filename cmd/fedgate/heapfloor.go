package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// heapFloor is the heap size below which fedgate's server does not
// collect garbage. Its live heap is a few MiB and does not grow with users
// (the session cache is bounded), so with Go's default target of about
// twice the live heap the collector ran every ~700 proxied requests and
// cost about a tenth of a request's CPU. Above the floor the default holds.
const heapFloor = 32 << 20

// gcPercentFor is the GC percent that puts the heap target at heapFloor
// for a live heap of live bytes and roots bytes of goroutine stacks and
// globals (Go's target is live + (live + roots) × percent / 100), never
// below Go's default of 100, and never above maxGCPercent.
func gcPercentFor(live, roots uint64) int {
	if live == 0 || live >= heapFloor {
		return 100
	}
	return min(maxGCPercent, max(100, int((heapFloor-live)*100/(live+roots))))
}

// maxGCPercent keeps the target at the floor for a tiny live heap too: Go
// never targets less than its 4 MiB minimum heap × percent / 100.
const maxGCPercent = heapFloor * 100 / (4 << 20)

var heapFloorOnce sync.Once

// keepHeapFloor sets the GC percent from the live heap after every
// collection, once per process. GOGC in the environment turns it off: the
// operator's setting wins (and GOMEMLIMIT caps the heap either way).
func keepHeapFloor() (on bool) {
	if os.Getenv("GOGC") != "" {
		return false
	}
	heapFloorOnce.Do(func() { armHeapFloor(100) })
	return true
}

// gcSentinel is garbage on purpose: its finalizer runs after the
// collection that finds it, and arms the next one. (Big enough, and with a
// pointer, to stay out of the tiny allocator, whose blocks are freed late.)
// The percent applies from the collection after the one it was read in.
type gcSentinel struct {
	last int
	_    *[16]byte
}

func armHeapFloor(last int) {
	runtime.SetFinalizer(&gcSentinel{last: last}, func(s *gcSentinel) {
		p := gcPercentFor(readHeapSizes())
		if p != s.last {
			debug.SetGCPercent(p)
		}
		armHeapFloor(p)
	})
}

// readHeapSizes is the live heap and the stacks and globals the collector
// scans, as of the last collection.
func readHeapSizes() (live, roots uint64) {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	for i, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			return 0, 0 // unknown: gcPercentFor keeps Go's default
		}
		if i == 0 {
			live = v.Value.Uint64()
		} else {
			roots += v.Value.Uint64()
		}
	}
	return live, roots
}

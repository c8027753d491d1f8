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
// (the session cache is bounded), so with Go's default target of twice the
// live heap the collector ran every ~700 proxied requests and cost about a
// tenth of a request's CPU. Above the floor the default holds.
const heapFloor = 32 << 20

// gcPercentFor is the GC percent that makes the heap target
// max(2 × live, heapFloor) for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 || live >= heapFloor/2 {
		return 100
	}
	return int(heapFloor*100/live) - 100
}

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
type gcSentinel struct {
	last int
	_    *[16]byte
}

func armHeapFloor(last int) {
	runtime.SetFinalizer(&gcSentinel{last: last}, func(s *gcSentinel) {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		metrics.Read(sample)
		p := s.last
		if sample[0].Value.Kind() == metrics.KindUint64 {
			p = gcPercentFor(sample[0].Value.Uint64())
		}
		if p != s.last {
			debug.SetGCPercent(p)
		}
		armHeapFloor(p)
	})
}

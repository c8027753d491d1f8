package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},               // before the first collection: Go's default
		{6 << 20, 433},         // 6 MiB live: target 32 MiB
		{8 << 20, 300},         // 8 MiB: target 32 MiB
		{heapFloor / 2, 100},   // from here twice the live heap is above the floor
		{heapFloor * 4, 100},   // large: Go's default
		{heapFloor/2 - 1, 100}, // just below: rounds to the default, never under it
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// TestKeepHeapFloor: after a collection the GC percent follows the live
// heap (the test binary's, a few MiB: well above 100), and GOGC in the
// environment leaves Go's setting alone.
func TestKeepHeapFloor(t *testing.T) {
	t.Setenv("GOGC", "150")
	if keepHeapFloor() {
		t.Fatal("tuned the GC although GOGC is set")
	}
	t.Setenv("GOGC", "")
	if !keepHeapFloor() {
		t.Fatal("not on without GOGC")
	}
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // the finalizer runs after the collection
		metrics.Read(s)
		live, percent := s[0].Value.Uint64(), int(s[1].Value.Uint64())
		if want := gcPercentFor(live); percent == want && want > 100 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d with %d bytes live, want %d (> 100)", percent, live, gcPercentFor(live))
		}
	}
}

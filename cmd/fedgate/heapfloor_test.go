package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func heapGoal() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, roots uint64
		want        int
	}{
		{0, 0, 100},             // before the first collection: Go's default
		{mib / 2, 0, 800},       // idle: Go's 4 MiB minimum heap × 800% is the floor
		{6 * mib, 0, 433},       // 6 MiB live: target 32 MiB
		{6 * mib, 2 * mib, 325}, // stacks and globals count towards the target too
		{8 * mib, 0, 300},
		{7 * mib, 26 * mib, 100}, // many goroutines: Go's default, never below it
		{16 * mib, 0, 100},       // from here twice the live heap reaches the floor
		{heapFloor * 4, 0, 100},  // large: Go's default
	} {
		if got := gcPercentFor(c.live, c.roots); got != c.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", c.live, c.roots, got, c.want)
		}
	}
}

// TestKeepHeapFloor: after each collection the GC percent follows the live
// heap, down when it grows and up again when it shrinks, and GOGC in the
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
	// settled collects until the percent is what the live heap asks for
	// and ok says it is the one expected.
	settled := func(what string, ok func(int) bool) int {
		t.Helper()
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		deadline := time.Now().Add(5 * time.Second)
		for {
			runtime.GC()
			time.Sleep(20 * time.Millisecond) // the finalizer runs after the collection
			metrics.Read(s)
			percent, want := int(s[0].Value.Uint64()), gcPercentFor(readHeapSizes())
			if percent == want && ok(percent) {
				// What the percent is for: the collector's target at the
				// floor while the live heap is small (a little over it
				// from rounding), about twice the live heap beyond.
				live, roots := readHeapSizes()
				if goal := heapGoal(); goal > max(heapFloor*11/10, 2*(live+roots)+(4<<20)) {
					t.Fatalf("%s: heap target %d with %d bytes live and %d of stacks and globals", what, goal, live, roots)
				}
				return percent
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GC percent %d, the live heap asks for %d", what, percent, want)
			}
		}
	}
	small := settled("test binary's heap", func(p int) bool { return p > 150 })
	hold := make([]byte, 12<<20)
	hold[len(hold)-1] = 1
	grown := settled("12 MiB more live", func(p int) bool { return p < small })
	runtime.KeepAlive(hold)
	settled("released again", func(p int) bool { return p > grown })
}

package store_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

// benchStores are the backends the benchmarks compare: memory is the ceiling bolt
// is measured against.
var benchStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memory", func(b *testing.B) store.Store { return store.NewMemory(nil) }},
	{"bolt", func(b *testing.B) store.Store {
		s, err := store.OpenBolt(filepath.Join(b.TempDir(), "fedgate.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}},
}

// benchClaims claims distinct keys from goroutines × GOMAXPROCS goroutines, as
// concurrent sign-ins redeem their codes, and reports claims per second.
func benchClaims(b *testing.B, goroutines int) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer func() { _ = s.Close() }()
			var seq atomic.Int64
			exp := time.Now().Add(time.Hour)
			b.SetParallelism(goroutines)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := "code:" + strconv.FormatInt(seq.Add(1), 10)
					if ok, err := s.Claim(b.Context(), k, exp); !ok || err != nil {
						b.Errorf("Claim = %v, %v", ok, err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
		})
	}
}

func BenchmarkClaimParallel(b *testing.B) { benchClaims(b, 32) }

func BenchmarkClaimSerial(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer func() { _ = s.Close() }()
			exp := time.Now().Add(time.Hour)
			i := 0
			for b.Loop() {
				i++
				if ok, err := s.Claim(b.Context(), "code:"+strconv.Itoa(i), exp); !ok || err != nil {
					b.Fatalf("Claim = %v, %v", ok, err)
				}
			}
		})
	}
}

// BenchmarkDeleteAbsent is the successful sign-in clearing a failure counter that
// usually does not exist.
func BenchmarkDeleteAbsent(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer func() { _ = s.Close() }()
			for b.Loop() {
				if err := s.Delete(b.Context(), "fail:alice"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

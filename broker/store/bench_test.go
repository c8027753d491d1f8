package store_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
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

// BenchmarkCodeFlow is the store work of one OIDC code flow with an existing session
// (test/bench/load -mode code, 64 workers), beside the flow's own CPU work, an RS256
// signature: at /authorize the session's revocation read; at /token the client's two
// throttle counters at once, then the code's claim beside the success's give-back
// (broker/throttle.go). With the cores busy signing, a write that waits long on the
// scheduler holds its flow back and leaves cores idle: compare flows/s with memory,
// and the time a flow waits on the store (store-µs/flow).
func BenchmarkCodeFlow(b *testing.B) {
	const flows = 64
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("id token"))
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			defer func() { _ = s.Close() }()
			ctx := b.Context()
			var seq, waited atomic.Int64
			exp := time.Now().Add(time.Hour)
			// at runs the writes at once, as the broker's together does.
			at := func(ops ...func() error) {
				errs := make([]error, len(ops))
				var wg sync.WaitGroup
				for i, op := range ops {
					wg.Go(func() { errs[i] = op() })
				}
				wg.Wait()
				if err := errors.Join(errs...); err != nil {
					b.Error(err)
				}
			}
			b.SetParallelism((flows + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					start := time.Now()
					if _, err := s.Get(ctx, "revoked:session"); !errors.Is(err, store.ErrNotFound) {
						b.Errorf("revocation read: %v", err)
						return
					}
					at(func() error { _, err := s.Incr(ctx, "fail:sp:bench", time.Hour); return err },
						func() error { _, err := s.Incr(ctx, "fail:ip:127.0.0.1", time.Hour); return err })
					code := "dsp:code:" + strconv.FormatInt(seq.Add(1), 10)
					at(func() error {
						if ok, err := s.Claim(ctx, code, exp); !ok || err != nil {
							return fmt.Errorf("Claim = %v, %v", ok, err)
						}
						return nil
					},
						func() error { return s.Delete(ctx, "fail:sp:bench") },
						func() error { _, err := s.Decr(ctx, "fail:ip:127.0.0.1"); return err })
					waited.Add(int64(time.Since(start)))
					if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "flows/s")
			b.ReportMetric(float64(waited.Load())/float64(b.N)/1e3, "store-µs/flow")
		})
	}
}

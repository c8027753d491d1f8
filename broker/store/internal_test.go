package store

import (
	"bytes"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name   string
		expiry time.Time
		value  []byte
	}{
		{"never", time.Time{}, []byte("v")},
		{"expiring", time.Unix(1900000000, 123), []byte("v")},
		{"empty value", time.Unix(1900000000, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, v, err := decode(encode(tt.expiry, tt.value))
			if err != nil || !exp.Equal(tt.expiry) || !bytes.Equal(v, tt.value) {
				t.Fatalf("decode(encode) = %v, %q, %v", exp, v, err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(time.Unix(1, 0), []byte("x")))
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		exp, v, err := decode(raw)
		if err != nil {
			return
		}
		if got := encode(exp, v); !bytes.Equal(got, raw) {
			t.Fatalf("encode(decode(%x)) = %x", raw, got)
		}
	})
}

func TestMemorySweepsOnWrites(t *testing.T) {
	now := time.Unix(1900000000, 0)
	s := NewMemory(func() time.Time { return now })
	for i := range sweepEvery / 2 {
		if err := s.Put(t.Context(), "old:"+strconv.Itoa(i), nil, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(time.Second)
	for i := range sweepEvery / 2 {
		if err := s.Put(t.Context(), "new:"+strconv.Itoa(i), nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(s.m); got != sweepEvery/2 {
		t.Fatalf("after %d writes, %d entries remain; want only the %d live ones", sweepEvery, got, sweepEvery/2)
	}
}

// TestLocalWatchBeforeWriteReturns: memory and bolt tell their watchers of a
// Put or Delete before it returns, so a cache fed by them (the revocation
// cache) is never behind a sign-out that has been acknowledged.
func TestLocalWatchBeforeWriteReturns(t *testing.T) {
	bolt, err := OpenBolt(filepath.Join(t.TempDir(), "state.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]interface {
		Store
		Watcher
	}{"memory": NewMemory(nil), "bolt": bolt} {
		t.Run(name, func(t *testing.T) {
			defer s.Close()
			var mu sync.Mutex
			var heard []string
			registered := make(chan struct{})
			go s.Watch(t.Context(), func(k string) {
				mu.Lock()
				heard = append(heard, k)
				mu.Unlock()
			}, func() {}, func() { close(registered) })
			<-registered
			ctx := t.Context()
			if err := s.Put(ctx, "revoked:a", []byte{1}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got := slices.Clone(heard)
			mu.Unlock()
			if !slices.Equal(got, []string{"revoked:a"}) {
				t.Fatalf("after Put returned, heard %q", got)
			}
			if err := s.Delete(ctx, "revoked:a"); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			got = slices.Clone(heard)
			mu.Unlock()
			if !slices.Equal(got, []string{"revoked:a", "revoked:a"}) {
				t.Fatalf("after Delete returned, heard %q", got)
			}
		})
	}
}

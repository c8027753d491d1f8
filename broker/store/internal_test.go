package store

import (
	"bytes"
	"strconv"
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

package pwhash

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestParseAndVerify(t *testing.T) {
	a, err := New("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 72)
	b, err := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		hash, pw string
		want     bool
	}{
		{a, "correct horse", true},
		{a, "correct horse ", false},
		{string(b), long, true},
		{string(b), long + "suffix", false}, // bcrypt would ignore the tail
	}
	for _, tt := range tests {
		h, err := Parse(tt.hash)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.Verify(tt.pw); got != tt.want {
			t.Errorf("Verify(%.20q…) = %v, want %v", tt.pw, got, tt.want)
		}
	}
	for _, bad := range []string{"plain", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$2a$99$x"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgate/fedgate/protocols"
)

func mustHash(t *testing.T, pw string) protocols.Secret {
	t.Helper()
	h, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return protocols.NewSecret(h)
}

func TestAuthenticate(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	u, err := Open(Config{ID: "local", Users: []User{
		{Username: "Alice", PasswordHash: mustHash(t, "alice-pw"), Groups: []string{"staff"}, Email: "alice@example.com"},
		{Username: "bob", PasswordHash: protocols.NewSecret(string(bc))},
		{Username: "carol", PasswordHash: mustHash(t, "carol-pw"), Disabled: true},
	}}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pw string
		wantErr  error
		wantSub  string
	}{
		{"alice", "alice-pw", nil, "alice"},
		{" ALICE ", "alice-pw", nil, "alice"},
		{"alice", "wrong", protocols.ErrInvalidCredentials, ""},
		{"alice", "", protocols.ErrInvalidCredentials, ""},
		{"bob", "bcrypt-pw", nil, "bob"},
		{"bob", "bcrypt-pW", protocols.ErrInvalidCredentials, ""},
		{"nobody", "x", protocols.ErrInvalidCredentials, ""},
		{"carol", "carol-pw", protocols.ErrAccountDisabled, ""},
		{"carol", "wrong", protocols.ErrInvalidCredentials, ""},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.pw, func(t *testing.T) {
			id, err := u.Authenticate(context.Background(), tt.user, tt.pw)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if id.Subject != tt.wantSub || id.Upstream != "local" || !id.HasAMR("pwd") || !id.AuthTime.Equal(now) {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func TestOpenReportsEveryBadUser(t *testing.T) {
	_, err := Open(Config{ID: "local", Users: []User{
		{Username: "a", PasswordHash: protocols.NewSecret("plaintext")},
		{Username: "", PasswordHash: protocols.NewSecret("x")},
		{Username: "b", PasswordHash: protocols.NewSecret("$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")},
		{Username: "c", PasswordHash: mustHash(t, "pw")},
		{Username: "C", PasswordHash: mustHash(t, "pw")},
	}}, nil)
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"users[0]", "users[1]: username is empty", "users[2]", "out of range", `users[4]: duplicate username "C"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

package keys

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "dir")
	path := filepath.Join(dir, "k")
	if err := WriteFile(path, []byte("first")); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", p, got, want)
		}
	}
	if err := WriteFile(path, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteFile over an existing file: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Fatalf("existing file changed to %q", got)
	}
}

func TestEnsureDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	read := func(p string) []byte {
		t.Helper()
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	cookie, signing, created, err := EnsureDefault(dir)
	if err != nil || !created {
		t.Fatalf("first EnsureDefault = created %v, %v; want true, nil", created, err)
	}
	if _, err := LoadCookieKeys([]string{cookie}); err != nil {
		t.Errorf("generated cookie key does not load: %v", err)
	}
	k, err := LoadSigningKey(signing)
	if err != nil {
		t.Fatalf("generated signing key does not load: %v", err)
	}
	if k.JWSAlg != "RS256" {
		t.Errorf("default JWSAlg = %q, want RS256", k.JWSAlg)
	}
	cookieBytes, signingBytes := read(cookie), read(signing)

	steps := []struct {
		name        string
		remove      string
		wantCreated bool
	}{
		{"again, nothing missing", "", false},
		{"cookie key missing", cookie, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.remove != "" {
				if err := os.Remove(s.remove); err != nil {
					t.Fatal(err)
				}
			}
			c, sg, created, err := EnsureDefault(dir)
			if err != nil || created != s.wantCreated || c != cookie || sg != signing {
				t.Fatalf("EnsureDefault = %q, %q, %v, %v; want created %v", c, sg, created, err, s.wantCreated)
			}
			if !bytes.Equal(read(signing), signingBytes) {
				t.Error("existing signing key was replaced")
			}
			if changed := !bytes.Equal(read(cookie), cookieBytes); changed != (s.remove == cookie) {
				t.Errorf("cookie key changed = %v, want %v", changed, s.remove == cookie)
			}
		})
	}
}

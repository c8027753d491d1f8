package keys

import (
	"bytes"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
)

func TestCookieKeyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var want []CookieKey
	var paths []string
	for i, name := range []string{"new.key", "old.key"} {
		k, err := GenerateCookieKey()
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Hash) != 32 || len(k.Block) != 32 {
			t.Fatalf("key %d: Hash %d bytes, Block %d bytes; want 32 each", i, len(k.Hash), len(k.Block))
		}
		p := filepath.Join(dir, name)
		if err := WriteFile(p, k.Marshal()); err != nil {
			t.Fatal(err)
		}
		want, paths = append(want, k), append(paths, p)
	}
	got, err := LoadCookieKeys(paths)
	if err != nil {
		t.Fatalf("LoadCookieKeys: %v", err)
	}
	for i := range want { // order matters: the first key encodes
		if !bytes.Equal(got[i].Hash, want[i].Hash) || !bytes.Equal(got[i].Block, want[i].Block) {
			t.Errorf("key %d differs after round trip", i)
		}
	}
	if bytes.Equal(want[0].Hash, want[1].Hash) || bytes.Equal(want[0].Hash, want[0].Block) {
		t.Error("generated keys are not random")
	}
}

func TestLoadCookieKeysRejects(t *testing.T) {
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name, data, wantErr string
	}{
		{"bad base64", "not base64!!\n", "not valid base64"},
		{"url alphabet", strings.ReplaceAll(enc(64), "A", "_") + "\n", "not valid base64"},
		{"short", enc(32) + "\n", "decodes to 32 bytes"},
		{"long", enc(96) + "\n", "decodes to 96 bytes"},
		{"empty", "", "decodes to 0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			good, err := GenerateCookieKey()
			if err != nil {
				t.Fatal(err)
			}
			goodPath, badPath := filepath.Join(dir, "good.key"), filepath.Join(dir, "bad.key")
			if err := WriteFile(goodPath, good.Marshal()); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(badPath, []byte(tt.data)); err != nil {
				t.Fatal(err)
			}
			keys, err := LoadCookieKeys([]string{goodPath, badPath})
			if err == nil || keys != nil || !strings.Contains(err.Error(), badPath) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("LoadCookieKeys = %d keys, %v; want no keys and an error naming %s with %q", len(keys), err, badPath, tt.wantErr)
			}
		})
	}
	if _, err := LoadCookieKeys(nil); err == nil {
		t.Error("LoadCookieKeys(nil) succeeded; want an error")
	}
	missing := filepath.Join(t.TempDir(), "missing.key")
	if _, err := LoadCookieKeys([]string{missing}); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadCookieKeys(missing) = %v; want an error naming the file", err)
	}
}

func TestParseCookieKeyAcceptsWhitespace(t *testing.T) {
	k, err := GenerateCookieKey()
	if err != nil {
		t.Fatal(err)
	}
	text := "  " + strings.TrimSpace(string(k.Marshal())) + "\r\n\n"
	if _, err := parseCookieKey([]byte(text)); err != nil {
		t.Fatalf("parseCookieKey with surrounding whitespace: %v", err)
	}
}

func FuzzParseCookieKey(f *testing.F) {
	k, err := GenerateCookieKey()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(k.Marshal())
	f.Add([]byte("AAAA"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseCookieKey(data)
		if err != nil {
			return
		}
		if len(k.Hash) != 32 || len(k.Block) != 32 {
			t.Fatalf("accepted key with Hash %d, Block %d bytes", len(k.Hash), len(k.Block))
		}
		if got, err := parseCookieKey(k.Marshal()); err != nil || !bytes.Equal(got.Hash, k.Hash) || !bytes.Equal(got.Block, k.Block) {
			t.Fatalf("Marshal does not round-trip: %v", err)
		}
	})
}

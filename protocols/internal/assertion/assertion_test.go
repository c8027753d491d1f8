package assertion

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

var taro = protocols.Identity{Subject: "u1", Upstream: "corp", Username: "taro@corp.example", Email: "taro@example.co.jp",
	Groups: []string{"staff", "sales"}, Claims: map[string]string{"immutable_id": "AbC+/=="}}

func TestValuesAndNameID(t *testing.T) {
	for src, want := range map[string][]string{
		"username": {"taro@corp.example"}, "upn": {"taro@corp.example"}, "email": {"taro@example.co.jp"},
		"groups": {"staff", "sales"}, "subject": {"u1"}, "upstream": {"corp"},
		"claim:immutable_id": {"AbC+/=="}, "name": nil, "claim:missing": nil,
	} {
		if got := Values(taro, src); !slices.Equal(got, want) {
			t.Errorf("Values(%s) = %q, want %q", src, got, want)
		}
		if !ValueSource.MatchString(src) {
			t.Errorf("%s is a value source", src)
		}
	}
	if ValueSource.MatchString("password") || ValueSource.MatchString("claim:") {
		t.Error("not value sources")
	}
	if _, err := NameID(taro, "name", "", ""); !errors.Is(err, ErrNoValue) {
		t.Fatalf("no display name: %v", err)
	}
	a, _ := NameID(taro, "pairwise", "salt-0123456789ab", "sp-a")
	b, _ := NameID(taro, "pairwise", "salt-0123456789ab", "sp-b")
	if a == b || len(a) != 43 || a != Pairwise("salt-0123456789ab", taro, "sp-a") || strings.Contains(a, "u1") {
		t.Fatalf("pairwise %q %q", a, b)
	}
	if Pairwise("salt-0123456789ab", protocols.Identity{Subject: "u2", Upstream: "corp"}, "sp-a") == a {
		t.Fatal("two users share a pairwise id")
	}
}

// The RSA key signs even when an ECDSA key is listed first; next keys and
// keys without a certificate never sign.
func TestSignersPickActiveRSA(t *testing.T) {
	rsaKey := xmlsigtest.NewKey(t, "rsa")
	next := xmlsigtest.NewKey(t, "next")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys := []protocols.SigningKey{
		{Signer: next.Key, Cert: next.Cert, Next: true},
		{Signer: ec, Cert: &x509.Certificate{}},
		{Signer: rsaKey.Key, Cert: rsaKey.Cert},
	}
	s256, s1, err := Signers(keys)
	if err != nil || s256 == nil || s1 == nil {
		t.Fatalf("%v %v %v", s256, s1, err)
	}
	if !s256.Cert().Equal(rsaKey.Cert) {
		t.Fatal("the active RSA key must sign")
	}
	if _, _, err := Signers(keys[:1]); err == nil {
		t.Fatal("a next key alone must not sign")
	}
	// Metadata announces the RSA keys, the next one too; not the ECDSA
	// key that serves OIDC.
	if pub := Published(keys); len(pub) != 2 || pub[0].Signer != next.Key || pub[1].Signer != rsaKey.Key {
		t.Fatalf("published %d keys", len(pub))
	}
	if pub := Published(keys[1:2]); len(pub) != 1 {
		t.Fatal("with no RSA key, the others are published")
	}
}

// Metadata is built once per issuer and snapshot (the WS-Fed document is
// signed: one RSA signature per anonymous GET would be a cheap lever).
func TestServeMetadataBuildsOnce(t *testing.T) {
	c, err := NewCore([]protocols.SigningKey{{Signer: xmlsigtest.NewKey(t, "k").Key, Cert: xmlsigtest.NewKey(t, "k").Cert}}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	builds := 0
	build := func(issuer string) ([]byte, error) {
		builds++
		return []byte("<md:EntityDescriptor entityID=\"" + issuer + "\"/>"), nil
	}
	for range 3 {
		w := httptest.NewRecorder()
		c.ServeMetadata(w, "urn:a", build)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/samlmetadata+xml" || !strings.Contains(w.Body.String(), "urn:a") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	c.ServeMetadata(httptest.NewRecorder(), "urn:b", build)
	if builds != 2 {
		t.Fatalf("built %d times for 2 issuers", builds)
	}
	w := httptest.NewRecorder()
	c.ServeMetadata(w, "urn:c", func(string) ([]byte, error) { return nil, errors.New("no key") })
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("failed build: %d", w.Code)
	}
}

package main

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/protocols/saml"
)

// spMetadataXML is SP metadata with one HTTP-POST ACS URL, signed-request
// certificate from protocols/saml/testdata.
func spMetadataXML(t *testing.T, acs string) string {
	t.Helper()
	b, err := os.ReadFile("../../protocols/saml/testdata/sp-cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/saml">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(blk.Bytes) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + acs + `" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`
}

// metadataPeer serves whatever status and body it is told to at every path.
type metadataPeer struct {
	mu     sync.Mutex
	status int
	body   string
}

func (p *metadataPeer) set(status int, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body = status, body
}

func (p *metadataPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.WriteHeader(p.status)
	_, _ = io.WriteString(w, p.body)
}

// TestSPMetadataFetch: over TLS, the first use fetches and caches (0600);
// later uses read the cache; bad answers, big bodies and redirects to
// another host or to http are refused, and the cache stays as it was.
func TestSPMetadataFetch(t *testing.T) {
	peer := &metadataPeer{}
	peer.set(200, spMetadataXML(t, "https://sp.example/acs1"))
	mux := http.NewServeMux()
	mux.Handle("/md", peer)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 2<<20)) })
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://other.invalid/md", http.StatusFound)
	})
	mux.HandleFunc("/downgrade", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/md", http.StatusFound)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/md", http.StatusFound) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	c := saml.MetadataClient(srv.Client().Transport)
	ctx := context.Background()
	sc := saml.SPConfig{EntityID: "https://sp.example/saml", MetadataURL: srv.URL + "/md", NameIDFormat: "email"}
	src := saml.MetadataSource{Kind: "SP", Key: "app", Name: "sp", URL: srv.URL + "/md", Cache: filepath.Join(t.TempDir(), "sp-metadata", "sp.xml"), Every: time.Hour,
		Check: func(d []byte) error { return sc.CheckMetadata("sp", d) }}

	data, err := src.Load(ctx, c, true)
	if err != nil || !strings.Contains(string(data), "acs1") {
		t.Fatalf("first fetch: %v", err)
	}
	st, err := os.Stat(src.Cache)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache: %v %v", err, st)
	}
	peer.set(200, spMetadataXML(t, "https://sp.example/acs2"))
	if data, _ := src.Load(ctx, c, true); !strings.Contains(string(data), "acs1") {
		t.Fatal("a build with a cached copy fetched again")
	}
	for _, tc := range []struct{ status, body, want string }{
		{"500", "", "500"},
		{"200", "<html>maintenance</html>", "not usable SP metadata"},
		{"200", "garbage", "not usable SP metadata"},
		// Parses, but would refuse every reload: never the last good copy.
		{"200", strings.Replace(spMetadataXML(t, "https://sp.example/acs3"), `isDefault="true"/>`,
			`isDefault="true"/><md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/x" index="0"/>`, 1), "index 0 used twice"},
		{"200", spMetadataXML(t, "javascript:alert(1)"), "not an absolute https URL"},
		// Describes another SP: the entity id is pinned in config.
		{"200", strings.Replace(spMetadataXML(t, "https://sp.example/acs3"), "https://sp.example/saml", "https://other.example/saml", 1), "describes entity id"},
	} {
		code := 500
		if tc.status == "200" {
			code = 200
		}
		peer.set(code, tc.body)
		if changed, err := src.Refresh(ctx, c); changed || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: changed %v, err %v", tc.status, tc.body, changed, err)
		}
		if b, _ := os.ReadFile(src.Cache); !strings.Contains(string(b), "acs1") {
			t.Fatalf("%s %q replaced the last good copy", tc.status, tc.body)
		}
	}
	for path, want := range map[string]string{"/big": "larger than 1048576 bytes", "/elsewhere": "refusing redirect", "/downgrade": "refusing redirect",
		"/elsewhere?token=s3cret": "refusing redirect", "/nothing?token=s3cret": "404"} {
		s := src
		s.URL = srv.URL + path
		if _, err := s.Refresh(ctx, c); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: err %v, want %q (and no query)", path, err, want)
		}
	}
	peer.set(200, spMetadataXML(t, "https://sp.example/acs2"))
	s := src
	s.URL = srv.URL + "/moved"
	if changed, err := s.Refresh(ctx, c); !changed || err != nil {
		t.Fatalf("same-host redirect: changed %v, err %v", changed, err)
	}
	if changed, err := s.Refresh(ctx, c); changed || err != nil {
		t.Fatalf("unchanged document: changed %v, err %v", changed, err)
	}
}

// TestSPMetadataURLReload: serve fetches metadata_url at start and caches
// it; a changed document is picked up by a refresh and, through the config
// watcher, changes where assertions go; a failing peer keeps the last good
// copy. (Plain http to loopback: the test server runs with insecure_http.)
func TestSPMetadataURLReload(t *testing.T) {
	peer := &metadataPeer{}
	peer.set(200, spMetadataXML(t, "https://sp.example/acs1"))
	md := httptest.NewServer(peer)
	defer md.Close()

	dir := writeServerConfig(t, "127.0.0.1:0")
	writeFile(t, dir, "fedgate.yaml", strings.Replace(readFile(t, dir, "fedgate.yaml"),
		"apps: [{ id: demo, type: whoami, policy: staff-only }]", `apps:
  - { id: demo, type: whoami, policy: staff-only }
  - id: sp
    type: saml
    policy: staff-only
    saml: { metadata_url: "`+md.URL+`/md", entity_id: "https://sp.example/saml", name_id_format: email }`, 1))
	addr, logs, _ := runConfig(t, dir)
	base := "http://" + addr
	caches, _ := filepath.Glob(filepath.Join(dir, "data", "sp-metadata", "sp-*.xml"))
	if len(caches) != 1 || !strings.Contains(readFile(t, "", caches[0]), "acs1") {
		t.Fatalf("first start cached %v", caches)
	}
	alice := browser()
	if code, _ := signIn(t, alice, base+"/apps/demo/", "alice", "alice-demo-pw"); code != http.StatusOK {
		t.Fatalf("sign-in = %d", code)
	}
	// Where an SP-initiated sign-in is answered (the SP's default ACS).
	n := 0
	acs := func() string {
		n++
		req := fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r%d" Version="2.0" IssueInstant="%s"><saml:Issuer>https://sp.example/saml</saml:Issuer></samlp:AuthnRequest>`,
			n, time.Now().UTC().Format(time.RFC3339))
		var b bytes.Buffer
		fw, _ := flate.NewWriter(&b, flate.BestCompression)
		_, _ = io.WriteString(fw, req)
		_ = fw.Close()
		r, err := alice.Get(base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(b.Bytes())))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		return regexp.MustCompile(`https://sp\.example/acs\d`).FindString(string(body))
	}
	if got := acs(); got != "https://sp.example/acs1" {
		t.Fatalf("ACS before refresh = %q\n%s", got, logs)
	}

	// The refresher serve runs, with a refresh interval a test can wait for.
	l, err := load(filepath.Join(dir, "fedgate.yaml"), false, slog.New(slog.DiscardHandler))
	if err != nil || len(l.spMeta) != 1 || l.spMeta[0].Cache != caches[0] || l.spMeta[0].Every != time.Hour {
		t.Fatalf("sources %+v, %v", l.spMeta, err)
	}
	src := l.spMeta[0]
	src.Every = 20 * time.Millisecond
	rlogs := &lockedBuffer{}
	r := &saml.MetadataRefresher{Client: saml.MetadataClient(nil), Logger: slog.New(slog.NewTextHandler(rlogs, nil)), Tick: 10 * time.Millisecond}
	r.Set([]saml.MetadataSource{src})
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go r.Run(rctx)

	peer.set(200, spMetadataXML(t, "https://sp.example/acs2"))
	waitFor(t, "the refreshed ACS URL", func() bool { return acs() == "https://sp.example/acs2" })
	if !strings.Contains(logs.String(), "config reloaded") {
		t.Fatalf("no reload logged:\n%s", logs)
	}
	for _, status := range []int{http.StatusInternalServerError, http.StatusOK} {
		peer.set(status, "garbage")
		n := strings.Count(rlogs.String(), "SP metadata refresh failed")
		waitFor(t, "a failed refresh", func() bool { return strings.Count(rlogs.String(), "SP metadata refresh failed") > n })
		if got := acs(); got != "https://sp.example/acs2" || !strings.Contains(readFile(t, "", caches[0]), "acs2") {
			t.Fatalf("after a failed refresh (%d): ACS %q", status, got)
		}
	}
	if !strings.Contains(rlogs.String(), `app=sp url=`+md.URL+`/md`) {
		t.Fatalf("warning lacks app and url:\n%s", rlogs)
	}
}

// TestSPMetadataURLConfigErrors: metadata_url's problems are positioned at
// the app, and a first fetch that fails names the app and the URL.
func TestSPMetadataURLConfigErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "staff.yaml", staffPolicy)
	writeFile(t, dir, "sp.xml", spMetadataXML(t, "https://sp.example/acs"))
	writeFile(t, dir, "fedgate.yaml", samlAppsConfig(`  - id: both
    type: saml
    policy: staff-only
    saml: { metadata_file: sp.xml, metadata_url: "https://sp.example/md", name_id_format: email }
  - id: plain
    type: saml
    policy: staff-only
    saml: { metadata_url: "http://sp.example/md", name_id_format: email }
  - id: hasty
    type: saml
    policy: staff-only
    saml: { metadata_url: "https://sp.example/md", metadata_refresh: 10s, name_id_format: email }
  - id: down
    type: saml
    policy: staff-only
    saml: { metadata_url: "https://127.0.0.1:1/md", name_id_format: email }
`))
	code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	for _, want := range []string{
		`fedgate.yaml:9:11: app "both": metadata_file and metadata_url: use one of them`,
		`fedgate.yaml:13:11: app "plain": metadata_url "http://sp.example/md": use https`,
		`fedgate.yaml:17:11: app "hasty": metadata_refresh 10s: at least 1m`,
		`fedgate.yaml:21:11: app "down": metadata_url: no cached copy, and Get "https://127.0.0.1:1/md"`,
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr lacks %q", code, want)
		}
	}
	if t.Failed() {
		t.Log(stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "sp-metadata")); !os.IsNotExist(err) {
		t.Fatalf("check wrote a cache: %v", err)
	}
}

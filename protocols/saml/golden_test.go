package saml

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig/xmlsigtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name (or rewrites it with -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", name, got)
	}
}

// The emitted XML, byte for byte, with a fixed clock, ids and keys.
func TestGolden(t *testing.T) {
	both := basicSP()
	both.SignResponse = ptr(true)
	cases := map[string]struct {
		sp    SPConfig
		err   error
		req   string
		relay string
	}{
		"response-signed-assertion.xml": {sp: basicSP(), req: authnRequestXML("_req", appEntity, fixedNow, "", "")},
		"response-signed-both.xml":      {sp: both, req: authnRequestXML("_req", appEntity, fixedNow, "", "")},
		"response-denied.xml":           {sp: basicSP(), err: protocols.ErrAccessDenied, req: authnRequestXML("_req", appEntity, fixedNow, "", "")},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, map[string]SPConfig{"app": c.sp})
			e.sp.err = c.err
			_, xml, _ := posted(t, e.do(httptest.NewRequest(http.MethodGet, redirectURL(SSOPath, c.req, "", nil), nil)))
			golden(t, name, xml)
			xmlsigtest.XMLSec1Verify(t, xml, e.key, "ID", nsAssertion+":Assertion", nsProtocol+":Response")
			xmllintSchema(t, xml, "saml-schema-protocol-2.0.xsd")
		})
	}
	t.Run("metadata.xml", func(t *testing.T) {
		e := newEnv(t, map[string]SPConfig{"app": basicSP()})
		next := xmlsigtest.NewKey(t, "next")
		e.idp.Keys = append(e.idp.Keys, protocols.SigningKey{Signer: next.Key, Cert: fixedKey(t, "sp").Cert, KeyID: "k2", Next: true})
		w := e.do(httptest.NewRequest(http.MethodGet, MetadataPath, nil))
		if ct := w.Header().Get("Content-Type"); ct != "application/samlmetadata+xml" {
			t.Errorf("content type %q", ct)
		}
		golden(t, "metadata.xml", w.Body.Bytes())
		if bytes.Count(w.Body.Bytes(), []byte("<ds:X509Certificate>")) != 2 {
			t.Error("want the current and the next certificate")
		}
		xmllintSchema(t, w.Body.Bytes(), "saml-schema-metadata-2.0.xsd")
	})
	// An app's own document: its issuer and its own endpoints, still valid
	// metadata; an unknown app is the error page, 404, audited.
	t.Run("metadata?app=", func(t *testing.T) {
		sp := basicSP()
		sp.Issuer = "https://sso.example.co.jp/crm"
		e := newEnv(t, map[string]SPConfig{"crm": sp})
		body := e.do(httptest.NewRequest(http.MethodGet, MetadataPath+"?app=crm", nil)).Body.Bytes()
		for _, want := range []string{`entityID="https://sso.example.co.jp/crm"`, `Location="` + base + SSOPath + `/crm"`, `Location="` + base + SLOPath + `/crm"`} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("lacks %s:\n%s", want, body)
			}
		}
		if bytes.Contains(body, []byte(`Location="`+base+SSOPath+`"`)) {
			t.Errorf("advertises the shared endpoint:\n%s", body)
		}
		xmllintSchema(t, body, "saml-schema-metadata-2.0.xsd")
		e.refused(e.do(httptest.NewRequest(http.MethodGet, MetadataPath+"?app=nope", nil)), http.StatusNotFound, "unknown-app")
	})
}

// xmllintSchema validates doc against one of the SAML schemas.
func xmllintSchema(t *testing.T, doc []byte, xsd string) {
	t.Helper()
	xmlsigtest.ValidateSchema(t, doc, filepath.Join(xmlsigtest.SAMLSchemaDir, xsd))
}

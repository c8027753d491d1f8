package main

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	tenantA = "8f3b2a10-1c2d-4e5f-9a8b-0123456789ab"
	tenantB = "0f9e8d7c-6b5a-4c3d-2e1f-0a1b2c3d4e5f"
)

// perAppApps has every preset over both protocols, twice where apps may
// share the peer's id: m365 apps all answer urn:federation:MicrosoftOnline,
// which entra-b2b apps also accept (legacy federations).
const perAppApps = `apps:
  - { id: partner, type: saml, policy: staff-only, saml: { preset: entra-b2b, tenant: ` + tenantA + `, domains: [example.com], persistent_salt: "0123456789abcdef0123" } }
  - { id: partner-ws, type: wsfed, policy: staff-only, wsfed: { preset: entra-b2b, tenant: ` + tenantB + `, domains: [example.com], immutable_id: username } }
  - { id: m365-a, type: saml, policy: staff-only, saml: { preset: m365, immutable_id: username, domains: [a.example], issuer: "http://a.example/adfs/services/trust" } }
  - { id: m365-b, type: saml, policy: staff-only, saml: { preset: m365, immutable_id: username, domains: [b.example], issuer: "http://b.example/adfs/services/trust" } }
  - { id: m365-ws-a, type: wsfed, policy: staff-only, wsfed: { preset: m365, immutable_id: username, domains: [c.example], issuer: "http://c.example/adfs/services/trust" } }
  - { id: m365-ws-b, type: wsfed, policy: staff-only, wsfed: { preset: m365, immutable_id: username, domains: [d.example], issuer: "http://d.example/adfs/services/trust" } }
policies: [policies/*.yaml]
`

// idpMetadata is what a peer reads from our SAML or WS-Fed metadata.
type idpMetadata struct {
	EntityID string     `xml:"entityID,attr"`
	SSO      []location `xml:"IDPSSODescriptor>SingleSignOnService"`
	SLO      []location `xml:"IDPSSODescriptor>SingleLogoutService"`
	Passive  string     `xml:"RoleDescriptor>PassiveRequestorEndpoint>EndpointReference>Address"`
	Certs    []string   `xml:"IDPSSODescriptor>KeyDescriptor>KeyInfo>X509Data>X509Certificate"`
	STSCerts []string   `xml:"RoleDescriptor>KeyDescriptor>KeyInfo>X509Data>X509Certificate"`
}

type location struct {
	Location string `xml:"Location,attr"`
}

// TestPerAppMetadataAgrees: for every preset over SAML and WS-Fed, the
// app's own metadata (what a tenant imports from the metadata URL) and
// `fedgate metadata` say the same issuer, endpoints and certificate; a
// request sent where the metadata says is answered by that app — its
// issuer, its audience — even when the peer's id is shared by several
// apps, while the app-less endpoint refuses it as ambiguous. An unknown
// app's metadata is a 404 page with a correlation id and an audit event.
func TestPerAppMetadataAgrees(t *testing.T) {
	dir := writeServerConfig(t, "127.0.0.1:0")
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg := strings.Replace(readFile(t, dir, "fedgate.yaml"), `public_url: "http://127.0.0.1:1", listen: "127.0.0.1:0"`,
		fmt.Sprintf(`public_url: "%s", listen: "127.0.0.1:%d"`, base, port), 1)
	cfg = regexp.MustCompile(`(?m)^apps:.*\npolicies:.*\n`).ReplaceAllString(cfg, perAppApps)
	writeFile(t, dir, "fedgate.yaml", cfg)
	if got, _, _ := runConfig(t, dir); "http://"+got != base {
		t.Fatalf("listening on %s, want %s", got, base)
	}
	cfgPath := filepath.Join(dir, "fedgate.yaml")

	for _, app := range []struct{ id, preset, kind, audience string }{
		{"partner", "entra-b2b", "saml", "https://login.microsoftonline.com/" + tenantA + "/"},
		{"partner-ws", "entra-b2b", "wsfed", "https://login.microsoftonline.com/" + tenantB + "/"},
		{"m365-a", "m365", "saml", "urn:federation:MicrosoftOnline"},
		{"m365-b", "m365", "saml", "urn:federation:MicrosoftOnline"},
		{"m365-ws-a", "m365", "wsfed", "urn:federation:MicrosoftOnline"},
		{"m365-ws-b", "m365", "wsfed", "urn:federation:MicrosoftOnline"},
	} {
		t.Run(app.id, func(t *testing.T) {
			code, out, stderr := metadataCLI(app.preset, "--config", cfgPath, "--app", app.id)
			if code != 0 {
				t.Fatalf("fedgate metadata: exit %d: %s", code, stderr)
			}
			printed := printedFederation(t, app.preset, out)
			mdURL := base + "/saml/metadata?app=" + app.id
			if app.kind == "wsfed" {
				mdURL = base + "/FederationMetadata/2007-06/FederationMetadata.xml?app=" + app.id
			}
			if printed["metadata"] != "" && printed["metadata"] != mdURL {
				t.Errorf("fedgate metadata prints metadata URL %s, want %s", printed["metadata"], mdURL)
			}
			md := fetchMetadata(t, mdURL)
			endpoint, signOut, cert := md.Passive, md.Passive, firstOf(md.STSCerts)
			if app.kind == "saml" {
				endpoint, signOut, cert = oneOf(t, md.SSO), oneOf(t, md.SLO), firstOf(md.Certs)
			}
			for _, c := range [][3]string{
				{"issuer", printed["issuer"], md.EntityID},
				{"passive sign-in endpoint", printed["passive"], endpoint},
				{"certificate", printed["cert"], cert},
				{"own endpoint", base + map[string]string{"saml": "/saml/sso/", "wsfed": "/wsfed/"}[app.kind] + app.id, endpoint},
			} {
				if c[1] != c[2] {
					t.Errorf("%s: fedgate metadata / expected %q, the app's metadata %q", c[0], c[1], c[2])
				}
			}
			if printed["signout"] != "" && printed["signout"] != signOut {
				t.Errorf("sign-out: fedgate metadata %q, the app's metadata %q", printed["signout"], signOut)
			}

			// The shared endpoint cannot tell the apps apart: refused.
			shared := strings.TrimSuffix(endpoint, "/"+app.id)
			if status, body := fetch(t, shared+peerQuery(app.kind, shared)); status != http.StatusBadRequest || strings.Contains(body, "SAMLResponse") || strings.Contains(body, "wresult") {
				t.Errorf("the shared endpoint answered a request its issuer does not single out: %d", status)
			}
			// The app's endpoint, from its metadata, is answered by it.
			status, body := signIn(t, browser(), endpoint+peerQuery(app.kind, endpoint), "alice", "alice-demo-pw")
			issuer, audience, action := answer(t, status, body)
			if issuer != md.EntityID || audience != app.audience || action != "https://login.microsoftonline.com/login.srf" {
				t.Errorf("answered with issuer %q audience %q to %s; want issuer %q audience %q (app %s)", issuer, audience, action, md.EntityID, app.audience, app.id)
			}
		})
	}

	t.Run("unknown app", func(t *testing.T) {
		for _, u := range []string{base + "/saml/metadata?app=nope", base + "/FederationMetadata/2007-06/FederationMetadata.xml?app=nope"} {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Accept", "text/html")
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "unknown-app") || r.Header.Get("X-Request-Id") == "" || !strings.Contains(string(body), r.Header.Get("X-Request-Id")) {
				t.Errorf("%s: %d, request id %q:\n%s", u, r.StatusCode, r.Header.Get("X-Request-Id"), body)
			}
		}
		waitFor(t, "the audit events", func() bool {
			audit, _ := os.ReadFile(filepath.Join(dir, "audit.jsonl"))
			return strings.Contains(string(audit), `"saml.metadata"`) && strings.Contains(string(audit), `"wsfed.metadata"`)
		})
	})
}

// peerQuery is the sign-in request a Microsoft peer sends to endpoint:
// an AuthnRequest by HTTP-Redirect from urn:federation:MicrosoftOnline,
// or a wsignin1.0 for that realm.
func peerQuery(kind, endpoint string) string {
	if kind == "wsfed" {
		return "?" + url.Values{"wa": {"wsignin1.0"}, "wtrealm": {"urn:federation:MicrosoftOnline"}, "wctx": {"LoginOptions=3"}}.Encode()
	}
	req := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"` +
		` ID="_` + fmt.Sprint(time.Now().UnixNano()) + `" Version="2.0" IssueInstant="` + time.Now().UTC().Format(time.RFC3339) + `" Destination="` + endpoint + `">` +
		`<saml:Issuer>urn:federation:MicrosoftOnline</saml:Issuer>` +
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/></samlp:AuthnRequest>`
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = w.Write([]byte(req))
	_ = w.Close()
	return "?" + url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(b.Bytes())}}.Encode()
}

// printedFederation reads `fedgate metadata`'s values by their labels.
func printedFederation(t *testing.T, preset, out string) map[string]string {
	t.Helper()
	labels := map[string]string{"issuer": "Issuer URI:", "passive": "Passive authentication endpoint:", "cert": "Certificate (Base64 DER):", "metadata": "Metadata URL (recommended):"}
	if preset == "m365" {
		labels = map[string]string{"issuer": "IssuerUri:", "passive": "PassiveSignInUri:", "cert": "SigningCertificate (Base64 DER):", "signout": "SignOutUri:"}
	}
	got := map[string]string{}
	for k, label := range labels {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(label) + `\s+(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %q in:\n%s", label, out)
		}
		got[k] = m[1]
	}
	return got
}

func fetchMetadata(t *testing.T, u string) idpMetadata {
	t.Helper()
	status, body := fetch(t, u)
	if status != http.StatusOK {
		t.Fatalf("%s: %d", u, status)
	}
	var md idpMetadata
	if err := xml.Unmarshal([]byte(body), &md); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return md
}

// oneOf is the one location every binding shares.
func oneOf(t *testing.T, locs []location) string {
	t.Helper()
	for _, l := range locs {
		if l != locs[0] {
			t.Fatalf("locations %v: want one, for every binding", locs)
		}
	}
	if len(locs) == 0 {
		t.Fatal("no location")
	}
	return locs[0].Location
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return strings.Join(strings.Fields(v[0]), "")
}

var (
	postAction = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	postField  = regexp.MustCompile(`name="(SAMLResponse|wresult)" value="([^"]+)"`)
)

// answer reads the issuer, audience and destination of the auto-POST
// page's SAML Response or WS-Fed RSTR.
func answer(t *testing.T, status int, body string) (issuer, audience, action string) {
	t.Helper()
	a, f := postAction.FindStringSubmatch(body), postField.FindStringSubmatch(body)
	if status != http.StatusOK || a == nil || f == nil {
		t.Fatalf("no answer (%d):\n%s", status, body)
	}
	doc := []byte(html.UnescapeString(f[2]))
	if f[1] == "SAMLResponse" {
		var err error
		if doc, err = base64.StdEncoding.DecodeString(string(doc)); err != nil {
			t.Fatal(err)
		}
	}
	var v struct {
		Issuer    string `xml:"Issuer"`
		Assertion struct {
			Issuer   string `xml:"Issuer"`
			Audience string `xml:"Conditions>AudienceRestriction>Audience"`
		} `xml:"Assertion"`
		Token struct {
			Assertion struct {
				Issuer   string `xml:"Issuer,attr"`
				Audience string `xml:"Conditions>AudienceRestrictionCondition>Audience"`
			} `xml:"Assertion"`
		} `xml:"RequestedSecurityToken"`
	}
	if err := xml.Unmarshal(doc, &v); err != nil {
		t.Fatalf("%v:\n%s", err, doc)
	}
	if f[1] == "wresult" {
		return v.Token.Assertion.Issuer, v.Token.Assertion.Audience, html.UnescapeString(a[1])
	}
	if v.Issuer != v.Assertion.Issuer {
		t.Errorf("Response issuer %q, Assertion issuer %q", v.Issuer, v.Assertion.Issuer)
	}
	return v.Assertion.Issuer, v.Assertion.Audience, html.UnescapeString(a[1])
}

package adfs

import (
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

const (
	microsoftOnline = "urn:federation:MicrosoftOnline"
	typeImmutableID = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"
	sigSHA1         = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
)

// trust imports one relying party trust: a SAML SP (with ACS endpoints),
// a WS-Fed RP (with a WS-Fed endpoint), or both as two apps.
func (im *importer) trust(t RelyingPartyTrust) {
	var acs []SamlEndpoint
	for _, e := range t.SamlEndpoints {
		if e.Protocol == "SAMLAssertionConsumer" && e.Binding == "POST" {
			acs = append(acs, e)
		}
	}
	kinds := []string{}
	if len(acs) > 0 {
		kinds = append(kinds, "saml")
	}
	if t.WSFedEndpoint != "" {
		kinds = append(kinds, "wsfed")
	}
	if slices.Contains(t.Identifier, microsoftOnline) && len(kinds) == 2 {
		// One domain federates by one protocol: WS-Fed, as ADFS sets it up,
		// unless the domain's PreferredAuthenticationProtocol says saml.
		kinds = []string{"wsfed"}
	}
	if len(kinds) == 0 {
		row := Row{Trust: t.Name, Kind: strings.ToLower(t.ProtocolProfile),
			Why: "no SAML POST assertion consumer and no WS-Federation endpoint (artifact binding and WS-Trust are not served)"}
		row.finish()
		im.res.Rows = append(im.res.Rows, row)
		return
	}
	for _, kind := range kinds {
		suffix := ""
		if kind == "wsfed" && len(kinds) == 2 {
			suffix = " wsfed"
		}
		im.trustAs(t, kind, suffix, acs)
	}
}

func (im *importer) trustAs(t RelyingPartyTrust, kind, suffix string, acs []SamlEndpoint) {
	row := Row{Trust: t.Name, Kind: kind}
	defer func() { row.finish(); im.res.Rows = append(im.res.Rows, row) }()
	if t.Enabled != nil && !*t.Enabled {
		row.Why = "the trust is disabled in ADFS"
		return
	}
	if len(t.Identifier) == 0 {
		row.Why = "the trust has no identifier"
		return
	}
	m := row.issuance("IssuanceTransformRules", t.IssuanceTransformRules)
	if m == nil {
		return
	}
	id := im.appID(t.Name + suffix)
	row.App = id
	if !im.accessPolicy(id, t.Name, t.AccessControlPolicyName, t.AccessControlPolicyParameters, t.IssuanceAuthorizationRules, t.AdditionalAuthenticationRules, &row) {
		return
	}
	for _, e := range t.SamlEndpoints {
		switch {
		case kind != "saml":
		case e.Binding == "Artifact":
			row.AppMustChange = append(row.AppMustChange, fmt.Sprintf("artifact binding at %s: fedgate answers by POST only; switch the app to HTTP-POST", e.Location))
		case e.Protocol == "SAMLLogout" && e.Binding != "POST":
			row.AppMustChange = append(row.AppMustChange, fmt.Sprintf("sign-out endpoint %s (%s): fedgate answers sign-out by POST only; register a POST endpoint", e.Location, e.Binding))
		}
	}
	if t.SignatureAlgorithm == sigSHA1 && t.Identifier[0] != microsoftOnline {
		row.AppMustChange = append(row.AppMustChange, "SHA-1 trust: fedgate signs with RSA-SHA1 for now (sha1: true); move the app to SHA-256")
	}
	if im.issuer() == "" {
		row.AppMustChange = append(row.AppMustChange, "new IdP identity: import fedgate's metadata into the app (or import the token-signing key with --token-signing-pfx)")
	}
	w := appHeader(fmt.Sprintf("the ADFS relying party trust %s (%s)", q(t.Name), kind), id, kind, t.Name, row.Policy)
	if kind == "saml" {
		im.samlBlock(w, t, acs, m, &row)
	} else {
		im.wsfedBlock(w, t, m, &row)
	}
	im.res.Files["apps/"+id+".yaml"] = w.bytes()
}

func (im *importer) samlBlock(w *yamlWriter, t RelyingPartyTrust, acs []SamlEndpoint, m *Mapping, row *Row) {
	if t.Identifier[0] == microsoftOnline {
		im.m365(w, m, row)
		return
	}
	w.line(2, "entity_id: %s", q(t.Identifier[0]))
	w.line(2, "acs_urls:")
	for _, e := range acs {
		w.line(3, "- { url: %s, index: %d, default: %t }", q(string(e.Location)), e.Index, e.IsDefault)
	}
	for _, e := range t.SamlEndpoints {
		if e.Protocol == "SAMLLogout" && e.Binding == "POST" {
			w.line(2, "slo_url: %s", q(string(e.Location)))
			break
		}
	}
	im.common(w, t)
	if len(t.RequestSigningCertificate) > 0 {
		file := "certs/" + row.App + "-signing.pem"
		im.res.Files[file] = certPEM(t.RequestSigningCertificate[0])
		w.line(2, "certificate_files: [%s]", q("../"+file))
		if t.SignedSamlRequestsRequired {
			w.line(2, "require_signed_requests: true")
		}
	}
	if t.SamlResponseSignature == "MessageOnly" || t.SamlResponseSignature == "MessageAndAssertion" {
		w.line(2, "sign_response: true")
	}
	if t.SamlResponseSignature == "MessageOnly" {
		w.line(2, "sign_assertion: false")
	}
	if t.EncryptionCertificate != nil && t.EncryptionCertificate.Cert != nil && (t.EncryptClaims == nil || *t.EncryptClaims) {
		file := "certs/" + row.App + "-encryption.pem"
		im.res.Files[file] = certPEM(*t.EncryptionCertificate)
		w.line(2, "encryption_certificate_file: %s", q("../"+file))
		// ADFS encrypts with AES-256-CBC: the SP may know nothing newer.
		w.line(2, "encryption_method: aes256-cbc")
		row.Changes = append(row.Changes, "assertions are encrypted to the imported encryption certificate "+Thumbprint(t.EncryptionCertificate.Cert)+" (AES-256-CBC, as ADFS)")
	}
	nameID(w, m, row)
	if len(m.Claims) > 0 {
		w.line(2, "attributes:")
		for _, c := range m.Claims {
			w.line(3, "- { name: %s, value: %s }", q(c.Type), q(c.Source))
		}
	}
}

func (im *importer) wsfedBlock(w *yamlWriter, t RelyingPartyTrust, m *Mapping, row *Row) {
	if t.Identifier[0] == microsoftOnline {
		im.m365(w, m, row)
		return
	}
	w.line(2, "realm: %s", q(t.Identifier[0]))
	if len(t.Identifier) > 1 {
		row.Changes = append(row.Changes, fmt.Sprintf("only the first identifier is the realm; %s are not accepted", strings.Join(t.Identifier[1:], ", ")))
	}
	w.line(2, "reply_urls: [%s]", q(string(t.WSFedEndpoint)))
	if t.TokenLifetime > 0 {
		w.line(2, "token_ttl: %dm", t.TokenLifetime) // ADFS counts minutes
	}
	im.common(w, t)
	nameID(w, m, row)
	if len(m.Claims) > 0 {
		w.line(2, "claims:")
		for _, c := range m.Claims {
			w.line(3, "- { type: %s, value: %s }", q(c.Type), q(c.Source))
		}
	}
}

// m365 is the "Microsoft Office 365 Identity Platform" trust: fedgate's
// m365 preset issues what its standard rules issue (NameID and claim
// ImmutableID, UPN); only where the ImmutableID comes from is needed.
func (im *importer) m365(w *yamlWriter, m *Mapping, row *Row) {
	w.line(2, "preset: m365")
	src := ""
	for _, c := range m.Claims {
		if c.Type == typeImmutableID {
			src = c.Source
		}
	}
	if m.NameID != nil && src == "" {
		src = m.NameID.Source
	}
	if src == "" {
		src = "claim:immutable_id"
		row.Changes = append(row.Changes, "no rule issues the ImmutableID: it is taken from the upstream's claim immutable_id")
	}
	w.line(2, "immutable_id: %s", q(src))
	if is := im.issuer(); is != "" {
		w.line(2, "issuer: %s", q(is))
	}
	row.Changes = append(row.Changes, "the m365 preset issues NameID = ImmutableID, ImmutableID and UPN, as the standard rules do, signed with SHA-256",
		"imported as WS-Federation only: if the domain's PreferredAuthenticationProtocol is saml, change type and block to saml (same preset)")
}

// common writes what SAML and WS-Fed blocks share.
func (im *importer) common(w *yamlWriter, t RelyingPartyTrust) {
	if is := im.issuer(); is != "" {
		w.line(2, "issuer: %s", q(is))
	}
	if t.SignatureAlgorithm == sigSHA1 {
		w.line(2, "sha1: true")
	}
}

func nameID(w *yamlWriter, m *Mapping, row *Row) {
	if m.NameID == nil {
		w.line(2, "name_id_format: unspecified")
		w.line(2, "name_id_value: upn")
		row.Changes = append(row.Changes, "no rule issues a NameID: fedgate sends the UPN (format unspecified)")
		return
	}
	format := m.NameID.Format
	if format == "" {
		format = "unspecified"
	}
	w.line(2, "name_id_format: %s", q(format))
	w.line(2, "name_id_value: %s", q(m.NameID.Source))
}

func certPEM(c Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
}

// appHeader starts an app fragment: a list of one app, up to the key of
// its protocol block.
func appHeader(from, id, kind, name, policy string) *yamlWriter {
	w := &yamlWriter{}
	w.line(0, "# Imported from %s.", from)
	w.line(0, "- id: %s", id)
	w.line(0, "  type: %s", kind)
	w.line(0, "  name: %s", q(name))
	w.line(0, "  policy: %s", q(policy))
	w.line(0, "  %s:", kind)
	return w
}

type yamlWriter struct{ b strings.Builder }

func (w *yamlWriter) line(indent int, format string, args ...any) {
	w.b.WriteString(strings.Repeat("  ", indent))
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}

func (w *yamlWriter) bytes() []byte { return []byte(w.b.String()) }

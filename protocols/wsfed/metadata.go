package wsfed

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

const (
	nsMetadata = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsFed      = "http://docs.oasis-open.org/wsfed/federation/200706"
	nsXSI      = "http://www.w3.org/2001/XMLSchema-instance"
	nsDSig     = "http://www.w3.org/2000/09/xmldsig#"
)

// Metadata is the federation metadata document for app, signed (a peer
// that polls it rolls certificates over): a SecurityTokenServiceType role
// with every signing key (next ones too), the passive endpoint, the token
// types and the claim types offered. For an app, the issuer its relying
// party sees and its own passive endpoint (/wsfed/<app>), the one
// `fedgate metadata` prints, so a tenant importing it is answered by that
// app even when several apps share a realm. Without an app (""), the
// default issuer and /wsfed, where wtrealm picks the relying party.
func (s *STS) Metadata(app string) ([]byte, error) {
	// The shared passive endpoint is /adfs/ls/ under compat: adfs.
	issuer, endpoint := s.issuer, s.base+s.passivePath
	if app != "" {
		if s.rps[app] == nil {
			return nil, errUnknownApp
		}
		issuer, endpoint = s.Issuer(app), s.base+Path+"/"+app
	}
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", nsMetadata)
	ed.CreateAttr("ID", "_"+hexID(issuer))
	ed.CreateAttr("entityID", issuer)
	role := ed.CreateElement("md:RoleDescriptor")
	role.CreateAttr("xmlns:xsi", nsXSI)
	role.CreateAttr("xmlns:fed", nsFed)
	role.CreateAttr("xsi:type", "fed:SecurityTokenServiceType")
	role.CreateAttr("protocolSupportEnumeration", nsFed)
	keys := assertion.Published(s.Keys)
	signingKeys(role, keys)
	tt := role.CreateElement("fed:TokenTypesOffered")
	for _, t := range []string{tokenTypeSAML11, tokenTypeSAML2} {
		tt.CreateElement("fed:TokenType").CreateAttr("Uri", t)
	}
	ct := role.CreateElement("fed:ClaimTypesOffered")
	for _, c := range []string{preset.ClaimUPN, preset.ClaimImmutableID, preset.ClaimEmailAddress, ClaimAuthnMethod, ClaimAuthnInstant} {
		el := ct.CreateElement("auth:ClaimType")
		el.CreateAttr("xmlns:auth", "http://docs.oasis-open.org/wsfed/authorization/200706")
		el.CreateAttr("Uri", c)
	}
	pe := role.CreateElement("fed:PassiveRequestorEndpoint")
	epr := pe.CreateElement("wsa:EndpointReference")
	epr.CreateAttr("xmlns:wsa", nsAddressing)
	epr.CreateElement("wsa:Address").SetText(endpoint)
	if s.samlPath != "" {
		s.samlRole(ed, keys)
	}
	if err := s.Signer(false).Sign(ed, "ID", 0); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.AddChild(ed)
	return doc.WriteToBytes()
}

// signingKeys lists every published key as a signing KeyDescriptor.
func signingKeys(role *etree.Element, keys []protocols.SigningKey) {
	for _, k := range keys {
		kd := role.CreateElement("md:KeyDescriptor")
		kd.CreateAttr("use", "signing")
		ki := kd.CreateElement("ds:KeyInfo")
		ki.CreateAttr("xmlns:ds", nsDSig)
		ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(k.Cert.Raw))
	}
}

// samlRole is the SAML IdP role ADFS publishes beside the WS-Fed one:
// the same keys, sign-in and sign-out at samlPath on both bindings.
func (s *STS) samlRole(ed *etree.Element, keys []protocols.SigningKey) {
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("protocolSupportEnumeration", "urn:oasis:names:tc:SAML:2.0:protocol")
	signingKeys(idp, keys)
	bindings := []string{"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}
	for _, b := range bindings {
		slo := idp.CreateElement("md:SingleLogoutService")
		slo.CreateAttr("Binding", b)
		slo.CreateAttr("Location", s.base+s.samlPath)
	}
	for _, f := range []string{preset.NameIDPersistent, preset.NameIDEmail, preset.NameIDUnspecified, preset.NameIDTransient} {
		idp.CreateElement("md:NameIDFormat").SetText(f)
	}
	for _, b := range bindings {
		sso := idp.CreateElement("md:SingleSignOnService")
		sso.CreateAttr("Binding", b)
		sso.CreateAttr("Location", s.base+s.samlPath)
	}
}

// metadata serves FederationMetadata.xml (?app=<id>: that app's
// document; an unknown app gets the error page, 404).
func (s *STS) metadata(w http.ResponseWriter, r *http.Request, sp protocols.SessionProvider) {
	app := r.URL.Query().Get("app")
	if app != "" && s.rps[app] == nil {
		sp.Audit(r, protocols.AuditEvent{Event: "wsfed.metadata", Outcome: "failure", App: app, Reason: "unknown-app"})
		sp.Refuse(w, r, http.StatusNotFound, protocols.RefusedRequest, "unknown-app")
		return
	}
	s.ServeMetadata(w, app, s.Metadata)
}

// hexID is a stable XML id for a document about issuer.
func hexID(issuer string) string {
	h := sha256.Sum256([]byte(issuer))
	return hex.EncodeToString(h[:16])
}

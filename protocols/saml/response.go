package saml

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/page"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

const timeFormat = "2006-01-02T15:04:05Z"

func xsTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// responseHead starts a samlp:Response to pend's ACS.
func (p *IdP) responseHead(s *sp, pend *pending, now time.Time, status, sub string) *etree.Element {
	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", nsProtocol)
	resp.CreateAttr("xmlns:saml", nsAssertion)
	resp.CreateAttr("ID", p.NewID())
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", xsTime(now))
	resp.CreateAttr("Destination", pend.ACS)
	if pend.ReqID != "" {
		resp.CreateAttr("InResponseTo", pend.ReqID)
	}
	resp.CreateElement("saml:Issuer").SetText(p.issuerFor(s))
	sc := resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode")
	sc.CreateAttr("Value", status)
	if sub != "" {
		sc.CreateElement("samlp:StatusCode").CreateAttr("Value", sub)
	}
	return resp
}

// errorResponse is a signed Response without an assertion: the SP learns
// the request was denied (RequestDenied), could not be passive (NoPassive)
// or asked for another NameID format.
func (p *IdP) errorResponse(s *sp, pend *pending, sub string) ([]byte, error) {
	top := StatusResponder
	if sub == StatusInvalidNameIDPo {
		top = StatusRequester
	}
	resp := p.responseHead(s, pend, p.Now(), top, sub)
	if err := p.Signer(s.SHA1).Sign(resp, "ID", 1); err != nil {
		return nil, err
	}
	return assertion.Serialize(resp), nil
}

// response is a successful Response carrying one assertion about id.
func (p *IdP) response(s *sp, pend *pending, id protocols.Identity) ([]byte, error) {
	now := p.Now()
	a, err := p.assertion(s, pend, id, now)
	if err != nil {
		return nil, err
	}
	signer := p.Signer(s.SHA1)
	if s.SignAssertion {
		if err := signer.Sign(a, "ID", 1); err != nil {
			return nil, err
		}
	}
	if s.Encryption != nil { // sign, then encrypt
		if a, err = s.Encryption.encrypt(a, p.rand); err != nil {
			return nil, err
		}
	}
	resp := p.responseHead(s, pend, now, StatusSuccess, "")
	resp.AddChild(a)
	if s.SignResponse {
		if err := signer.Sign(resp, "ID", 1); err != nil {
			return nil, err
		}
	}
	return assertion.Serialize(resp), nil
}

// assertion builds the saml:Assertion (unsigned). It declares its own
// namespace, so its signature does not depend on the Response around it.
func (p *IdP) assertion(s *sp, pend *pending, id protocols.Identity, now time.Time) (*etree.Element, error) {
	nameID, err := p.nameID(s, id)
	if err != nil {
		return nil, err
	}
	aid := p.NewID()
	notAfter := xsTime(now.Add(s.AssertionTTL))
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsAssertion)
	a.CreateAttr("ID", aid)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", xsTime(now))
	a.CreateElement("saml:Issuer").SetText(p.issuerFor(s))

	sub := a.CreateElement("saml:Subject")
	n := sub.CreateElement("saml:NameID")
	n.CreateAttr("Format", s.NameIDFormat)
	n.SetText(nameID)
	cd := sub.CreateElement("saml:SubjectConfirmation")
	cd.CreateAttr("Method", confirmationBearer)
	scd := cd.CreateElement("saml:SubjectConfirmationData")
	if pend.ReqID != "" {
		scd.CreateAttr("InResponseTo", pend.ReqID)
	}
	scd.CreateAttr("NotOnOrAfter", notAfter)
	scd.CreateAttr("Recipient", pend.ACS)

	c := a.CreateElement("saml:Conditions")
	c.CreateAttr("NotBefore", xsTime(now.Add(-s.Skew)))
	c.CreateAttr("NotOnOrAfter", notAfter)
	c.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(s.Audience)

	as := a.CreateElement("saml:AuthnStatement")
	at := id.AuthTime
	if at.IsZero() || at.After(now) {
		at = now
	}
	as.CreateAttr("AuthnInstant", xsTime(at))
	// The session's id: an SP's LogoutRequest names it back (slo.go).
	as.CreateAttr("SessionIndex", cmp.Or(id.SessionID, aid))
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(authnClass(s, id))

	var attrs []*etree.Element
	for _, at := range s.Attributes {
		vals := assertion.Values(id, at.Value)
		if len(vals) == 0 {
			continue // nothing to say: omit rather than send an empty value
		}
		el := etree.NewElement("saml:Attribute")
		el.CreateAttr("Name", at.Name)
		if at.NameFormat != AttrNameFormatUnspecified {
			el.CreateAttr("NameFormat", at.NameFormat)
		}
		if at.FriendlyName != "" {
			el.CreateAttr("FriendlyName", at.FriendlyName)
		}
		for _, v := range vals {
			el.CreateElement("saml:AttributeValue").SetText(v)
		}
		attrs = append(attrs, el)
	}
	if len(attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, el := range attrs {
			st.AddChild(el)
		}
	}
	return a, nil
}

// authnClass says truthfully how the user signed in.
func authnClass(s *sp, id protocols.Identity) string {
	return protocols.AuthnOf(id.AMR).SAMLClass(s.MFAClass)
}

// nameID is the user's NameID for s.
func (p *IdP) nameID(s *sp, id protocols.Identity) (string, error) {
	if s.NameIDValue == "transient" {
		return p.NewID(), nil
	}
	v, err := assertion.NameID(id, s.NameIDValue, s.Salt, s.EntityID)
	if err == nil && s.Preset == PresetM365 && len(v) > preset.MaxImmutableIDLength {
		return "", fmt.Errorf("%w: ImmutableID longer than %d characters", assertion.ErrNoValue, preset.MaxImmutableIDLength)
	}
	return v, err
}

// postForm answers by HTTP-POST binding: xml, base64, as name (SAMLResponse),
// with RelayState, posted to the registered URL.
func postForm(w http.ResponseWriter, action, name string, xml []byte, relay string) {
	fields := []page.Field{{Name: name, Value: base64.StdEncoding.EncodeToString(xml)}}
	if relay != "" {
		fields = append(fields, page.Field{Name: "RelayState", Value: relay})
	}
	page.AutoPost(w, action, fields)
}

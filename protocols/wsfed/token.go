package wsfed

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/preset"
)

const (
	nsTrust      = "http://schemas.xmlsoap.org/ws/2005/02/trust"
	nsPolicy     = "http://schemas.xmlsoap.org/ws/2004/09/policy"
	nsAddressing = "http://www.w3.org/2005/08/addressing"
	nsUtility    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsSAML1      = "urn:oasis:names:tc:SAML:1.0:assertion"
	nsSAML2      = "urn:oasis:names:tc:SAML:2.0:assertion"

	tokenTypeSAML11 = "urn:oasis:names:tc:SAML:1.0:assertion"
	tokenTypeSAML2  = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
	bearer1         = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
	bearer2         = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

	timeFormat = "2006-01-02T15:04:05Z"
)

func xsTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// rstr is the wresult: a RequestSecurityTokenResponse around the signed
// assertion.
func (s *STS) rstr(rp *rp, p *pending, id protocols.Identity) ([]byte, error) {
	now := s.Now()
	exp := now.Add(rp.TTL)
	var a *etree.Element
	var err error
	tokenType := tokenTypeSAML11
	if rp.TokenType == TokenSAML2 {
		tokenType = tokenTypeSAML2
		a, err = s.saml2(rp, p.Reply, id, now, exp)
	} else {
		a, err = s.saml11(rp, id, now, exp)
	}
	if err != nil {
		return nil, err
	}
	r := etree.NewElement("t:RequestSecurityTokenResponse")
	r.CreateAttr("xmlns:t", nsTrust)
	lt := r.CreateElement("t:Lifetime")
	c := lt.CreateElement("wsu:Created")
	c.CreateAttr("xmlns:wsu", nsUtility)
	c.SetText(xsTime(now))
	e := lt.CreateElement("wsu:Expires")
	e.CreateAttr("xmlns:wsu", nsUtility)
	e.SetText(xsTime(exp))
	at := r.CreateElement("wsp:AppliesTo")
	at.CreateAttr("xmlns:wsp", nsPolicy)
	epr := at.CreateElement("wsa:EndpointReference")
	epr.CreateAttr("xmlns:wsa", nsAddressing)
	epr.CreateElement("wsa:Address").SetText(rp.Audience)
	r.CreateElement("t:RequestedSecurityToken").AddChild(a)
	r.CreateElement("t:TokenType").SetText(tokenType)
	r.CreateElement("t:RequestType").SetText(nsTrust + "/Issue")
	r.CreateElement("t:KeyType").SetText("http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey")
	return assertion.Fragment(r), nil
}

// saml11 is a SAML 1.1 assertion as ADFS issues it for Microsoft 365:
// NameIdentifier, attributes split into namespace and name, an
// AuthenticationStatement saying how and when, the signature last.
func (s *STS) saml11(rp *rp, id protocols.Identity, now, exp time.Time) (*etree.Element, error) {
	nameID, err := s.nameID(rp, id)
	if err != nil {
		return nil, err
	}
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsSAML1)
	a.CreateAttr("MajorVersion", "1")
	a.CreateAttr("MinorVersion", "1")
	a.CreateAttr("AssertionID", s.NewID())
	a.CreateAttr("Issuer", s.Issuer(rp.App))
	a.CreateAttr("IssueInstant", xsTime(now))
	c := a.CreateElement("saml:Conditions")
	c.CreateAttr("NotBefore", xsTime(now.Add(-rp.Skew)))
	c.CreateAttr("NotOnOrAfter", xsTime(exp))
	c.CreateElement("saml:AudienceRestrictionCondition").CreateElement("saml:Audience").SetText(rp.Audience)
	subject := func(parent *etree.Element) {
		sub := parent.CreateElement("saml:Subject")
		n := sub.CreateElement("saml:NameIdentifier")
		n.CreateAttr("Format", rp.NameIDFormat)
		n.SetText(nameID)
		sub.CreateElement("saml:SubjectConfirmation").CreateElement("saml:ConfirmationMethod").SetText(bearer1)
	}
	attrs := s.claims(rp, id)
	if len(attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		subject(st)
		for _, cl := range attrs {
			i := strings.LastIndex(cl.Type, "/")
			at := st.CreateElement("saml:Attribute")
			at.CreateAttr("AttributeName", cl.Type[i+1:])
			at.CreateAttr("AttributeNamespace", cl.Type[:i])
			for _, v := range cl.values {
				at.CreateElement("saml:AttributeValue").SetText(v)
			}
		}
	}
	as := a.CreateElement("saml:AuthenticationStatement")
	as.CreateAttr("AuthenticationMethod", authMethod(rp, id))
	as.CreateAttr("AuthenticationInstant", xsTime(authTime(id, now)))
	subject(as)
	if err := s.Signer(rp.SHA1).Sign(a, "AssertionID", -1); err != nil {
		return nil, err
	}
	return a, nil
}

// saml2 is a SAML 2.0 assertion for RPs that take one (token_type: saml2).
func (s *STS) saml2(rp *rp, reply string, id protocols.Identity, now, exp time.Time) (*etree.Element, error) {
	nameID, err := s.nameID(rp, id)
	if err != nil {
		return nil, err
	}
	a := etree.NewElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsSAML2)
	a.CreateAttr("ID", s.NewID())
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", xsTime(now))
	a.CreateElement("saml:Issuer").SetText(s.Issuer(rp.App))
	sub := a.CreateElement("saml:Subject")
	n := sub.CreateElement("saml:NameID")
	n.CreateAttr("Format", rp.NameIDFormat)
	n.SetText(nameID)
	scd := sub.CreateElement("saml:SubjectConfirmation")
	scd.CreateAttr("Method", bearer2)
	d := scd.CreateElement("saml:SubjectConfirmationData")
	d.CreateAttr("NotOnOrAfter", xsTime(exp))
	d.CreateAttr("Recipient", reply)
	c := a.CreateElement("saml:Conditions")
	c.CreateAttr("NotBefore", xsTime(now.Add(-rp.Skew)))
	c.CreateAttr("NotOnOrAfter", xsTime(exp))
	c.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(rp.Audience)
	if attrs := s.claims(rp, id); len(attrs) > 0 {
		st := a.CreateElement("saml:AttributeStatement")
		for _, cl := range attrs {
			at := st.CreateElement("saml:Attribute")
			at.CreateAttr("Name", cl.Type)
			for _, v := range cl.values {
				at.CreateElement("saml:AttributeValue").SetText(v)
			}
		}
	}
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", xsTime(authTime(id, now)))
	class := protocols.AuthnOf(id.AMR).SAMLClass(rp.MFAMethod)
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").SetText(class)
	if err := s.Signer(rp.SHA1).Sign(a, "ID", 1); err != nil {
		return nil, err
	}
	return a, nil
}

// authMethod says truthfully how the user signed in.
func authMethod(rp *rp, id protocols.Identity) string {
	return protocols.AuthnOf(id.AMR).SAML1Method(rp.MFAMethod)
}

func authTime(id protocols.Identity, now time.Time) time.Time {
	if id.AuthTime.IsZero() || id.AuthTime.After(now) {
		return now
	}
	return id.AuthTime
}

type claimValues struct {
	Type   string
	values []string
}

// claims are the RP's attributes with values; for Microsoft 365, MFA and
// the sign-in time are also said the way Entra reads them from ADFS.
func (s *STS) claims(rp *rp, id protocols.Identity) []claimValues {
	var out []claimValues
	for _, c := range rp.Claims {
		var vs []string
		if c.Value == "pairwise" {
			vs = []string{assertion.Pairwise(rp.Salt, id, rp.Audience)}
		} else {
			vs = assertion.Values(id, c.Value)
		}
		if len(vs) > 0 {
			out = append(out, claimValues{c.Type, vs})
		}
	}
	if rp.Preset == preset.M365 {
		if protocols.AuthnOf(id.AMR) == protocols.AuthnMFA {
			out = append(out, claimValues{ClaimAuthnMethod, []string{rp.MFAMethod}})
		}
		out = append(out, claimValues{ClaimAuthnInstant, []string{xsTime(authTime(id, s.Now()))}})
	}
	return out
}

func (s *STS) nameID(rp *rp, id protocols.Identity) (string, error) {
	v, err := assertion.NameID(id, rp.NameIDValue, rp.Salt, rp.Audience)
	if err == nil && (rp.Preset == preset.M365 || rp.Preset == preset.EntraB2B) && len(v) > preset.MaxImmutableIDLength {
		return "", fmt.Errorf("%w: ImmutableID longer than %d characters", assertion.ErrNoValue, preset.MaxImmutableIDLength)
	}
	return v, err
}

package samltoken

import (
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
)

// Assertion11 checks a verified SAML 1.1 assertion (the WS-Federation
// token of ADFS 2012 R2 by default) and reads it: Issuer, validity,
// audience, one AuthenticationStatement with a bearer subject; attributes
// are named namespace/name, as the claim types they carry.
func (c Check) Assertion11(a *etree.Element) (*Answer, error) {
	out := &Answer{AssertionID: a.SelectAttrValue("AssertionID", ""), Attributes: map[string][]string{}}
	if out.AssertionID == "" {
		return nil, protocols.Rejectf(protocols.CheckToken, "assertion has no AssertionID")
	}
	if a.SelectAttrValue("MajorVersion", "") != "1" || a.SelectAttrValue("MinorVersion", "") != "1" {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "not a SAML 1.1 assertion")
	}
	if iss := a.SelectAttrValue("Issuer", ""); iss != c.Issuer {
		return nil, protocols.Rejectf(protocols.CheckIssuer, "assertion Issuer %q is not %s", iss, c.Issuer)
	}
	if err := c.conditionsIn(a, NS11, "AudienceRestrictionCondition", out); err != nil {
		return nil, err
	}
	authn := 0
	for _, st := range a.ChildElements() {
		if st.NamespaceURI() != NS11 {
			continue
		}
		switch st.Tag {
		case "AuthenticationStatement":
			authn++
			t, err := time.Parse(time.RFC3339Nano, st.SelectAttrValue("AuthenticationInstant", ""))
			if err != nil {
				return nil, protocols.Rejectf(protocols.CheckToken, "AuthenticationStatement has no valid AuthenticationInstant")
			}
			if t.After(c.Now.Add(c.Skew)) {
				return nil, protocols.Rejectf(protocols.CheckNotYetValid, "AuthenticationInstant %s is in the future", t.UTC().Format(time.RFC3339))
			}
			out.AuthnInstant = t.UTC()
			out.Classes = append(out.Classes, st.SelectAttrValue("AuthenticationMethod", ""))
			if err := subject11(st, out); err != nil {
				return nil, err
			}
		case "AttributeStatement":
			for _, at := range st.ChildElements() {
				if at.Tag != "Attribute" || at.NamespaceURI() != NS11 {
					continue
				}
				name := at.SelectAttrValue("AttributeName", "")
				if ns := at.SelectAttrValue("AttributeNamespace", ""); ns != "" {
					name = ns + "/" + name
				}
				for _, v := range at.ChildElements() {
					if v.Tag == "AttributeValue" && v.NamespaceURI() == NS11 && len(v.ChildElements()) == 0 {
						out.Attributes[name] = append(out.Attributes[name], strings.TrimSpace(v.Text()))
					}
				}
			}
		}
	}
	if authn != 1 {
		return nil, protocols.Rejectf(protocols.CheckStructure, "want one AuthenticationStatement, have %d", authn)
	}
	return out, nil
}

// subject11 reads the authentication statement's subject, which must be
// confirmed by bearer.
func subject11(st *etree.Element, out *Answer) error {
	sub := ChildNS(st, NS11, "Subject")
	if sub == nil {
		return protocols.Rejectf(protocols.CheckSubject, "AuthenticationStatement has no Subject")
	}
	if n := ChildNS(sub, NS11, "NameIdentifier"); n != nil {
		out.NameID, out.NameIDFormat = strings.TrimSpace(n.Text()), n.SelectAttrValue("Format", nameIDUnspecified)
	}
	if sc := ChildNS(sub, NS11, "SubjectConfirmation"); sc != nil {
		for _, m := range sc.ChildElements() {
			if m.Tag == "ConfirmationMethod" && m.NamespaceURI() == NS11 && strings.TrimSpace(m.Text()) == bearer11 {
				return nil
			}
		}
	}
	return protocols.Rejectf(protocols.CheckSubject, "no bearer SubjectConfirmation")
}

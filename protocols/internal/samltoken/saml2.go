// Package samltoken checks and reads SAML assertions that an IdP signed
// for us — SAML 2.0 from a SAML Response, SAML 1.1 or 2.0 from a
// WS-Federation wresult — and maps them to the shared Identity, one way
// for both upstreams. It reads only verified (canonical, signed) elements;
// signature checks are the caller's, with xmlsig.
package samltoken

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
)

// Namespaces and values of SAML 1.1 and 2.0 assertions.
const (
	NS2               = "urn:oasis:names:tc:SAML:2.0:assertion"
	NS11              = "urn:oasis:names:tc:SAML:1.0:assertion"
	bearer2           = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	bearer11          = "urn:oasis:names:tc:SAML:1.0:cm:bearer"
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

// Check is what an assertion must match; every field is the caller's,
// never the answer's.
type Check struct {
	Issuer   string // the IdP's pinned entity id
	Audience string // our entity id / realm
	// Recipient and RequestID bind a SAML 2.0 bearer confirmation to one
	// login (SAML Web SSO); WS-Federation has neither ("" skips them when
	// both are empty: its wctx binds the login instead).
	Recipient string
	RequestID string
	Now       time.Time
	Skew      time.Duration
}

// Answer is what a verified assertion says.
type Answer struct {
	AssertionID  string
	NotOnOrAfter time.Time // of the assertion: the replay marker's lifetime
	NameID       string
	NameIDFormat string
	Attributes   map[string][]string
	AuthnInstant time.Time
	Classes      []string // AuthnContextClassRef (SAML 2.0) or AuthenticationMethod (1.1)
}

// Assertion checks a verified SAML 2.0 assertion and reads it.
func (c Check) Assertion(a *etree.Element) (*Answer, error) {
	out := &Answer{AssertionID: a.SelectAttrValue("ID", ""), Attributes: map[string][]string{}}
	if out.AssertionID == "" {
		return nil, protocols.Rejectf(protocols.CheckToken, "assertion has no ID")
	}
	if v := a.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "assertion version %q", v)
	}
	if iss := ChildNS(a, NS2, "Issuer"); iss == nil || strings.TrimSpace(iss.Text()) != c.Issuer {
		return nil, protocols.Rejectf(protocols.CheckIssuer, "assertion Issuer is not %s", c.Issuer)
	}
	if err := c.conditions(a, out); err != nil {
		return nil, err
	}
	if err := c.subject(a, out); err != nil {
		return nil, err
	}
	authn := 0
	for _, st := range a.ChildElements() {
		if st.NamespaceURI() != NS2 {
			continue
		}
		switch st.Tag {
		case "AuthnStatement":
			authn++
			t, err := time.Parse(time.RFC3339Nano, st.SelectAttrValue("AuthnInstant", ""))
			if err != nil {
				return nil, protocols.Rejectf(protocols.CheckToken, "AuthnStatement has no valid AuthnInstant")
			}
			if t.After(c.Now.Add(c.Skew)) {
				return nil, protocols.Rejectf(protocols.CheckNotYetValid, "AuthnInstant %s is in the future", t.UTC().Format(time.RFC3339))
			}
			out.AuthnInstant = t.UTC()
			if ctx := ChildNS(st, NS2, "AuthnContext"); ctx != nil {
				if ref := ChildNS(ctx, NS2, "AuthnContextClassRef"); ref != nil {
					out.Classes = append(out.Classes, strings.TrimSpace(ref.Text()))
				}
			}
		case "AttributeStatement":
			for _, at := range st.ChildElements() {
				if at.Tag != "Attribute" || at.NamespaceURI() != NS2 {
					continue
				}
				name := at.SelectAttrValue("Name", "")
				for _, v := range at.ChildElements() {
					if v.Tag == "AttributeValue" && v.NamespaceURI() == NS2 && len(v.ChildElements()) == 0 {
						out.Attributes[name] = append(out.Attributes[name], strings.TrimSpace(v.Text()))
					}
				}
			}
		}
	}
	if authn != 1 {
		return nil, protocols.Rejectf(protocols.CheckStructure, "want one AuthnStatement, have %d", authn)
	}
	return out, nil
}

// conditions: the validity window (with skew) and an audience restriction
// naming us; every AudienceRestriction must (SAML core §2.5.1.4).
func (c Check) conditions(a *etree.Element, out *Answer) error {
	return c.conditionsIn(a, NS2, "AudienceRestriction", out)
}

// conditionsIn checks Conditions in namespace ns, whose audience
// restrictions are named restriction (SAML 1.1: AudienceRestrictionCondition).
func (c Check) conditionsIn(a *etree.Element, ns, restriction string, out *Answer) error {
	cond := ChildNS(a, ns, "Conditions")
	if cond == nil {
		return protocols.Rejectf(protocols.CheckToken, "assertion has no Conditions")
	}
	nb, nooa, err := window(cond)
	if err != nil {
		return err
	}
	if nooa.IsZero() {
		return protocols.Rejectf(protocols.CheckToken, "assertion Conditions have no NotOnOrAfter")
	}
	if !nb.IsZero() && c.Now.Add(c.Skew).Before(nb) {
		return protocols.Rejectf(protocols.CheckNotYetValid, "assertion not yet valid (NotBefore %s)", nb.UTC().Format(time.RFC3339))
	}
	if !c.Now.Add(-c.Skew).Before(nooa) {
		return protocols.Rejectf(protocols.CheckExpired, "assertion expired (NotOnOrAfter %s)", nooa.UTC().Format(time.RFC3339))
	}
	out.NotOnOrAfter = nooa
	restrictions := 0
	for _, ar := range cond.ChildElements() {
		if ar.Tag != restriction || ar.NamespaceURI() != ns {
			continue
		}
		restrictions++
		ok := false
		for _, au := range ar.ChildElements() {
			if au.Tag == "Audience" && au.NamespaceURI() == ns && strings.TrimSpace(au.Text()) == c.Audience {
				ok = true
			}
		}
		if !ok {
			return protocols.Rejectf(protocols.CheckAudience, "assertion audience is not %s", c.Audience)
		}
	}
	if restrictions == 0 {
		return protocols.Rejectf(protocols.CheckAudience, "assertion has no %s", restriction)
	}
	return nil
}

// window reads NotBefore and NotOnOrAfter (zero when absent).
func window(el *etree.Element) (nb, nooa time.Time, err error) {
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"NotBefore", &nb}, {"NotOnOrAfter", &nooa}} {
		if v := el.SelectAttrValue(f.name, ""); v != "" {
			if *f.dst, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return nb, nooa, protocols.Rejectf(protocols.CheckMalformed, "%s %q is not a time", f.name, v)
			}
		}
	}
	return nb, nooa, nil
}

// subject reads the NameID and needs one bearer SubjectConfirmation for
// this login: our ACS as Recipient, our request, still valid.
func (c Check) subject(a *etree.Element, out *Answer) error {
	sub := ChildNS(a, NS2, "Subject")
	if sub == nil {
		return protocols.Rejectf(protocols.CheckSubject, "assertion has no Subject")
	}
	if id := ChildNS(sub, NS2, "NameID"); id != nil {
		out.NameID, out.NameIDFormat = strings.TrimSpace(id.Text()), id.SelectAttrValue("Format", nameIDUnspecified)
	}
	var why []string
	var failed protocols.Check // of the first confirmation refused
	for _, sc := range sub.ChildElements() {
		if sc.Tag != "SubjectConfirmation" || sc.NamespaceURI() != NS2 || sc.SelectAttrValue("Method", "") != bearer2 {
			continue
		}
		d := ChildNS(sc, NS2, "SubjectConfirmationData")
		if d == nil {
			why = append(why, "no SubjectConfirmationData")
			failed = cmp.Or(failed, protocols.CheckToken)
			continue
		}
		if err := c.confirmation(d); err != nil {
			why = append(why, err.Error())
			failed = cmp.Or(failed, protocols.RejectedCheck(err))
			continue
		}
		return nil
	}
	if len(why) == 0 {
		return protocols.Rejectf(protocols.CheckSubject, "no bearer SubjectConfirmation")
	}
	return protocols.Rejectf(failed, "bearer SubjectConfirmation: %s", strings.Join(why, "; "))
}

func (c Check) confirmation(d *etree.Element) error {
	if r := d.SelectAttrValue("Recipient", ""); c.Recipient != "" && r != c.Recipient {
		return protocols.Rejectf(protocols.CheckRecipient, "recipient %q is not %s", r, c.Recipient)
	}
	if irt := d.SelectAttrValue("InResponseTo", ""); irt != c.RequestID {
		return protocols.Rejectf(protocols.CheckInResponseTo, "InResponseTo %q is not this login's request", irt)
	}
	nb, nooa, err := window(d)
	if err != nil {
		return err
	}
	if nooa.IsZero() || !c.Now.Add(-c.Skew).Before(nooa) {
		return protocols.Rejectf(protocols.CheckExpired, "expired or without NotOnOrAfter")
	}
	if !nb.IsZero() && c.Now.Add(c.Skew).Before(nb) {
		return protocols.Rejectf(protocols.CheckNotYetValid, "not yet valid")
	}
	return nil
}

// HasComment reports a comment anywhere under el.
func HasComment(el *etree.Element) bool {
	return slices.ContainsFunc(el.Child, func(t etree.Token) bool {
		switch t := t.(type) {
		case *etree.Comment:
			return true
		case *etree.Element:
			return HasComment(t)
		}
		return false
	})
}

// ChildNS is el's first child element ns:tag.
func ChildNS(el *etree.Element, ns, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag && c.NamespaceURI() == ns {
			return c
		}
	}
	return nil
}

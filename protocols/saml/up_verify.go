package saml

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// maxResponse bounds a decoded SAML Response.
const maxResponse = 256 << 10

// answerCheck is what one answer must match: the login it finishes and
// whom we trust. Every field is the caller's, never the answer's.
type answerCheck struct {
	IdPEntityID string
	Verifier    xmlsig.Verifier
	SPEntityID  string
	ACS         string // our callback: Destination and Recipient
	RequestID   string // our AuthnRequest's ID: InResponseTo
	Now         time.Time
	Skew        time.Duration
	// SignedAssertion: the assertion itself must be signed (a signed
	// Response around an unsigned assertion is not enough).
	SignedAssertion bool
	// Encrypted refuses assertions sent in the clear.
	Encrypted bool
	// Decrypt opens EncryptedAssertion; nil refuses encrypted ones.
	Decrypt func(*etree.Element) (*etree.Element, error)
}

// answer is what a verified assertion says; read only from verified
// (canonical, comment-free, signed) copies.
type answer struct {
	AssertionID  string
	NotOnOrAfter time.Time // of the assertion's use: replay marker lifetime
	NameID       string
	NameIDFormat string
	Attributes   map[string][]string
	AuthnInstant time.Time
	Classes      []string // AuthnContextClassRef
}

// errStatus is a non-success StatusCode: the IdP declined.
type errStatus struct{ Code, Message string }

func (e *errStatus) Error() string {
	return "IdP answered " + e.Code + ": " + e.Message
}

// checkResponse verifies a base64 SAMLResponse (HTTP-POST binding).
func (c answerCheck) checkResponse(b64 string) (*answer, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil, fmt.Errorf("SAMLResponse is not base64: %v", err)
	}
	doc, err := xmlsig.Parse(raw, maxResponse)
	if err != nil {
		return nil, err
	}
	if hasComment(doc.Root()) {
		// No IdP sends comments; they split text so that a careless reader
		// takes "alice@corp" from a signed "alice@corp<!---->.evil".
		return nil, errors.New("the answer contains XML comments")
	}
	return c.response(doc.Root())
}

func (c answerCheck) response(root *etree.Element) (*answer, error) {
	if root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return nil, fmt.Errorf("root is %s, not samlp:Response", root.FullTag())
	}
	resp, signed := root, false
	if xmlsig.Signed(root) {
		v, err := c.Verifier.Verify(root, "ID")
		if err != nil {
			return nil, fmt.Errorf("response signature: %w", err)
		}
		resp, signed = v, true
	}
	if v := resp.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, fmt.Errorf("response version %q", v)
	}
	if d := resp.SelectAttrValue("Destination", ""); d != c.ACS {
		return nil, fmt.Errorf("response Destination %q is not %s", d, c.ACS)
	}
	if irt := resp.SelectAttrValue("InResponseTo", ""); irt != c.RequestID {
		return nil, fmt.Errorf("response InResponseTo %q is not this login's request", irt)
	}
	if iss := childNS(resp, nsAssertion, "Issuer"); iss != nil && strings.TrimSpace(iss.Text()) != c.IdPEntityID {
		return nil, fmt.Errorf("response Issuer %q is not %s", iss.Text(), c.IdPEntityID)
	}
	if err := status(resp); err != nil {
		return nil, err
	}
	var found []*etree.Element
	for _, el := range resp.ChildElements() {
		if el.NamespaceURI() == nsAssertion && (el.Tag == "Assertion" || el.Tag == "EncryptedAssertion") {
			found = append(found, el)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want exactly one assertion, have %d", len(found))
	}
	a := found[0]
	if a.Tag == "EncryptedAssertion" {
		if c.Decrypt == nil {
			return nil, errors.New("encrypted assertion, but no decryption key is configured")
		}
		plain, err := c.Decrypt(a)
		if err != nil {
			return nil, err
		}
		a = plain
	} else if c.Encrypted {
		return nil, errors.New("the assertion is not encrypted")
	}
	if xmlsig.Signed(a) {
		v, err := c.Verifier.Verify(a, "ID")
		if err != nil {
			return nil, fmt.Errorf("assertion signature: %w", err)
		}
		a = v
	} else if !signed || c.SignedAssertion {
		return nil, errors.New("the assertion is not signed")
	}
	return c.assertion(a)
}

// status refuses anything but Success, as the IdP's own refusal.
func status(resp *etree.Element) error {
	st := childNS(resp, nsProtocol, "Status")
	var code *etree.Element
	if st != nil {
		code = childNS(st, nsProtocol, "StatusCode")
	}
	if code == nil {
		return errors.New("response has no StatusCode")
	}
	v := code.SelectAttrValue("Value", "")
	if v == StatusSuccess {
		return nil
	}
	if sub := childNS(code, nsProtocol, "StatusCode"); sub != nil {
		v += " / " + sub.SelectAttrValue("Value", "")
	}
	msg := ""
	if m := childNS(st, nsProtocol, "StatusMessage"); m != nil {
		msg = m.Text()
	}
	return &errStatus{Code: v, Message: msg}
}

// assertion checks a verified assertion and reads it.
func (c answerCheck) assertion(a *etree.Element) (*answer, error) {
	out := &answer{AssertionID: a.SelectAttrValue("ID", ""), Attributes: map[string][]string{}}
	if out.AssertionID == "" {
		return nil, errors.New("assertion has no ID")
	}
	if v := a.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, fmt.Errorf("assertion version %q", v)
	}
	if iss := childNS(a, nsAssertion, "Issuer"); iss == nil || strings.TrimSpace(iss.Text()) != c.IdPEntityID {
		return nil, fmt.Errorf("assertion Issuer is not %s", c.IdPEntityID)
	}
	if err := c.conditions(a, out); err != nil {
		return nil, err
	}
	if err := c.subject(a, out); err != nil {
		return nil, err
	}
	authn := 0
	for _, st := range a.ChildElements() {
		if st.NamespaceURI() != nsAssertion {
			continue
		}
		switch st.Tag {
		case "AuthnStatement":
			authn++
			t, err := time.Parse(time.RFC3339Nano, st.SelectAttrValue("AuthnInstant", ""))
			if err != nil {
				return nil, errors.New("AuthnStatement has no valid AuthnInstant")
			}
			if t.After(c.Now.Add(c.Skew)) {
				return nil, fmt.Errorf("AuthnInstant %s is in the future", t.UTC().Format(time.RFC3339))
			}
			out.AuthnInstant = t.UTC()
			if ctx := childNS(st, nsAssertion, "AuthnContext"); ctx != nil {
				if ref := childNS(ctx, nsAssertion, "AuthnContextClassRef"); ref != nil {
					out.Classes = append(out.Classes, strings.TrimSpace(ref.Text()))
				}
			}
		case "AttributeStatement":
			for _, at := range st.ChildElements() {
				if at.Tag != "Attribute" || at.NamespaceURI() != nsAssertion {
					continue
				}
				name := at.SelectAttrValue("Name", "")
				for _, v := range at.ChildElements() {
					if v.Tag == "AttributeValue" && v.NamespaceURI() == nsAssertion && len(v.ChildElements()) == 0 {
						out.Attributes[name] = append(out.Attributes[name], strings.TrimSpace(v.Text()))
					}
				}
			}
		}
	}
	if authn != 1 {
		return nil, fmt.Errorf("want one AuthnStatement, have %d", authn)
	}
	return out, nil
}

// conditions: the validity window (with skew) and an audience restriction
// naming us; every AudienceRestriction must (SAML core §2.5.1.4).
func (c answerCheck) conditions(a *etree.Element, out *answer) error {
	cond := childNS(a, nsAssertion, "Conditions")
	if cond == nil {
		return errors.New("assertion has no Conditions")
	}
	nb, nooa, err := window(cond)
	if err != nil {
		return err
	}
	if nooa.IsZero() {
		return errors.New("assertion Conditions have no NotOnOrAfter")
	}
	if !nb.IsZero() && c.Now.Add(c.Skew).Before(nb) {
		return fmt.Errorf("assertion not yet valid (NotBefore %s)", nb.UTC().Format(time.RFC3339))
	}
	if !c.Now.Add(-c.Skew).Before(nooa) {
		return fmt.Errorf("assertion expired (NotOnOrAfter %s)", nooa.UTC().Format(time.RFC3339))
	}
	out.NotOnOrAfter = nooa
	restrictions := 0
	for _, ar := range cond.ChildElements() {
		if ar.Tag != "AudienceRestriction" || ar.NamespaceURI() != nsAssertion {
			continue
		}
		restrictions++
		ok := false
		for _, au := range ar.ChildElements() {
			if au.Tag == "Audience" && au.NamespaceURI() == nsAssertion && strings.TrimSpace(au.Text()) == c.SPEntityID {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("assertion audience is not %s", c.SPEntityID)
		}
	}
	if restrictions == 0 {
		return errors.New("assertion has no AudienceRestriction")
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
				return nb, nooa, fmt.Errorf("%s %q is not a time", f.name, v)
			}
		}
	}
	return nb, nooa, nil
}

// subject reads the NameID and needs one bearer SubjectConfirmation for
// this login: our ACS as Recipient, our request, still valid.
func (c answerCheck) subject(a *etree.Element, out *answer) error {
	sub := childNS(a, nsAssertion, "Subject")
	if sub == nil {
		return errors.New("assertion has no Subject")
	}
	if id := childNS(sub, nsAssertion, "NameID"); id != nil {
		out.NameID, out.NameIDFormat = strings.TrimSpace(id.Text()), id.SelectAttrValue("Format", NameIDUnspecified)
	}
	var why []string
	for _, sc := range sub.ChildElements() {
		if sc.Tag != "SubjectConfirmation" || sc.NamespaceURI() != nsAssertion || sc.SelectAttrValue("Method", "") != confirmationBearer {
			continue
		}
		d := childNS(sc, nsAssertion, "SubjectConfirmationData")
		if d == nil {
			why = append(why, "no SubjectConfirmationData")
			continue
		}
		if err := c.confirmation(d); err != nil {
			why = append(why, err.Error())
			continue
		}
		return nil
	}
	if len(why) == 0 {
		return errors.New("no bearer SubjectConfirmation")
	}
	return errors.New("bearer SubjectConfirmation: " + strings.Join(why, "; "))
}

func (c answerCheck) confirmation(d *etree.Element) error {
	if r := d.SelectAttrValue("Recipient", ""); r != c.ACS {
		return fmt.Errorf("Recipient %q is not %s", r, c.ACS)
	}
	if irt := d.SelectAttrValue("InResponseTo", ""); irt != c.RequestID {
		return fmt.Errorf("InResponseTo %q is not this login's request", irt)
	}
	nb, nooa, err := window(d)
	if err != nil {
		return err
	}
	if nooa.IsZero() || !c.Now.Add(-c.Skew).Before(nooa) {
		return errors.New("expired or without NotOnOrAfter")
	}
	if !nb.IsZero() && c.Now.Add(c.Skew).Before(nb) {
		return errors.New("not yet valid")
	}
	return nil
}

// hasComment reports a comment anywhere under el.
func hasComment(el *etree.Element) bool {
	return slices.ContainsFunc(el.Child, func(t etree.Token) bool {
		switch t := t.(type) {
		case *etree.Comment:
			return true
		case *etree.Element:
			return hasComment(t)
		}
		return false
	})
}

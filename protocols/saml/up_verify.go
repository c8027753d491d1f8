package saml

import (
	"encoding/base64"
	"strings"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// maxResponse bounds a decoded SAML Response.
const maxResponse = 256 << 10

// answerCheck is what one answer must match: the login it finishes and
// whom we trust. Every field is the caller's, never the answer's.
type answerCheck struct {
	// Assertion: the pinned IdP entity id as Issuer, our entity id as
	// Audience, our callback as Recipient (and Destination), our
	// AuthnRequest's ID as InResponseTo.
	Assertion samltoken.Check
	Verifier  xmlsig.Verifier
	// SignedAssertion: the assertion itself must be signed (a signed
	// Response around an unsigned assertion is not enough).
	SignedAssertion bool
	// Encrypted refuses assertions sent in the clear.
	Encrypted bool
	// Decrypt opens EncryptedAssertion; nil refuses encrypted ones.
	Decrypt func(*etree.Element) (*etree.Element, error)
}

// errStatus is a non-success StatusCode: the IdP declined.
type errStatus struct{ Code, Message string }

func (e *errStatus) Error() string {
	return "IdP answered " + e.Code + ": " + e.Message
}

// checkResponse verifies a base64 SAMLResponse (HTTP-POST binding).
func (c answerCheck) checkResponse(b64 string) (*samltoken.Answer, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(b64), ""))
	if err != nil {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "SAMLResponse is not base64: %v", err)
	}
	doc, err := samltoken.Parse(raw, maxResponse)
	if err != nil {
		return nil, err
	}
	return c.response(doc.Root())
}

func (c answerCheck) response(root *etree.Element) (*samltoken.Answer, error) {
	if root.Tag != "Response" || root.NamespaceURI() != nsProtocol {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "root is %s, not samlp:Response", root.FullTag())
	}
	resp, signed := root, false
	if xmlsig.Signed(root) {
		v, err := c.Verifier.Verify(root, "ID")
		if err != nil {
			return nil, protocols.Rejectf(protocols.CheckSignature, "response signature: %w", err)
		}
		resp, signed = v, true
	}
	if v := resp.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "response version %q", v)
	}
	if d := resp.SelectAttrValue("Destination", ""); d != c.Assertion.Recipient {
		return nil, protocols.Rejectf(protocols.CheckDestination, "response Destination %q is not %s", d, c.Assertion.Recipient)
	}
	if irt := resp.SelectAttrValue("InResponseTo", ""); irt != c.Assertion.RequestID {
		return nil, protocols.Rejectf(protocols.CheckInResponseTo, "response InResponseTo %q is not this login's request", irt)
	}
	if iss := childNS(resp, nsAssertion, "Issuer"); iss != nil && strings.TrimSpace(iss.Text()) != c.Assertion.Issuer {
		return nil, protocols.Rejectf(protocols.CheckIssuer, "response Issuer %q is not %s", iss.Text(), c.Assertion.Issuer)
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
		return nil, protocols.Rejectf(protocols.CheckStructure, "want exactly one assertion, have %d", len(found))
	}
	a := found[0]
	if a.Tag == "EncryptedAssertion" {
		if c.Decrypt == nil {
			return nil, protocols.Rejectf(protocols.CheckDecryption, "encrypted assertion, but no decryption key is configured")
		}
		plain, err := c.Decrypt(a)
		if err != nil {
			return nil, protocols.Reject(protocols.CheckDecryption, err)
		}
		a = plain
	} else if c.Encrypted {
		return nil, protocols.Rejectf(protocols.CheckEncryption, "the assertion is not encrypted")
	}
	if xmlsig.Signed(a) {
		v, err := c.Verifier.Verify(a, "ID")
		if err != nil {
			return nil, protocols.Rejectf(protocols.CheckSignature, "assertion signature: %w", err)
		}
		a = v
	} else if !signed || c.SignedAssertion {
		return nil, protocols.Rejectf(protocols.CheckSignature, "the assertion is not signed")
	}
	return c.Assertion.Assertion(a)
}

// status refuses anything but Success, as the IdP's own refusal.
func status(resp *etree.Element) error {
	st := childNS(resp, nsProtocol, "Status")
	var code *etree.Element
	if st != nil {
		code = childNS(st, nsProtocol, "StatusCode")
	}
	if code == nil {
		return protocols.Rejectf(protocols.CheckMalformed, "response has no StatusCode")
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

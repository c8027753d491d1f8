package saml

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/assertion"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// slo is SP-initiated single logout: a LogoutRequest by HTTP-Redirect or
// HTTP-POST, checked like an AuthnRequest (SP by Issuer, signature when
// present, required when the SP has a certificate; IssueInstant,
// Destination, ID single-use), ends the fedgate session everywhere.
// An unsigned one (an SP without a certificate) could come from any page:
// it ends the session only if it names what fedgate told that SP in this
// session (sessionOf); otherwise the user is asked (the broker's
// confirmation page), and nothing is written to the store for it.
// The SP gets a signed LogoutResponse at its slo_url, by POST; without one
// the user sees that they are signed out.
func (p *IdP) slo(w http.ResponseWriter, r *http.Request, spv protocols.SessionProvider) {
	app := r.PathValue("app")
	refuse := func(app string, err error) { p.refuseAs(w, r, spv, "saml.slo", app, err) }
	in, err := decodeBinding(r)
	if err != nil {
		refuse(app, err)
		return
	}
	root, err := parseProtocol(in.xml, "LogoutRequest")
	if err != nil {
		refuse(app, err)
		return
	}
	s, err := p.spFor(issuerOf(root), app)
	if err != nil {
		refuse(app, err)
		return
	}
	// A logout is a state change a link could trigger (logout CSRF): an
	// SP that has a key must sign it.
	signed := in.hasQuerySign || (in.binding == BindingPOST && xmlsig.Signed(root))
	if !signed && len(s.Certs) > 0 {
		refuse(s.App, &appError{s.App, errUnsigned})
		return
	}
	el, err := verifyRequest(s, in, root)
	if err != nil {
		refuse(s.App, &appError{s.App, err})
		return
	}
	id := el.SelectAttrValue("ID", "")
	at, err := time.Parse(time.RFC3339Nano, el.SelectAttrValue("IssueInstant", ""))
	if err != nil || id == "" {
		refuse(s.App, &appError{s.App, fmt.Errorf("%w: LogoutRequest without ID or IssueInstant", errBadRequest)})
		return
	}
	req := &authnRequest{IssueInstant: at, Destination: el.SelectAttrValue("Destination", "")}
	if err := errors.Join(checkTime(s, req, p.Now()), checkDestination(req, p.base+r.URL.Path)); err != nil {
		refuse(s.App, &appError{s.App, err})
		return
	}
	if !signed && !p.sessionOf(r, spv, s, el) {
		spv.Audit(r, protocols.AuditEvent{Event: "saml.slo", Outcome: "failure", App: s.App, Reason: "not-this-session"})
		protocols.ConfirmSignOut(w, r, spv, "")
		return
	}
	if ok, err := spv.Claim(r.Context(), "saml-slo:"+s.App+":"+id, p.Now().Add(s.RequestMaxAge+2*s.Skew)); err != nil || !ok {
		why := fmt.Errorf("%w: %s", errReplay, id)
		if err != nil {
			why = fmt.Errorf("%w: replay mark: %w", errStore, err)
		}
		refuse(s.App, &appError{s.App, why})
		return
	}
	if err := spv.EndSession(w, r); err != nil {
		p.Logger.ErrorContext(r.Context(), "saml: end session", "app", s.App, "err", err)
	}
	spv.Audit(r, protocols.AuditEvent{Event: "saml.logout", Outcome: "success", App: s.App})
	if s.SLOURL == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "You are signed out.")
		return
	}
	resp := etree.NewElement("samlp:LogoutResponse")
	resp.CreateAttr("xmlns:samlp", nsProtocol)
	resp.CreateAttr("xmlns:saml", nsAssertion)
	resp.CreateAttr("ID", p.NewID())
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", xsTime(p.Now()))
	resp.CreateAttr("Destination", s.SLOURL)
	resp.CreateAttr("InResponseTo", id)
	resp.CreateElement("saml:Issuer").SetText(p.issuerFor(s))
	resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", StatusSuccess)
	if err := p.Signer(s.SHA1).Sign(resp, "ID", 1); err != nil {
		refuse(s.App, err)
		return
	}
	postForm(w, s.SLOURL, "SAMLResponse", assertion.Serialize(resp), strings.TrimSpace(in.relayState))
}

// sessionOf: the LogoutRequest names the browser's session as fedgate
// described it to s — a SessionIndex that is the session's id, and the
// NameID s was given (any, for transient NameIDs: new in every assertion).
func (p *IdP) sessionOf(r *http.Request, spv protocols.SessionProvider, s *sp, req *etree.Element) bool {
	cur, ok := spv.Current(r)
	if !ok || cur.SessionID == "" {
		return false
	}
	indexed := false
	for _, c := range req.ChildElements() {
		if c.Tag == "SessionIndex" && c.NamespaceURI() == nsProtocol && strings.TrimSpace(c.Text()) == cur.SessionID {
			indexed = true
		}
	}
	n := childNS(req, nsAssertion, "NameID")
	if !indexed || n == nil {
		return false
	}
	if s.NameIDValue == "transient" {
		return true
	}
	want, err := p.nameID(s, cur)
	return err == nil && strings.TrimSpace(n.Text()) == want
}

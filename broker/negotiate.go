package broker

import (
	"errors"
	"net/http"

	"github.com/fedgate/fedgate/policy"
	"github.com/fedgate/fedgate/protocols"
)

// How far Windows integrated sign-in went in one login (Pending.Negotiate).
const (
	negAsked = "asked" // the 401 challenge was sent
	negTried = "tried" // a token came and was declined
)

// negotiate tries Windows integrated sign-in before any page, at the first
// candidate upstream that offers it to this client, and asks for the token
// at most once per login. It reports whether it answered the request; if
// not, the login goes on to the next way (home-realm discovery).
func (b *Server) negotiate(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, cands []string, formErr string) bool {
	if formErr != "" || p.Negotiate == negTried {
		return false
	}
	ip := snap.clientAddr(r, "")
	var up string
	var na protocols.NegotiateAuthenticator
	for _, id := range cands {
		n := waysOf(snap.byID[id].Upstream).negotiate
		if n != nil && (p.Upstream == "" || p.Upstream == id) && n.OffersTo(ip, r.UserAgent()) && !b.needsMFAFrom(r, snap, p, id) {
			up, na = id, n
			break
		}
	}
	if na == nil {
		return false
	}
	id, resp, err := na.Negotiate(r.Context(), r, b.upstreamClaim(up))
	if errors.Is(err, protocols.ErrNoCredentials) {
		if p.Negotiate != "" {
			return false // asked once already: this browser does not answer
		}
		p.Negotiate = negAsked
		b.challenge(w, r, snap, p)
		return true
	}
	ev := AuditEvent{Time: b.now(), Event: "signin", Outcome: "failure", Upstream: up, App: p.App,
		ClientIP: ip.String(), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())}
	if err != nil {
		ev.Reason = negotiateReason(err)
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(up, "failure").Inc()
		b.Logger.InfoContext(r.Context(), "negotiate declined; falling back", "upstream", up, "err", err)
		p.Negotiate = negTried
		if p.Upstream == up {
			p.Upstream = ""
		}
		// Saved now: whatever page follows, this login does not try again.
		if err := b.savePending(w, snap, p); err != nil {
			b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
			return true
		}
		return false
	}
	if resp != "" {
		w.Header().Set("WWW-Authenticate", "Negotiate "+resp) // mutual authentication
	}
	p.Upstream = up
	b.signedIn(w, r, snap, p, id, ev)
	return true
}

// needsMFAFrom: the app will certainly want MFA from whoever signs in
// through upstream (its policy, or the app's own request). Windows sign-in
// cannot give MFA, so it is not tried: a session from it would only be
// denied, and would then stand in the way of a sign-in that can.
func (b *Server) needsMFAFrom(r *http.Request, snap *Snapshot, p *Pending, upstream string) bool {
	app := snap.apps[p.App]
	if app == nil {
		return false
	}
	if p.AppMFA {
		return true
	}
	pol, _ := snap.Config.PolicySet.Policy(app.Policy)
	return policy.RequiresMFA(pol, policy.Input{App: app.ID, Upstream: upstream, ClientIP: snap.clientAddr(r, ""), Now: b.now()}) != nil
}

// challenge asks for a Negotiate token. A browser that will not answer
// shows the body instead, which goes on by itself to the same login, where
// the next way is used: no dialog and no blank page.
func (b *Server) challenge(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending) {
	if err := b.savePending(w, snap, p); err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	w.Header().Set("WWW-Authenticate", "Negotiate")
	lang := pickLanguage(w, r, snap.sealer.secure)
	b.render(w, r, snap, http.StatusUnauthorized, "negotiate", pageData{
		Title: translate(lang, "neg.title"), Refresh: "/login?l=" + p.ID,
	})
}

// negotiateReason is the audit reason of a declined Negotiate token.
func negotiateReason(err error) string {
	if ne, ok := errors.AsType[*protocols.NegotiateError](err); ok {
		return "negotiate-" + ne.Reason
	}
	return "negotiate-error"
}

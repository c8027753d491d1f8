package broker

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/proxy"
)

// beginRedirect sends the browser to a redirect upstream. The in-flight
// login's id doubles as the OAuth state; its nonce and PKCE verifier live
// only in the sealed login cookie, so any replica can finish the login.
func (b *Server) beginRedirect(w http.ResponseWriter, r *http.Request, snap *Snapshot, p *Pending, ra protocols.RedirectAuthenticator) {
	p.Nonce, p.Verifier = randomID(), pkceVerifier()
	to, err := ra.Begin(r.Context(), b.authRequest(snap, p))
	if err != nil {
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	save := b.savePending
	if waysOf(ra).post != nil {
		save = b.savePostPending
	}
	if err := save(w, snap, p); err != nil {
		b.fail(w, r, snap, http.StatusInternalServerError, "err.internal", err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (b *Server) authRequest(snap *Snapshot, p *Pending) protocols.AuthRequest {
	a := protocols.AuthRequest{
		State: p.ID, Nonce: p.Nonce, PKCEVerifier: p.Verifier, LoginHint: p.Hint,
		CallbackURL: strings.TrimSuffix(snap.Config.Server.PublicURL, "/") + "/callback/" + p.Upstream,
		ForceLogin:  p.forceLogin(), MFA: p.MFA, Claim: b.upstreamClaim(p.Upstream),
	}
	if _, domain, ok := strings.Cut(p.Hint, "@"); ok {
		a.DomainHint = strings.ToLower(domain)
	}
	return a
}

// upstreamClaim is the single-use marker for an upstream's own checks
// (assertion ids, Kerberos authenticators) in the store every replica
// shares, under the upstream's own prefix.
func (b *Server) upstreamClaim(upstream string) protocols.ClaimFunc {
	return func(ctx context.Context, key string, expiry time.Time) (bool, error) {
		return b.Store.Claim(ctx, "up:"+upstream+":"+key, expiry)
	}
}

// pkceVerifier is 256 random bits, base64url: 43 characters (RFC 7636 §4.1).
func pkceVerifier() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callback finishes a login at the upstream named in the path. The state
// must name an in-flight login of this browser that was started for this
// same upstream: an answer arriving at another upstream's callback is a
// mix-up attempt and is refused. A GET carries it as ?state=; a POST (an
// upstream whose IdP answers by form POST) inside the answer itself.
func (b *Server) callback(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	up := r.PathValue("upstream")
	ip := proxy.ClientIP(r, snap.trust)
	ev := AuditEvent{Time: b.now(), Event: "signin", Outcome: "failure", Upstream: up,
		ClientIP: ip.String(), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())}
	state := r.URL.Query().Get("state")
	if r.Method == http.MethodPost {
		state = ""
		if pa := waysOf(snap.byID[up].Upstream).post; pa != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxPostAnswer)
			state = pa.AnswerState(r)
		}
	}
	p, ok := b.loadPendingID(r, snap, state)
	if !ok {
		ev.Reason = "no-login-state"
		b.Audit.Record(ev)
		b.expired(w, r, snap)
		return
	}
	ev.App = p.App
	ra := waysOf(snap.byID[up].Upstream).redirect
	if ra == nil || p.Upstream != up || p.Nonce == "" {
		ev.Reason = "state-upstream-mismatch"
		b.Audit.Record(ev)
		b.fail(w, r, snap, http.StatusBadRequest, "err.badrequest", errors.New("state of upstream "+p.Upstream+" returned to "+up))
		return
	}
	id, err := ra.Finish(r.Context(), r, b.authRequest(snap, p))
	if err != nil {
		snap.sealer.clear(w, pendingPrefix+p.ID) // one try per login: a replay finds nothing
		ev.Reason = upstreamReason(err)
		b.Audit.Record(ev)
		b.Metrics.signins.WithLabelValues(up, "failure").Inc()
		switch {
		case errors.Is(err, protocols.ErrDeclined):
			b.fail(w, r, snap, http.StatusForbidden, "err.declined", err)
		case errors.Is(err, protocols.ErrRejected):
			b.fail(w, r, snap, http.StatusBadRequest, "err.rejected", err)
		default:
			b.fail(w, r, snap, http.StatusBadGateway, "err.unavailable", err)
		}
		return
	}
	b.signedIn(w, r, snap, p, id, ev)
}

// maxPostAnswer bounds a POSTed IdP answer (a SAML Response or WS-Fed
// wresult, base64 and form-encoded).
const maxPostAnswer = 512 << 10

func upstreamReason(err error) string {
	switch {
	case errors.Is(err, protocols.ErrDeclined):
		return "upstream-declined"
	case errors.Is(err, protocols.ErrRejected):
		if c := protocols.RejectedCheck(err); c != "" {
			return "upstream-answer-rejected:" + string(c)
		}
		return "upstream-answer-rejected"
	}
	return "upstream-unavailable"
}

// upstreamMetadata serves what an upstream publishes for its IdP to import
// (a SAML SP's metadata): public, like every metadata document.
func (b *Server) upstreamMetadata(w http.ResponseWriter, r *http.Request) {
	mp, ok := snapOf(r).byID[r.PathValue("upstream")].Upstream.(protocols.MetadataPublisher)
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, ctype, err := mp.Metadata()
	if err != nil {
		b.fail(w, r, snapOf(r), http.StatusInternalServerError, "err.internal", err)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}

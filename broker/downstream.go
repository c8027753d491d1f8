package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
)

// Downstream protocols (OpenID Provider, SAML IdP, WS-Fed STS) serve their
// own endpoints on fedgate's host and ask the broker for sessions through
// protocols.SessionProvider. The broker implements it here.

// AddDownstream adds a protocol to the snapshot before it is served; its
// endpoints are mounted when the snapshot is swapped in.
func (s *Snapshot) AddDownstream(d protocols.Downstream) { s.downstreams = append(s.downstreams, d) }

// SigningKeys are the snapshot's signing keys for downstream protocols, the
// active one first.
func (s *Snapshot) SigningKeys() []protocols.SigningKey {
	var out []protocols.SigningKey
	if s.signing == nil {
		return nil
	}
	for _, k := range s.signing.all {
		out = append(out, protocols.SigningKey{Signer: k.Signer, Cert: k.Cert, KeyID: k.KeyID, Alg: k.JWSAlg, Next: s.signing.next[k]})
	}
	for i, k := range out { // the active one (the first that is not next) first
		if i > 0 && s.signing.active != nil && k.KeyID == s.signing.active.KeyID {
			out[0], out[i] = out[i], out[0]
		}
	}
	return out
}

// attachDownstreams mounts the snapshot's protocols on a mux of their own.
func (b *Server) attachDownstreams(snap *Snapshot) {
	if len(snap.downstreams) == 0 {
		return
	}
	snap.protoMux = http.NewServeMux()
	for _, d := range snap.downstreams {
		d.Mount(snap.protoMux, sessionProvider{b})
	}
	if snap.Config.Compat == "adfs" {
		snap.protoMux.Handle(ADFSPassivePath, adfsPassive(snap.protoMux))
	}
}

// isProtocolApp: apps answered by a downstream protocol, which enforces the
// policy itself through Session (so it can answer the app in its format).
func isProtocolApp(app *config.App) bool { return app != nil && app.Protocol() != nil }

type sessionProvider struct{ b *Server }

var _ protocols.SessionProvider = sessionProvider{}

func (sp sessionProvider) Session(w http.ResponseWriter, r *http.Request, req protocols.SessionRequest) (protocols.Identity, bool, error) {
	b, snap := sp.b, snapOf(r)
	app := snap.apps[req.App]
	if app == nil {
		return protocols.Identity{}, false, protocols.ErrAccessDenied
	}
	resume, ok := localPath(req.Resume)
	if !ok {
		return protocols.Identity{}, false, errors.New("broker: resume is not a local path")
	}
	u := use{App: app, Cookie: sessionCookie, FreshAfter: req.FreshAfter, AppMFA: req.MFA}
	v := b.enforce(r, snap, u)
	switch v.Outcome {
	case allow:
		if v.Write {
			b.writeCookieSession(w, snap, v.Session, sessionCookie)
		}
		id := v.Session.identity()
		id.SessionID, id.Ref = v.Session.ID, snap.sealer.makeRef(v.Session, clientIP(r, snap))
		return id, false, nil
	case signIn, stepUp:
		if req.Passive {
			if v.Reason == "session-capped" {
				snap.sealer.clear(w, sessionCookie)
			}
			return protocols.Identity{}, false, protocols.ErrLoginRequired
		}
		b.sendToSignIn(w, r, snap, u, v, resume, req.LoginHint)
		return protocols.Identity{}, true, nil
	}
	if v.Reason == "store-unavailable" {
		// Not the app's user's fault, nor the app's to handle: the page.
		b.answer(w, r, snap, u, v)
		return protocols.Identity{}, true, nil
	}
	return protocols.Identity{}, false, protocols.ErrAccessDenied
}

func (sp sessionProvider) Current(r *http.Request) (protocols.Identity, bool) {
	s := sp.b.loadSession(r, snapOf(r))
	if s == nil {
		return protocols.Identity{}, false
	}
	id := s.identity()
	id.SessionID = s.ID
	return id, true
}

// Recheck is the refresh path through enforce: the session as Ref
// describes it (not signed out, not past its lifetime), id's upstream
// allowed, the policy as of now with the address the user signed in from
// (a refreshing app server's address says nothing about the user).
func (sp sessionProvider) Recheck(r *http.Request, appID string, id protocols.Identity) error {
	b, snap := sp.b, snapOf(r)
	app := snap.apps[appID]
	if app == nil {
		return protocols.ErrAccessDenied
	}
	ref, ok := snap.sealer.openRef(id)
	if !ok {
		return protocols.ErrLoginRequired
	}
	now := b.now()
	id.SessionID, id.Ref = "", ""
	// The identity apps saw has fedgate's factors merged in: take them out.
	id.AMR = slices.DeleteFunc(slices.Clone(id.AMR), func(a string) bool { return slices.Contains(ref.Added, a) })
	s := &Session{ID: ref.ID, Identity: id, Created: ref.Created, LastSeen: now, Expires: ref.Expires,
		Factors: ref.Factors, MFATime: ref.MFATime, Devices: ref.Devices, DeviceAt: ref.DeviceAt}
	if revoked, _ := b.revoked(r, s.ID); revoked || !now.Before(s.Expires) {
		return protocols.ErrLoginRequired
	}
	v := b.enforce(r, snap, use{App: app, Session: s, ClientIP: ref.ClientIP})
	switch v.Outcome {
	case allow:
		return nil
	case deny:
		return protocols.ErrAccessDenied
	}
	return protocols.ErrLoginRequired
}

// sealed is the envelope of Seal: the value and its expiry.
type sealed struct {
	Exp time.Time       `json:"x"`
	V   json.RawMessage `json:"v"`
}

func (sp sessionProvider) Seal(purpose string, v any, ttl time.Duration) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	snap := sp.b.snap.Load()
	return snap.sealer.sealValue("fedgate-"+purpose, sealed{Exp: sp.b.now().Add(ttl), V: raw})
}

func (sp sessionProvider) Open(purpose, value string, v any) error {
	var env sealed
	snap := sp.b.snap.Load()
	if err := snap.sealer.openValue("fedgate-"+purpose, value, &env); err != nil {
		return err
	}
	if !sp.b.now().Before(env.Exp) {
		return errors.New("broker: sealed value expired")
	}
	return json.Unmarshal(env.V, v)
}

func (sp sessionProvider) Claim(ctx context.Context, key string, expiry time.Time) (bool, error) {
	return sp.b.Store.Claim(ctx, "dsp:"+key, expiry)
}

func (sp sessionProvider) Claimed(ctx context.Context, key string) (bool, error) {
	_, err := sp.b.Store.Get(ctx, "dsp:"+key)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (sp sessionProvider) EndSession(w http.ResponseWriter, r *http.Request) error {
	b, snap := sp.b, snapOf(r)
	s := b.loadSession(r, snap)
	snap.sealer.clear(w, sessionCookie)
	if s == nil {
		return nil
	}
	b.Audit.Record(AuditEvent{Time: b.now(), Event: "signout", Outcome: "success", User: s.Identity.Username,
		Upstream: s.Identity.Upstream, ClientIP: clientIP(r, snap), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())})
	return b.revoke(r.Context(), snap, s)
}

func (sp sessionProvider) Audit(r *http.Request, e protocols.AuditEvent) {
	b := sp.b
	b.Audit.Record(AuditEvent{Time: b.now(), Event: e.Event, Outcome: e.Outcome, App: e.App, User: e.User, Reason: e.Reason,
		ClientIP: clientIP(r, snapOf(r)), UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())})
}

func (sp sessionProvider) Refuse(w http.ResponseWriter, r *http.Request, status int, why protocols.Refusal, detail string) {
	sp.b.fail(w, r, snapOf(r), status, "err.proto."+string(why), nil, detail)
}

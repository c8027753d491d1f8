package broker

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fedgate/fedgate/broker/fido"
	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/policy"
)

// Security keys and passkeys (WebAuthn) as fedgate's own second factor.
// A signed-in user registers keys, each named, at /mfa/keys; a step-up that
// accepts hwk (or swk, or plain mfa) sends a user who has keys to
// /mfa/webauthn, where the browser signs the challenge with one of them.
// The ceremony state travels sealed in a cookie; the keys live in the
// store under the user's upstream and subject (factorKey), so a key cannot
// be used by the same name at another upstream.

const (
	webauthnStateCookie = "fedgate_webauthn"
	webauthnTTL         = 5 * time.Minute
	maxWebAuthnBody     = 64 << 10
	maxKeysPerUser      = 10
)

// webauthnState is a ceremony in flight: its go-webauthn state, bound to
// the session and, for a step-up, to the in-flight login.
type webauthnState struct {
	Session string `json:"s"`
	Pending string `json:"p,omitempty"`
	State   []byte `json:"st"`
	Name    string `json:"n,omitempty"`
}

// relyingParty is fedgate as a WebAuthn relying party: RP ID and origin
// from public_url.
func relyingParty(snap *Snapshot) (*fido.RP, error) {
	return fido.New(fido.Config{PublicURL: snap.Config.Server.PublicURL, DisplayName: snap.Config.Branding.Name})
}

// factorKey is where a user's WebAuthn keys are stored: upstream and
// subject, hashed (store keys are bounded; subjects are not).
func factorKey(upstream, subject string) string {
	return "webauthn:" + hex.EncodeToString(fido.UserHandle(upstream, subject))
}

func (b *Server) loadKeys(ctx context.Context, s *Session) (*fido.User, error) {
	id := s.Identity
	u := &fido.User{Handle: fido.UserHandle(id.Upstream, id.Subject), Name: id.Username, DisplayName: id.DisplayName}
	data, err := b.Store.Get(ctx, factorKey(id.Upstream, id.Subject))
	if errors.Is(err, store.ErrNotFound) {
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	return u, json.Unmarshal(data, &u.Keys)
}

func (b *Server) saveKeys(ctx context.Context, s *Session, keys []fido.Key) error {
	data, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return b.Store.Put(ctx, factorKey(s.Identity.Upstream, s.Identity.Subject), data, time.Time{})
}

// webauthnStepUp: m can be met with a WebAuthn key and the user has one.
func (b *Server) webauthnStepUp(ctx context.Context, s *Session, m *policy.MFARequirement) bool {
	if m == nil || !slices.ContainsFunc(m.Methods, func(x string) bool { return x == "hwk" || x == "swk" || x == "mfa" }) {
		return false
	}
	u, err := b.loadKeys(ctx, s)
	return err == nil && len(u.Keys) > 0
}

// keysPage lists the user's keys and registers a new one.
func (b *Server) keysPage(w http.ResponseWriter, r *http.Request) {
	b.webauthnPage(w, r, "register", "")
}

// webauthnStepUpPage asks for a key to finish the in-flight login l.
func (b *Server) webauthnStepUpPage(w http.ResponseWriter, r *http.Request) {
	b.webauthnPage(w, r, "verify", r.URL.Query().Get("l"))
}

func (b *Server) webauthnPage(w http.ResponseWriter, r *http.Request, mode, pending string) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	if s == nil {
		b.startLogin(w, r, snap) // and back here
		return
	}
	if pending != "" {
		if _, ok := b.loadPendingID(r, snap, pending); !ok {
			b.fail(w, r, snap, http.StatusBadRequest, "err.expired", nil)
			return
		}
	}
	u, err := b.loadKeys(r.Context(), s)
	if err != nil {
		b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	lang := pickLanguage(w, r, snap.sealer.secure)
	d := pageData{Title: translate(lang, "hwk."+mode+".title"), Mode: mode, Pending: pending,
		CSRF: snap.sealer.csrfToken("session:" + s.ID), Session: s}
	for _, k := range u.Keys {
		d.Keys = append(d.Keys, k.Name)
	}
	// The ceremony needs the browser's navigator.credentials: this page
	// alone runs a script, fedgate's own.
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "default-src 'none';", "default-src 'none'; script-src 'self'; connect-src 'self';", 1))
	b.render(w, r, snap, http.StatusOK, "webauthn", d)
}

// webauthnCall is a JSON step of a ceremony (begin or finish), with the
// session and its CSRF token checked first.
func (b *Server) webauthnCall(w http.ResponseWriter, r *http.Request, step func(http.ResponseWriter, *http.Request, *Snapshot, *Session, []byte) (any, string, error)) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	if s == nil || !snap.sealer.checkCSRF("session:"+s.ID, r.Header.Get("X-CSRF-Token")) {
		b.auditWebAuthn(r, snap, s, "failure", "csrf")
		webauthnJSON(w, r, http.StatusForbidden, map[string]string{"error": "csrf", "correlation_id": requestID(r.Context())})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebAuthnBody))
	if err != nil {
		webauthnJSON(w, r, http.StatusRequestEntityTooLarge, map[string]string{"error": "too-large", "correlation_id": requestID(r.Context())})
		return
	}
	out, reason, err := step(w, r, snap, s, body)
	if err != nil {
		b.Logger.InfoContext(r.Context(), "webauthn refused", "reason", reason, "err", err, "request_id", requestID(r.Context()))
		b.auditWebAuthn(r, snap, s, "failure", reason)
		status := http.StatusBadRequest
		if reason == "store" {
			status = http.StatusServiceUnavailable
		}
		lang := pickLanguage(w, r, snap.sealer.secure)
		webauthnJSON(w, r, status, map[string]string{"error": reason, "message": translate(lang, "hwk.err."+reason),
			"correlation_id": requestID(r.Context())})
		return
	}
	webauthnJSON(w, r, http.StatusOK, out)
}

func webauthnJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (b *Server) auditWebAuthn(r *http.Request, snap *Snapshot, s *Session, outcome, reason string) {
	e := AuditEvent{Time: b.now(), Event: "mfa", Outcome: outcome, Reason: reason, ClientIP: clientIP(r, snap),
		UserAgent: r.UserAgent(), CorrelationID: requestID(r.Context())}
	if s != nil {
		e.User, e.Upstream = s.Identity.Username, s.Identity.Upstream
	}
	b.Audit.Record(e)
}

// fidoReason is the audit reason of a refused ceremony.
func fidoReason(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{{fido.ErrRPID, "webauthn-rp-id"}, {fido.ErrCounter, "webauthn-counter"}, {fido.ErrUnknownKey, "webauthn-unknown-key"},
		{fido.ErrAAGUIDRefused, "webauthn-aaguid"}} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "webauthn-invalid"
}

package broker

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fedgate/fedgate/broker/fido"
)

// The four JSON steps of the WebAuthn ceremonies (webauthn.go has the
// pages and the common checks).

// registerBegin starts registering a key named in the body.
func (b *Server) registerBegin(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, body []byte) (any, string, error) {
	var in struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(body, &in)
	name := strings.TrimSpace(in.Name)
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return nil, "webauthn-name", errors.New("key name missing or longer than 64 characters")
	}
	if b.now().Sub(s.Identity.AuthTime) > pendingTTL {
		// A stolen session alone must not add a key of its own.
		return nil, "enrol-not-fresh", errors.New("the primary sign-in is older than 15 minutes")
	}
	u, err := b.loadKeys(r.Context(), s)
	if err != nil {
		return nil, "store", err
	}
	if len(u.Keys) >= maxKeysPerUser {
		return nil, "webauthn-too-many", errors.New("too many keys")
	}
	if slices.ContainsFunc(u.Keys, func(k fido.Key) bool { return strings.EqualFold(k.Name, name) }) {
		return nil, "webauthn-name-taken", errors.New("a key of that name exists")
	}
	rp, err := relyingParty(snap)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	c, err := rp.BeginRegister(u)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	if err := snap.sealer.seal(w, webauthnStateCookie, webauthnState{Session: s.ID, State: c.State, Name: name}, webauthnTTL, http.SameSiteStrictMode); err != nil {
		return nil, "webauthn-invalid", err
	}
	return c.Options, "", nil
}

// registerFinish checks the browser's new credential and stores the key.
func (b *Server) registerFinish(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, body []byte) (any, string, error) {
	st, err := b.webauthnState(w, r, snap, s, "")
	if err != nil {
		return nil, "webauthn-state", err
	}
	u, err := b.loadKeys(r.Context(), s)
	if err != nil {
		return nil, "store", err
	}
	rp, err := relyingParty(snap)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	k, err := rp.FinishRegister(u, st.State, body, st.Name, b.now())
	if err != nil {
		return nil, fidoReason(err), err
	}
	if err := b.saveKeys(r.Context(), s, append(u.Keys, k)); err != nil {
		return nil, "store", err
	}
	b.auditWebAuthn(r, snap, s, "success", "webauthn-registered")
	return map[string]string{"next": "/mfa/keys"}, "", nil
}

// loginBegin starts an assertion for the in-flight login in the body.
func (b *Server) loginBegin(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, body []byte) (any, string, error) {
	var in struct {
		Pending string `json:"l"`
	}
	_ = json.Unmarshal(body, &in)
	if _, ok := b.loadPendingID(r, snap, in.Pending); !ok {
		return nil, "webauthn-state", errors.New("no such in-flight login")
	}
	u, err := b.loadKeys(r.Context(), s)
	if err != nil {
		return nil, "store", err
	}
	if len(u.Keys) == 0 {
		return nil, "webauthn-no-keys", errors.New("no keys registered")
	}
	rp, err := relyingParty(snap)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	c, err := rp.BeginLogin(u)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	if err := snap.sealer.seal(w, webauthnStateCookie, webauthnState{Session: s.ID, Pending: in.Pending, State: c.State}, webauthnTTL, http.SameSiteStrictMode); err != nil {
		return nil, "webauthn-invalid", err
	}
	return c.Options, "", nil
}

// loginFinish checks the assertion, stores the key's new sign counter, and
// adds the method to the session.
func (b *Server) loginFinish(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, body []byte) (any, string, error) {
	var p *Pending
	st, err := b.webauthnState(w, r, snap, s, "login")
	if err == nil {
		var ok bool
		if p, ok = b.loadPendingID(r, snap, st.Pending); !ok {
			err = errors.New("the in-flight login is gone")
		}
	}
	if err != nil {
		return nil, "webauthn-state", err
	}
	u, err := b.loadKeys(r.Context(), s)
	if err != nil {
		return nil, "store", err
	}
	rp, err := relyingParty(snap)
	if err != nil {
		return nil, "webauthn-invalid", err
	}
	i, k, err := rp.FinishLogin(u, st.State, body, b.now())
	if err != nil {
		return nil, fidoReason(err), err
	}
	u.Keys[i] = k
	if err := b.saveKeys(r.Context(), s, u.Keys); err != nil {
		return nil, "store", err
	}
	method := keyMethod(k)
	for _, m := range []string{method, "mfa"} {
		if !s.Identity.HasAMR(m) {
			s.Identity.AMR = append(s.Identity.AMR, m)
		}
	}
	s.Identity.AuthTime = b.now()
	b.writeCookieSession(w, snap, s, sessionCookie)
	b.auditWebAuthn(r, snap, s, "success", "webauthn-"+method)
	return map[string]string{"next": "/mfa/webauthn/done?l=" + p.ID}, "", nil
}

// keyMethod is the AMR value of a key (RFC 8176): hwk for a key bound to
// its hardware, swk for a passkey that may be synced between devices.
func keyMethod(k fido.Key) string {
	if k.Credential.Flags.BackupEligible {
		return "swk"
	}
	return "hwk"
}

// webauthnState opens the ceremony in flight for session s; a step-up's
// (kind "login") has an in-flight login, a registration's none.
func (b *Server) webauthnState(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, kind string) (webauthnState, error) {
	var st webauthnState
	err := snap.sealer.open(r, webauthnStateCookie, &st)
	snap.sealer.clear(w, webauthnStateCookie) // one finish per begin
	switch {
	case err != nil:
		return st, err
	case st.Session != s.ID:
		return st, errors.New("ceremony of another session")
	case (kind == "login") != (st.Pending != ""):
		return st, errors.New("ceremony of another kind")
	}
	return st, nil
}

// webauthnDone continues the in-flight login once the step-up is done; the
// app's policy decides again (complete), so arriving here without the
// assertion only leads back to it.
func (b *Server) webauthnDone(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	p, ok := b.loadPending(r, snap)
	s := b.loadSession(r, snap)
	if !ok || s == nil {
		b.expired(w, r, snap)
		return
	}
	snap.sealer.clear(w, pendingPrefix+p.ID)
	b.complete(w, r, snap, p, s)
}

package broker

import (
	"cmp"
	"net/http"
)

// /mfa/keys: a signed-in user adds a security key or passkey outside a
// step-up (a second key, a spare). The enrolment policy applies as at
// /mfa/enrol (enrolRefusal): among others, a user who already has a factor
// of their own must have proven it in this session.

const keysPath = "/mfa/keys"

// keysPage: GET /mfa/keys.
func (b *Server) keysPage(w http.ResponseWriter, r *http.Request) {
	if c, ok := b.keysCall(w, r); ok {
		webauthnMethod{}.Enrol(c)
	}
}

// keysSubmit: POST /mfa/keys, the new key.
func (b *Server) keysSubmit(w http.ResponseWriter, r *http.Request) {
	c, ok := b.keysCall(w, r)
	if !ok || !b.mfaForm(c) {
		return
	}
	m := webauthnMethod{}
	b.checkFactor(c, m, m.Confirm, m.Enrol, b.afterEnrol)
}

func (b *Server) keysCall(w http.ResponseWriter, r *http.Request) (*mfaCall, bool) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	if s == nil {
		b.startLogin(w, r, snap) // and back here
		return nil, false
	}
	if !(webauthnMethod{}).Offered(snap) {
		b.fail(w, r, snap, http.StatusNotFound, "err.notfound", nil)
		return nil, false
	}
	// No login is in flight: the page's forms bind to this one name.
	c := b.newMFACall(w, r, snap, s, &Pending{ID: "keys"})
	c.Action, c.Next = keysPath, keysPath
	if why := b.enrolRefusal(r, snap, s); why != "" {
		// As at /mfa/enrol: a user who has a factor proves it first.
		c.audit("deny", "webauthn", why)
		key := map[string]string{"mfa-enrol-not-fresh": "err.mfa.notfresh", "mfa-enrol-has-factor": "err.mfa.hasfactor"}[why]
		b.fail(w, r, snap, http.StatusForbidden, cmp.Or(key, "err.mfa.enrol"), nil, snap.contact(c.lang()))
		return nil, false
	}
	return c, true
}

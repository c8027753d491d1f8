package broker

import "net/http"

// /mfa/keys: a signed-in user adds a security key or passkey outside a
// step-up (a second key, a spare). The enrolment policy applies as at
// /mfa/enrol; a user who already has a factor of their own must have
// proven it in this session, so a password alone never adds a key.

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
	why := b.enrolRefusal(r, snap, s)
	if why == "" {
		names, err := b.localFactors(r, snap, s, nil)
		if err != nil {
			b.fail(w, r, snap, http.StatusServiceUnavailable, "err.unavailable", err)
			return nil, false
		}
		if len(names) > 0 && !s.identity().HasAMR("mfa") {
			why = "mfa-prove-first"
		}
	}
	if why != "" {
		c.audit("deny", "webauthn", why)
		key := "err.mfa.enrol"
		switch why {
		case "mfa-enrol-not-fresh":
			key = "err.mfa.notfresh"
		case "mfa-prove-first":
			key = "hwk.err.prove-first"
		}
		b.fail(w, r, snap, http.StatusForbidden, key, nil, contact(c))
		return nil, false
	}
	return c, true
}

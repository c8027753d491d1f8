package broker

import (
	"cmp"
	"net/http"
	"net/netip"
	"slices"
)

// Enrolment: who may enrol a factor of their own, from where and when
// (config mfa.enrol), and its pages.

// enrolRefusal says why s's user may not enrol now, as an audit reason;
// "" when they may.
func (b *Server) enrolRefusal(r *http.Request, snap *Snapshot, s *Session) string {
	e := snap.Config.MFA.Enrol
	id := s.Identity
	switch {
	case !ownFactorsFor(snap, id.Upstream),
		len(e.Groups) > 0 && !slices.ContainsFunc(id.Groups, func(g string) bool { return slices.Contains(e.Groups, g) }):
		return "mfa-enrol-not-allowed"
	case len(e.Networks) > 0 && !slices.ContainsFunc(e.Networks, func(n netip.Prefix) bool { return n.Contains(snap.clientAddr(r, "")) }):
		return "mfa-enrol-network"
	case id.AuthTime.IsZero() || b.now().Sub(id.AuthTime) > e.Within:
		return "mfa-enrol-not-fresh"
	case len(s.Factors) == 0:
		// Someone who has a factor proves it before adding another: a
		// password alone must not replace or add one.
		if has, err := b.localFactors(r, snap, s, nil); err != nil || len(has) > 0 {
			return "mfa-enrol-has-factor"
		}
	}
	return ""
}

// mfaOffered is a method that works only in some deployments (a security
// key needs a host name in public_url, never an IP address): elsewhere it
// is not offered for enrolment.
type mfaOffered interface {
	Offered(snap *Snapshot) bool
}

func offered(m mfaMethod, snap *Snapshot) bool {
	o, ok := m.(mfaOffered)
	return !ok || o.Offered(snap)
}

// ownFactorsFor: users of upstream may enrol fedgate's own factors (some
// of them, by mfa.enrol's other limits).
func ownFactorsFor(snap *Snapshot, upstream string) bool {
	e := snap.Config.MFA.Enrol
	return e.Allow && (len(e.Upstreams) == 0 || slices.Contains(e.Upstreams, upstream))
}

// mustEnrol: s's user is one who must have a factor (mfa.enrol.required_for),
// has none, and may enrol now. Asked only at the end of a sign-in.
func (b *Server) mustEnrol(r *http.Request, snap *Snapshot, s *Session) bool {
	must := snap.Config.MFA.Enrol.RequiredFor
	if len(must) == 0 || len(s.Factors) > 0 || !slices.ContainsFunc(s.Identity.Groups, func(g string) bool { return slices.Contains(must, g) }) {
		return false
	}
	if b.enrolRefusal(r, snap, s) != "" {
		return false // not here, not now: the next sign-in asks again
	}
	has, err := b.localFactors(r, snap, s, nil)
	return err == nil && len(has) == 0
}

// enrollable are the methods the user may enrol that meet the demand.
func enrollable(snap *Snapshot, demand []string) []string {
	var names []string
	for _, m := range mfaMethods {
		if _, ok := m.(mfaEnroller); ok && satisfies(m, demand) && offered(m, snap) {
			names = append(names, m.Name())
		}
	}
	return names
}

// mfaEnrolCheck opens an enrolment page's login and refuses users who may
// not enrol now, with a page that says why and an audit event.
func (b *Server) mfaEnrolCheck(w http.ResponseWriter, r *http.Request) (*mfaCall, bool) {
	c, ok := b.mfaLogin(w, r)
	if !ok {
		return nil, false
	}
	if why := b.enrolRefusal(r, c.snap, c.s); why != "" {
		c.audit("deny", r.PathValue("method"), why)
		key := map[string]string{"mfa-enrol-not-fresh": "err.mfa.notfresh", "mfa-enrol-has-factor": "err.mfa.hasfactor"}[why]
		if key == "" {
			key = "err.mfa.enrol"
		}
		b.fail(w, r, c.snap, http.StatusForbidden, key, nil, c.snap.contact(c.lang()))
		return nil, false
	}
	return c, true
}

// mfaEnrolStart: GET /mfa/enrol.
func (b *Server) mfaEnrolStart(w http.ResponseWriter, r *http.Request) {
	if c, ok := b.mfaEnrolCheck(w, r); ok {
		b.offer(c, enrollable(c.snap, c.p.MFA.Methods), "/mfa/enrol/")
	}
}

// mfaEnroller of the request, or a 404.
func (b *Server) mfaEnrollerOf(c *mfaCall) (mfaMethod, mfaEnroller, bool) {
	m, ok := b.mfaMethodOf(c)
	if !ok {
		return nil, nil, false
	}
	e, ok := m.(mfaEnroller)
	if ok = ok && offered(m, c.snap); !ok {
		c.audit("failure", m.Name(), "mfa-method-not-offered")
		b.fail(c.w, c.r, c.snap, http.StatusNotFound, "err.notfound", nil)
	}
	return m, e, ok
}

// mfaEnrolPage: GET /mfa/enrol/{method}.
func (b *Server) mfaEnrolPage(w http.ResponseWriter, r *http.Request) {
	c, ok := b.mfaEnrolCheck(w, r)
	if !ok {
		return
	}
	if _, e, ok := b.mfaEnrollerOf(c); ok {
		e.Enrol(c)
	}
}

// mfaEnrolSubmit: POST /mfa/enrol/{method}: the enrolment is confirmed by
// a first proof, which also proves the factor for this sign-in.
func (b *Server) mfaEnrolSubmit(w http.ResponseWriter, r *http.Request) {
	c, ok := b.mfaEnrolCheck(w, r)
	if !ok || !b.mfaForm(c) {
		return
	}
	if m, e, ok := b.mfaEnrollerOf(c); ok {
		b.checkFactor(c, m, e.Confirm, e.Enrol, b.afterEnrol)
	}
}

// afterEnrol: the user can now be found by name (`fedgate mfa`), and gets
// recovery codes, shown once, before going on.
func (b *Server) afterEnrol(c *mfaCall) {
	if err := c.vault.remember(c.r.Context(), c.user); err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	codes, err := issueRecoveryCodes(c)
	if err != nil {
		b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
		return
	}
	if codes == nil {
		b.afterFactor(c)
		return
	}
	c.Action = cmp.Or(c.Next, "/mfa/continue?l="+c.p.ID)
	c.render(http.StatusOK, "mfacodes", pageData{Heading: translate(c.lang(), "mfa.codes.title"), Codes: codes})
}

// mfaContinue: GET /mfa/continue, after the recovery codes were shown.
func (b *Server) mfaContinue(w http.ResponseWriter, r *http.Request) {
	if c, ok := b.mfaLogin(w, r); ok {
		b.afterFactor(c)
	}
}

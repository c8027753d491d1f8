package broker

import (
	"errors"
	"net/http"
	"slices"
)

// certMethod: a certificate naming the user (a device kind with factor:
// true, which needs match_user) as a second factor, amr sc. Its challenge
// is the trip to the certificate host (devicecheck.go); coming back,
// deviceDone checks it through the contract (throttle, audit, proof).
type certMethod struct{}

var _ mfaMethod = certMethod{}

func (certMethod) Name() string  { return "cert" }
func (certMethod) AMR() []string { return []string{"sc"} }

// Enrolled: nothing is enrolled; whoever holds a certificate naming them
// has the factor, where some device kind is a factor. Once this session
// went to the certificate host and had none, it is not offered again (the
// user falls back to their other factors, or to enrolling one).
func (certMethod) Enrolled(c *mfaCall) (bool, error) {
	return len(factorDevices(c.snap)) > 0 && (c.s.DeviceAt.IsZero() || hasFactorDevice(c.snap, c.s)), nil
}

func hasFactorDevice(snap *Snapshot, s *Session) bool {
	return slices.ContainsFunc(s.Devices, func(d string) bool { return slices.Contains(factorDevices(snap), d) })
}

func (certMethod) Challenge(c *mfaCall) {
	c.b.toCertHost(c.w, c.r, c.snap, c.p, c.s)
}

// Verify: this session presented, within the login's lifetime, a
// certificate of a device kind that is a factor.
func (certMethod) Verify(c *mfaCall) error {
	if c.now().Sub(c.s.DeviceAt) > pendingTTL || !hasFactorDevice(c.snap, c.s) {
		return &factorWrong{reason: "cert-refused", message: "cert.err.refused", err: errors.New("no certificate of a factor device kind")}
	}
	return nil
}

// factorDevices are the device kinds that are second factors.
func factorDevices(snap *Snapshot) []string {
	var out []string
	for _, d := range snap.Config.Devices {
		if d.Factor {
			out = append(out, d.Name)
		}
	}
	return out
}

// certFactorDone finishes a step-up by certificate: deviceDone has put the
// device kinds into the session.
func (b *Server) certFactorDone(w http.ResponseWriter, r *http.Request, snap *Snapshot, s *Session, p *Pending) {
	c := b.newMFACall(w, r, snap, s, p)
	c.Action = "/mfa/cert?l=" + p.ID
	m := certMethod{}
	b.checkFactor(c, m, m.Verify, func(c *mfaCall) {
		c.b.fail(c.w, c.r, c.snap, http.StatusUnauthorized, "cert.err.refused", nil)
	}, b.afterFactor)
}

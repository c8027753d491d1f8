package broker

import (
	"net/http"
	"slices"
	"time"

	"github.com/fedgate/fedgate/protocols"
)

// fedgate's own second factors. enforce (judge) decides that a session
// needs MFA; when the user has a factor of their own that satisfies the
// demand, the step-up comes here instead of going to the upstream. A
// factor method is one way to prove a second factor (otp, recovery,
// webauthn, cert); it says what it proves and how it is asked, and keeps
// its enrolled data in the store through the vault (mfavault.go), sealed
// and keyed by upstream + subject. After a success the session gains the
// method's AMR, "mfa" and the time (proven), and the one decision runs
// again (complete).
//
//	GET  /mfa?l=<login>                 the factors that would do; one goes straight to it
//	GET  /mfa/{method}?l=<login>        the method's challenge page
//	POST /mfa/{method}?l=<login>        its answer
//	GET  /mfa/enrol?l=<login>           the methods a user may enrol
//	GET|POST /mfa/enrol/{method}?l=…    a method's enrolment (mfaEnroller)

// mfaMethod is one kind of second factor.
type mfaMethod interface {
	// Name is how config, URLs, the audit log and `fedgate mfa` call it.
	Name() string
	// AMR are the RFC 8176 values a success proves ("mfa" is added by the
	// broker): otp, hwk, swk, sc.
	AMR() []string
	// Enrolled reports whether the call's user has this factor.
	Enrolled(c *mfaCall) (bool, error)
	// Challenge renders the page (or JSON) that asks for the factor.
	Challenge(c *mfaCall)
	// Verify checks the answer to Challenge. nil: proven. A wrong answer is
	// errFactorWrong (or wraps it); the method writes nothing, the broker
	// renders the challenge again or the failure.
	Verify(c *mfaCall) error
}

// mfaEnroller is a method a user can enrol by themselves. A method without
// it (recovery codes) comes with another's enrolment.
type mfaEnroller interface {
	// Enrol renders the enrolment page (GET).
	Enrol(c *mfaCall)
	// Confirm completes the enrolment from its form (POST): nil when the
	// factor is stored and proven by this very answer.
	Confirm(c *mfaCall) error
}

// mfaMethods are the methods fedgate knows, in the order a chooser lists
// them. Which of them a user may use is decided by their enrolment.
var mfaMethods = []mfaMethod{totpMethod{}, webauthnMethod{}, certMethod{}, recoveryMethod{}}

func mfaMethodByName(name string) mfaMethod {
	for _, m := range mfaMethods {
		if m.Name() == name {
			return m
		}
	}
	return nil
}

// satisfies reports whether proving m meets a demand for one of methods:
// every local factor proves "mfa" besides its own AMR.
func satisfies(m mfaMethod, methods []string) bool {
	if len(methods) == 0 {
		return true
	}
	for _, want := range methods {
		if want == "mfa" || slices.Contains(m.AMR(), want) {
			return true
		}
	}
	return false
}

// localFactors are the names of the methods s's user has enrolled that
// meet the demand, in chooser order.
func (b *Server) localFactors(r *http.Request, snap *Snapshot, s *Session, demand []string) ([]string, error) {
	var names []string
	c := b.newMFACall(nil, r, snap, s, nil)
	for _, m := range mfaMethods {
		if !satisfies(m, demand) {
			continue
		}
		ok, err := m.Enrolled(c)
		if err != nil {
			return nil, err
		}
		if ok {
			names = append(names, m.Name())
		}
	}
	return names, nil
}

// proven records a second factor on the session: its AMR values, "mfa",
// and the time, which policy's max_age measures from.
func (s *Session) proven(m mfaMethod, now time.Time) {
	s.changed()
	s.Factors = slices.Clone(s.Factors) // the cached session shares the old array
	for _, a := range append(slices.Clone(m.AMR()), "mfa") {
		if !slices.Contains(s.Factors, a) {
			s.Factors = append(s.Factors, a)
		}
	}
	s.MFATime = now
}

// identity is the session's identity as apps see it: the upstream's AMR
// together with what fedgate's own factors proved.
func (s *Session) identity() protocols.Identity {
	id := s.Identity
	if len(s.Factors) > 0 {
		id.AMR = slices.Clone(id.AMR)
		for _, a := range s.Factors {
			if !slices.Contains(id.AMR, a) {
				id.AMR = append(id.AMR, a)
			}
		}
	}
	return id
}

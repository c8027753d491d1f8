package auditlog

import (
	"net/netip"

	"github.com/fedgate/fedgate/policy"
)

// Question is the policy question an access event recorded, asked again:
// ok is false for an event that records no policy decision (a sign-in, a
// session that had expired, an upstream the app does not take).
func Question(e *Event) (in policy.Input, ok bool) {
	if e.Event != "access" || e.Decision == "" || e.Input == nil {
		return in, false
	}
	ip, _ := netip.ParseAddr(e.ClientIP)
	return policy.Input{
		App: e.App, User: e.User, Upstream: e.Upstream,
		Groups: e.Input.Groups, Claims: e.Input.Claims, AMR: e.Input.AMR, AuthTime: e.Input.AuthTime,
		LocalAMR: e.Input.LocalAMR, MFATime: e.Input.MFATime, Devices: e.Input.Devices,
		ClientIP: ip, Now: e.Time,
	}, true
}

// Change is a recorded decision that the changed policy makes differently.
type Change struct {
	Event *Event
	// Was is the recorded decision and rule; Now the changed policy's.
	// PolicyNow is the policy the app uses in the changed config ("" when
	// the app is no longer configured: denied by default).
	Was, WasRule, Now, NowRule, PolicyNow string
}

// Replay asks the changed policies the question e recorded; policyFor
// gives the policy an app uses in the changed config (nil: none, deny). It
// returns the change, if the decision differs, and whether e was a
// question at all.
func Replay(e *Event, policyFor func(app string) *policy.Policy) (c *Change, asked bool) {
	in, ok := Question(e)
	if !ok {
		return nil, false
	}
	p := policyFor(e.App)
	d := policy.Decide(p, in)
	if d.Effect.String() == e.Decision {
		return nil, true
	}
	c = &Change{Event: e, Was: e.Decision, WasRule: e.Rule, Now: d.Effect.String(), NowRule: d.Rule}
	if p != nil {
		c.PolicyNow = p.Name()
	}
	return c, true
}

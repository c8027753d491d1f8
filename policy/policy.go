package policy

import (
	"net/netip"
	"time"
)

// File is one policy file: its path (used only in messages) and its bytes.
type File struct {
	Name string
	Data []byte
}

// Set is every policy and named network loaded from a group of files. It is
// immutable after Load and safe for concurrent use.
type Set struct {
	policies map[string]*Policy
	names    []string
	networks map[string][]netip.Prefix
	refs     []idRef
}

// Policy returns the policy with the given name.
func (s *Set) Policy(name string) (*Policy, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.policies[name]
	return p, ok
}

// Network returns the prefixes of a named network (for upstreams that are
// offered only on some networks, like Windows integrated sign-in).
func (s *Set) Network(name string) ([]netip.Prefix, bool) {
	if s == nil {
		return nil, false
	}
	p, ok := s.networks[name]
	return p, ok
}

// Names returns the policy names, sorted.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s.names...)
}

// Policy is one compiled policy: an ordered list of rules evaluated in the
// policy's time zone.
type Policy struct {
	name    string
	loc     *time.Location
	message Message
	rules   []rule
	devices []string // device kinds its conditions name (device.go)
}

// Name returns the policy's name.
func (p *Policy) Name() string { return p.name }

// Input is everything a decision depends on. The caller supplies the clock
// (Now) and the client address; Decide reads nothing else.
type Input struct {
	App, User, Upstream string
	Groups              []string
	Claims              map[string]string
	AMR                 []string  // e.g. pwd, mfa, otp, hwk, kerberos (RFC 8176)
	AuthTime            time.Time // when the user last authenticated with the methods in AMR
	// LocalAMR are the methods fedgate's own second factors proved (otp,
	// hwk, sc, mfa…), at MFATime; AMR and AuthTime are the upstream's.
	LocalAMR []string
	MFATime  time.Time
	ClientIP netip.Addr
	Now      time.Time
	// Devices: the device kinds whose certificate the browser presented
	// (checked by the broker; device.go).
	Devices []string
	// Folded, when set, is Fold(User, Groups), made once by the caller;
	// nil: folded on each decision.
	Folded *Folded
}

// Effect is the outcome of a decision. The zero value is Deny.
type Effect int

const (
	Deny   Effect = iota // refuse access
	Allow                // grant access, subject to the obligations
	StepUp               // the rule would allow, after the MFA obligation is met
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "allow"
	case StepUp:
		return "step-up"
	}
	return "deny"
}

// ReasonCode is a stable, machine-readable reason for a decision, suitable
// for audit events and metrics labels.
type ReasonCode string

const (
	ReasonNoPolicy      ReasonCode = "no-policy"       // Decide was given a nil policy
	ReasonNoRuleMatched ReasonCode = "no-rule-matched" // default deny
	ReasonAllowedByRule ReasonCode = "allowed-by-rule"
	ReasonDeniedByRule  ReasonCode = "denied-by-rule"
	ReasonMFARequired   ReasonCode = "mfa-required" // step-up: present with every StepUp
	ReasonMFATooOld     ReasonCode = "mfa-too-old"  // step-up: an acceptable method was used, but longer ago than max_age
)

// Reason is one typed reason for a decision.
type Reason struct {
	Code ReasonCode
}

// Message is text shown to the user, in English and Japanese.
type Message struct {
	En, Ja string
}

// MFARequirement is what a step-up must achieve: an authentication with one
// of Methods (AMR values), no longer than MaxAge ago (0 = any time).
type MFARequirement struct {
	Methods []string
	MaxAge  time.Duration
}

// Obligations are conditions the caller must enforce with the decision.
type Obligations struct {
	MFA        *MFARequirement // set on StepUp only
	MaxSession time.Duration   // cap on the session's lifetime; 0 = no cap
}

// RuleTrace records why one rule, evaluated before the deciding one, did not
// match.
type RuleTrace struct {
	Rule   string
	Failed string // the first condition that did not hold, e.g. "networks: 203.0.113.9 not in [10.0.0.0/8]"
}

// Decision is the result of Decide.
type Decision struct {
	Effect       Effect
	Policy, Rule string // the deciding rule; Rule is "" when no rule matched
	Reasons      []Reason
	Message      Message // shown on deny: the rule's message, else the policy's default
	Obligations  Obligations
	Trace        []RuleTrace // the rules that did not match, in order
}

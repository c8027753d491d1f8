package policy

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// traceBytesPerRule is the trace text reserved per failed rule (typical
// explanations are 40-70 bytes), so the text rarely needs to grow.
const traceBytesPerRule = 64

// rule is one compiled rule. Exactly one of allow/deny is set.
type rule struct {
	name  string
	when  allOf // empty: always matches
	allow *allowAction
	deny  *Message
}

type allowAction struct {
	mfa        *MFARequirement // methods lowercased
	maxSession time.Duration
}

// cond is one compiled condition. ok reports whether it holds; why appends a
// human-readable account of why it does not (called only after ok is false,
// so evaluation itself never formats or allocates).
type cond interface {
	ok(e *env) bool
	why(b []byte, e *env) []byte
}

// env is the per-call evaluation state: the input plus values derived from it
// on first use (lowercased user and groups, local time).
type env struct {
	in  Input
	loc *time.Location

	userDone   bool
	user       string
	groupsDone bool
	groups     []string // lowercased, sorted

	clockDone bool
	clock     localClock
}

// envs reuses decision environments: a decision runs on every proxied
// request, and an env escapes to the conditions' methods.
var envs = sync.Pool{New: func() any { return new(env) }}

// lowerUser returns the user name lowercased, computed once per call.
func (e *env) lowerUser() string {
	if f := e.in.Folded; f != nil {
		return f.user
	}
	if !e.userDone {
		e.user, e.userDone = strings.ToLower(e.in.User), true
	}
	return e.user
}

// lowerGroups returns the groups lowercased and sorted, computed once per call.
func (e *env) lowerGroups() []string {
	if f := e.in.Folded; f != nil {
		return f.groups
	}
	if !e.groupsDone {
		e.groupsDone = true
		e.groups = foldGroups(e.in.Groups)
	}
	return e.groups
}

func foldGroups(groups []string) []string {
	if len(groups) == 0 {
		return nil
	}
	out := make([]string, len(groups))
	for i, g := range groups {
		out[i] = strings.ToLower(g)
	}
	slices.Sort(out)
	return out
}

// Folded is a user name and groups as rules compare them. A caller that
// decides again and again for one identity (every proxied request of a
// session) folds them once with Fold and passes them in Input.Folded.
type Folded struct {
	user   string
	groups []string // lowercased, sorted
}

// Fold prepares user and groups for Input.Folded.
func Fold(user string, groups []string) *Folded {
	return &Folded{user: strings.ToLower(user), groups: foldGroups(groups)}
}

// Decide evaluates p's rules in order against in. The first rule whose
// conditions all hold decides; when none does, the answer is Deny with
// ReasonNoRuleMatched. A nil policy is denied with ReasonNoPolicy. It leaves
// Trace empty: enforcement on every request need not pay for explanations.
func Decide(p *Policy, in Input) Decision { return decide(p, in, false) }

// Explain decides exactly as Decide and also fills Trace: for each rule
// before the deciding one, the first condition that did not hold.
func Explain(p *Policy, in Input) Decision { return decide(p, in, true) }

func decide(p *Policy, in Input, explain bool) Decision {
	if p == nil {
		return Decision{Effect: Deny, Reasons: []Reason{{Code: ReasonNoPolicy}}}
	}
	e := envs.Get().(*env)
	*e = env{in: in, loc: p.loc}
	defer func() { *e = env{}; envs.Put(e) }() // no identity kept in the pool
	var (
		trace   []RuleTrace
		ends    []int
		text    strings.Builder // every rule's explanation, back to back
		scratch []byte
	)
	for i := range p.rules {
		r := &p.rules[i]
		if r.when.ok(e) {
			d := decideRule(p, r, e)
			d.Trace = finishTrace(trace, ends, &text)
			return d
		}
		if !explain {
			continue
		}
		if trace == nil {
			n := len(p.rules) - i
			trace = make([]RuleTrace, 0, n)
			ends = make([]int, 0, n)
			text.Grow(n * traceBytesPerRule)
			scratch = make([]byte, 0, 256)
		}
		trace = append(trace, RuleTrace{Rule: r.name})
		scratch = r.when.why(scratch[:0], e)
		text.Write(scratch)
		ends = append(ends, text.Len())
	}
	return Decision{
		Effect:  Deny,
		Policy:  p.name,
		Reasons: []Reason{{Code: ReasonNoRuleMatched}},
		Message: p.message,
		Trace:   finishTrace(trace, ends, &text),
	}
}

// finishTrace slices each rule's explanation out of the shared text, so all
// of them together cost one allocation.
func finishTrace(trace []RuleTrace, ends []int, text *strings.Builder) []RuleTrace {
	s := text.String()
	start := 0
	for i, end := range ends {
		trace[i].Failed = s[start:end]
		start = end
	}
	return trace
}

func decideRule(p *Policy, r *rule, e *env) Decision {
	d := Decision{Policy: p.name, Rule: r.name}
	if r.deny != nil {
		d.Effect = Deny
		d.Reasons = []Reason{{Code: ReasonDeniedByRule}}
		d.Message = *r.deny
		if d.Message == (Message{}) {
			d.Message = p.message
		}
		return d
	}
	a := r.allow
	d.Obligations.MaxSession = a.maxSession
	if a.mfa != nil {
		hasMethod := hasMethod(&e.in, a.mfa.Methods)
		fresh := a.mfa.MaxAge == 0 || methodFresh(&e.in, a.mfa.Methods, a.mfa.MaxAge)
		if !hasMethod || !fresh {
			d.Effect = StepUp
			d.Reasons = []Reason{{Code: ReasonMFARequired}}
			if hasMethod {
				d.Reasons = append(d.Reasons, Reason{Code: ReasonMFATooOld})
			}
			d.Obligations.MFA = &MFARequirement{Methods: slices.Clone(a.mfa.Methods), MaxAge: a.mfa.MaxAge}
			return d
		}
	}
	d.Effect = Allow
	d.Reasons = allowedByRule[:1:1]
	return d
}

// allowedByRule is every allow's reasons, shared rather than allocated on
// each proxied request: callers only read Reasons, and an append copies
// (its capacity is its length).
var allowedByRule = []Reason{{Code: ReasonAllowedByRule}}

// Package auditlog is the audit trail's format and what reads it back:
// `fedgate audit` (the sign-in history) and `fedgate policy replay` (what a
// policy change would have decided differently). The broker writes the
// events; this package never writes.
package auditlog

import "time"

// Event is one line of the audit log: who, what, where from, and the
// outcome. It has no field for a password, token or cookie value, by design.
type Event struct {
	Time          time.Time `json:"time"`
	Event         string    `json:"event"`   // signin, signout, access
	Outcome       string    `json:"outcome"` // success, failure, deny, allow, step-up
	User          string    `json:"user,omitempty"`
	Upstream      string    `json:"upstream,omitempty"`
	App           string    `json:"app,omitempty"`
	Policy        string    `json:"policy,omitempty"`
	Rule          string    `json:"rule,omitempty"`
	Reason        string    `json:"reason,omitempty"`
	ClientIP      string    `json:"client_ip,omitempty"`
	UserAgent     string    `json:"user_agent,omitempty"`
	CorrelationID string    `json:"correlation_id,omitempty"`
	// Actor is who made an admin change (the OS user of `fedgate mfa`).
	Actor string `json:"actor,omitempty"`
	// Decision is what the access policy decided (allow, step-up, deny)
	// when it was asked, and Input what it was asked with besides the
	// fields above, so that `policy replay` can ask a changed policy the
	// same question. Outcome can differ from Decision: a policy allow can
	// still end in a sign-in because the session is capped.
	Decision string `json:"decision,omitempty"`
	Input    *Input `json:"input,omitempty"`
}

// Input is the part of a policy question that is not already an Event
// field: the session's groups and claims (only those the config keeps,
// which are those policies and claim mappings name), its authentication
// methods and when they were used, the upstream's and fedgate's own.
// None of it is a secret.
type Input struct {
	Groups   []string          `json:"groups,omitempty"`
	Claims   map[string]string `json:"claims,omitempty"`
	AMR      []string          `json:"amr,omitempty"`
	AuthTime time.Time         `json:"auth_time,omitzero"`
	// LocalAMR are what fedgate's own second factors proved, at MFATime.
	LocalAMR []string  `json:"local_amr,omitempty"`
	MFATime  time.Time `json:"mfa_time,omitzero"`
	// Devices are the device kinds the browser's certificate satisfied.
	Devices []string `json:"devices,omitempty"`
}

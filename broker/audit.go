package broker

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// AuditEvent is one line of the audit log: who, what, where from, and the
// outcome. It has no field for a password, token or cookie value, by design.
type AuditEvent struct {
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
}

// Auditor writes audit events as JSON lines.
type Auditor struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewAuditor writes to w (stdout or an append-only file).
func NewAuditor(w io.Writer) *Auditor {
	return &Auditor{enc: json.NewEncoder(w)}
}

// Record writes e. A write error cannot be shown to anyone useful, and an
// audit sink that fails must not stop sign-ins, so it is counted, not returned.
func (a *Auditor) Record(e AuditEvent) {
	if len(e.UserAgent) > 256 {
		e.UserAgent = e.UserAgent[:256]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_ = a.enc.Encode(e)
}

package broker

import (
	"encoding/json"
	"io"
	"sync"

	"github.com/fedgate/fedgate/broker/auditlog"
)

// AuditEvent is one line of the audit log (auditlog.Event: the format lives
// with the code that reads it back).
type AuditEvent = auditlog.Event

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

package assertion

import (
	"errors"
	"testing"

	"github.com/fedgate/fedgate/protocols"
)

// A user without a (verified) email gets no email attribute or claim and no
// email-format NameID: nothing falls back to the username or the UPN, which
// may look like an address but were never verified as one.
func TestNoEmailNeverFallsBack(t *testing.T) {
	id := protocols.Identity{Subject: "u1", Upstream: "partner", Username: "alice@corp.example",
		Claims: map[string]string{"upn": "alice@corp.example"}}
	if got := Values(id, "email"); got != nil {
		t.Errorf("Values(email) = %q", got)
	}
	if v, err := NameID(id, "email", "", "sp"); !errors.Is(err, ErrNoValue) {
		t.Errorf("email NameID = %q, %v; want ErrNoValue", v, err)
	}
}

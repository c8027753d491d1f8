package oidc

import (
	"testing"

	"github.com/fedgate/fedgate/protocols"
)

// A user without a (verified) email: no email claim, by scope or by the
// client's claim mapping, and nothing in its place (preferred_username
// and upn stay what they are).
func TestReleaseWithoutEmail(t *testing.T) {
	c := &opClient{ClientConfig: ClientConfig{Claims: map[string]string{"mail": "email", "upn": "upn"}}}
	id := protocols.Identity{Subject: "u1", Upstream: "partner", Username: "alice@corp.example"}
	got := c.release([]string{"openid", "profile", "email"}, id)
	if _, ok := got["email"]; ok {
		t.Errorf("email released: %v", got)
	}
	if _, ok := got["mail"]; ok {
		t.Errorf("mapped email released: %v", got)
	}
	if got["preferred_username"] != "alice@corp.example" || got["upn"] != "alice@corp.example" {
		t.Errorf("claims = %v", got)
	}
}

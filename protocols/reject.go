package protocols

import (
	"errors"
	"fmt"
)

// Check names the check an upstream's answer failed. It reaches the audit
// event (upstream-answer-rejected:<check>) so an operator can count and
// tell refusals apart; the user's page never shows it.
type Check string

// The checks, shared by every upstream type.
const (
	CheckBinding      Check = "binding"        // not an HTTP-POST, unreadable form, wrong wa
	CheckState        Check = "state"          // RelayState / wctx / state is not this login's
	CheckMalformed    Check = "malformed"      // not base64, not XML, too large, not the expected document
	CheckDTD          Check = "dtd"            // DTD, entity or processing instruction
	CheckComment      Check = "comment"        // XML comments
	CheckStructure    Check = "structure"      // not exactly one assertion or token where one must be
	CheckSignature    Check = "signature"      // unsigned, or the signature does not verify
	CheckDecryption   Check = "decryption"     // encrypted for another key, or not decryptable
	CheckEncryption   Check = "encryption"     // sent in the clear where encryption is required
	CheckIssuer       Check = "issuer"         // not the pinned IdP
	CheckTenant       Check = "tenant"         // an Entra tenant outside allowed_tenants
	CheckAudience     Check = "audience"       // not for us
	CheckDestination  Check = "destination"    // a Response for another endpoint
	CheckRecipient    Check = "recipient"      // a bearer confirmation for another endpoint
	CheckInResponseTo Check = "in-response-to" // answers another login's request
	CheckNonce        Check = "nonce"          // ID token nonce is not this login's
	CheckExpired      Check = "expired"
	CheckNotYetValid  Check = "not-yet-valid" // NotBefore / nbf / iat / AuthnInstant in the future
	CheckFresh        Check = "fresh"         // fresh credentials were asked for, an older sign-in came back
	CheckReplay       Check = "replay"        // assertion already used
	CheckCode         Check = "code"          // no code, or the token endpoint refused it
	CheckToken        Check = "token"         // missing token or claim the protocol requires
	CheckSubject      Check = "subject"       // no usable subject
	CheckGroups       Check = "groups"        // group overage
)

// RejectedError is an upstream answer that failed Check. It wraps
// ErrRejected, so errors.Is(err, ErrRejected) holds.
type RejectedError struct {
	Check Check
	Err   error
}

func (e *RejectedError) Error() string   { return e.Err.Error() + ": " + ErrRejected.Error() }
func (e *RejectedError) Unwrap() []error { return []error{e.Err, ErrRejected} }

// Rejectf is a new refusal for check.
func Rejectf(check Check, format string, args ...any) error {
	return &RejectedError{Check: check, Err: fmt.Errorf(format, args...)}
}

// Reject marks err as a refusal for check, unless it already names one:
// the innermost check is the one that failed.
func Reject(check Check, err error) error {
	if re := (*RejectedError)(nil); errors.As(err, &re) {
		return err
	}
	return &RejectedError{Check: check, Err: err}
}

// RejectedCheck is the check err failed, or "" when it is no refusal.
func RejectedCheck(err error) Check {
	if re := (*RejectedError)(nil); errors.As(err, &re) {
		return re.Check
	}
	return ""
}

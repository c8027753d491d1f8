package samltoken

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// ForcedMaxAge is how old a sign-in may be in the answer to a request for
// fresh credentials (ForceAuthn, wfresh=0): the login itself may take so long.
const ForcedMaxAge = 10 * time.Minute

// Settle does what every verified answer needs before it becomes an
// identity: a forced login must be fresh, and the assertion is marked
// used (a.Claim, the store every replica shares) until it expires. It
// returns a protocols.RejectedError for a refusal, or one wrapping
// protocols.ErrUnavailable when the store cannot be asked.
func Settle(ctx context.Context, ans *Answer, a protocols.AuthRequest, now time.Time, skew time.Duration) error {
	if a.ForceLogin && ans.AuthnInstant.Before(now.Add(-ForcedMaxAge-skew)) {
		return protocols.Rejectf(protocols.CheckFresh, "fresh credentials were asked for, but the IdP answered with a sign-in from %s", ans.AuthnInstant.Format(time.RFC3339))
	}
	if a.Claim == nil {
		return fmt.Errorf("no store to mark assertions used: %w", protocols.ErrUnavailable)
	}
	first, err := a.Claim(ctx, "assertion:"+ans.AssertionID, ans.NotOnOrAfter.Add(skew))
	if err != nil {
		return fmt.Errorf("%w: %w", protocols.ErrUnavailable, err)
	}
	if !first {
		return protocols.Rejectf(protocols.CheckReplay, "assertion %s was already used (replay)", ans.AssertionID)
	}
	return nil
}

// KeyInfoCerts reads every X509Certificate under el (a KeyDescriptor).
func KeyInfoCerts(el *etree.Element) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, xc := range el.FindElements(".//X509Certificate") {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
		if err != nil {
			return nil, fmt.Errorf("bad X509Certificate: %v", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("bad X509Certificate: %v", err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("KeyDescriptor without an X509Certificate")
	}
	return out, nil
}

// Parse reads an answer's XML with xmlsig.Parse's limits and refuses
// comments: no IdP sends them, and they split text so that a careless
// reader takes "alice@corp" from a signed "alice@corp<!---->.evil".
func Parse(raw []byte, limit int) (*etree.Document, error) {
	doc, err := xmlsig.Parse(raw, limit)
	if errors.Is(err, xmlsig.ErrDTD) {
		return nil, protocols.Reject(protocols.CheckDTD, err)
	}
	if err != nil {
		return nil, protocols.Reject(protocols.CheckMalformed, err)
	}
	if HasComment(doc.Root()) {
		return nil, protocols.Rejectf(protocols.CheckComment, "the answer contains XML comments")
	}
	return doc, nil
}

package saml

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RSA-SHA1 only for SPs configured with sha1: true
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols/internal/preset"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// Limits on what a browser brings.
const (
	maxXML        = 64 << 10 // an AuthnRequest, inflated
	maxEncoded    = 128 << 10
	maxRelayState = 1024 // SAML says 80 bytes; real SPs send more
)

// Request errors: what went wrong (for the audit reason and the page).
var (
	errUnknownSP    = errors.New("unknown service provider")
	errUnknownApp   = errors.New("unknown app")
	errBadEncoding  = errors.New("request not decodable")
	errTooLarge     = errors.New("request too large")
	errBadXML       = errors.New("request XML refused")
	errNotAuthn     = errors.New("not an AuthnRequest")
	errSignature    = errors.New("request signature invalid")
	errUnsigned     = errors.New("request not signed")
	errExpired      = errors.New("request expired or not yet valid")
	errDestination  = errors.New("request destination is not this endpoint")
	errACS          = errors.New("ACS URL not registered")
	errBinding      = errors.New("response binding not supported")
	errReplay       = errors.New("request already answered")
	errStore        = errors.New("state store unavailable")
	errRelayState   = errors.New("RelayState too long")
	errRelayNotOK   = errors.New("RelayState not allowed")
	errBadRequest   = errors.New("malformed request")
	errNotAllowedIn = errors.New("IdP-initiated sign-in not enabled for this app")
)

// auditReason is the short code an error is audited with.
func auditReason(err error) string {
	for _, e := range []error{errUnknownSP, errUnknownApp, errBadEncoding, errTooLarge, errBadXML, errNotAuthn, errSignature, errUnsigned,
		errExpired, errDestination, errACS, errBinding, errReplay, errRelayState, errRelayNotOK, errBadRequest, errNotAllowedIn, errStore} {
		if errors.Is(err, e) {
			return strings.ReplaceAll(e.Error(), " ", "-")
		}
	}
	return "error"
}

// authnRequest is what fedgate reads from a (verified) AuthnRequest.
type authnRequest struct {
	ID, Issuer, Destination string
	IssueInstant            time.Time
	ACSURL, ProtocolBinding string
	ACSIndex                *int
	ForceAuthn, IsPassive   bool
	NameIDFormat            string
	Classes                 []string
	Subject                 string
}

// incoming is a request as it came over its binding.
type incoming struct {
	xml        []byte
	relayState string
	binding    string
	// Redirect binding signature: the signed octets and the parameters.
	signed       []byte
	sigAlg, sig  string
	hasQuerySign bool
}

// decodeBinding reads SAMLRequest and RelayState from the Redirect (GET,
// deflated) or POST binding, within the size limits.
func decodeBinding(r *http.Request) (*incoming, error) {
	in := &incoming{}
	var enc string
	if r.Method == http.MethodGet {
		in.binding = BindingRedirect
		raw := map[string]string{}
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := raw[k]; dup && (k == "SAMLRequest" || k == "RelayState" || k == "SigAlg" || k == "Signature") {
				return nil, fmt.Errorf("%w: %s repeated", errBadRequest, k)
			}
			raw[k] = v
		}
		var err error
		get := func(k string) string {
			v, e := url.QueryUnescape(raw[k])
			if e != nil && err == nil {
				err = fmt.Errorf("%w: %s: %v", errBadEncoding, k, e)
			}
			return v
		}
		enc, in.relayState, in.sigAlg, in.sig = get("SAMLRequest"), get("RelayState"), get("SigAlg"), get("Signature")
		if err != nil {
			return nil, err
		}
		if in.sig != "" {
			in.hasQuerySign = true
			s := "SAMLRequest=" + raw["SAMLRequest"]
			if _, ok := raw["RelayState"]; ok {
				s += "&RelayState=" + raw["RelayState"]
			}
			in.signed = []byte(s + "&SigAlg=" + raw["SigAlg"])
		}
	} else {
		in.binding = BindingPOST
		if err := r.ParseForm(); err != nil {
			return nil, fmt.Errorf("%w: %v", errTooLarge, err)
		}
		enc, in.relayState = r.PostForm.Get("SAMLRequest"), r.PostForm.Get("RelayState")
	}
	if enc == "" {
		return nil, fmt.Errorf("%w: no SAMLRequest", errBadRequest)
	}
	if len(enc) > maxEncoded {
		return nil, fmt.Errorf("%w: %d encoded bytes", errTooLarge, len(enc))
	}
	if len(in.relayState) > maxRelayState {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", errRelayState, len(in.relayState), maxRelayState)
	}
	data, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(enc), ""))
	if err != nil {
		return nil, fmt.Errorf("%w: base64: %v", errBadEncoding, err)
	}
	if in.binding == BindingRedirect {
		if data, err = inflate(data, maxXML); err != nil {
			return nil, err
		}
	}
	in.xml = data
	return in, nil
}

// inflaters keeps DEFLATE readers for reuse: a new one allocates ~40 KB
// of tables, more than the rest of reading a request.
var inflaters sync.Pool

// inflate undoes DEFLATE, stopping at limit bytes: a deflate bomb (a few
// KB expanding to gigabytes) is refused after limit bytes of work.
func inflate(data []byte, limit int) ([]byte, error) {
	fr, ok := inflaters.Get().(io.ReadCloser)
	if ok {
		_ = fr.(flate.Resetter).Reset(bytes.NewReader(data), nil)
	} else {
		fr = flate.NewReader(bytes.NewReader(data))
	}
	defer inflaters.Put(fr)
	out, err := io.ReadAll(io.LimitReader(fr, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: deflate: %v", errBadEncoding, err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: inflates beyond %d bytes", errTooLarge, limit)
	}
	return out, nil
}

// parseRequest turns the XML into the request's root element (unverified),
// which must be an AuthnRequest.
func parseRequest(data []byte) (*etree.Element, error) { return parseProtocol(data, "AuthnRequest") }

// parseProtocol parses a samlp message whose root is tag.
func parseProtocol(data []byte, tag string) (*etree.Element, error) {
	doc, err := xmlsig.Parse(data, maxXML)
	if err != nil {
		if errors.Is(err, xmlsig.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", errTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %v", errBadXML, err)
	}
	root := doc.Root()
	if root.Tag != tag || root.NamespaceURI() != nsProtocol {
		return nil, fmt.Errorf("%w: %s", errNotAuthn, root.Tag)
	}
	return root, nil
}

// issuerOf reads the Issuer (before verification: only to find the SP
// whose certificate verifies the request).
func issuerOf(el *etree.Element) string {
	if is := childNS(el, nsAssertion, "Issuer"); is != nil {
		return strings.TrimSpace(is.Text())
	}
	return ""
}

// verifyRequest checks the request's signature against the SP's
// certificates and returns the element to read: the verified copy for an
// enveloped signature. Unsigned requests pass only if the SP allows them.
func verifyRequest(s *sp, in *incoming, root *etree.Element) (*etree.Element, error) {
	switch {
	case in.hasQuerySign:
		if len(s.Certs) == 0 {
			return nil, fmt.Errorf("%w: signed, but no certificate is configured for the SP", errSignature)
		}
		if err := verifyQuery(s, in); err != nil {
			return nil, err
		}
		return root, nil
	case in.binding == BindingPOST && xmlsig.Signed(root):
		if len(s.Certs) == 0 {
			return nil, fmt.Errorf("%w: signed, but no certificate is configured for the SP", errSignature)
		}
		el, err := xmlsig.Verifier{Certs: s.Certs, AllowSHA1: s.SHA1}.Verify(root, "ID")
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errSignature, err)
		}
		return el, nil
	case s.RequireSigned:
		return nil, errUnsigned
	}
	return root, nil
}

// verifyQuery checks a Redirect-binding signature (SAML bindings §3.4.4.1).
func verifyQuery(s *sp, in *incoming) error {
	sig, err := base64.StdEncoding.DecodeString(in.sig)
	if err != nil {
		return fmt.Errorf("%w: signature not base64", errSignature)
	}
	var h crypto.Hash
	switch in.sigAlg {
	case xmlsig.RSASHA256, xmlsig.ECDSASHA256:
		h = crypto.SHA256
	case xmlsig.RSASHA1:
		if !s.SHA1 {
			return fmt.Errorf("%w: RSA-SHA1 not allowed for this SP", errSignature)
		}
		h = crypto.SHA1
	default:
		return fmt.Errorf("%w: SigAlg %q not allowed", errSignature, in.sigAlg)
	}
	var digest []byte
	if h == crypto.SHA1 {
		d := sha1.Sum(in.signed) //nolint:gosec // see import
		digest = d[:]
	} else {
		d := sha256.Sum256(in.signed)
		digest = d[:]
	}
	for _, c := range s.Certs {
		switch pub := c.PublicKey.(type) {
		case *rsa.PublicKey:
			if in.sigAlg != xmlsig.ECDSASHA256 && rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil {
				return nil
			}
		case *ecdsa.PublicKey:
			if in.sigAlg == xmlsig.ECDSASHA256 && ecdsa.VerifyASN1(pub, digest, sig) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: no configured certificate verifies it", errSignature)
}

// readRequest reads the fields fedgate uses from the verified element.
func readRequest(el *etree.Element) (*authnRequest, error) {
	a := &authnRequest{
		ID:              el.SelectAttrValue("ID", ""),
		Destination:     el.SelectAttrValue("Destination", ""),
		ACSURL:          el.SelectAttrValue("AssertionConsumerServiceURL", ""),
		ProtocolBinding: el.SelectAttrValue("ProtocolBinding", ""),
		ForceAuthn:      xsBool(el.SelectAttrValue("ForceAuthn", "")),
		IsPassive:       xsBool(el.SelectAttrValue("IsPassive", "")),
		Issuer:          issuerOf(el),
	}
	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		return nil, fmt.Errorf("%w: Version %q", errBadRequest, v)
	}
	if a.ID == "" || len(a.ID) > 256 {
		return nil, fmt.Errorf("%w: bad ID", errBadRequest)
	}
	t, err := time.Parse(time.RFC3339Nano, el.SelectAttrValue("IssueInstant", ""))
	if err != nil {
		return nil, fmt.Errorf("%w: IssueInstant: %v", errBadRequest, err)
	}
	a.IssueInstant = t
	if v := el.SelectAttrValue("AssertionConsumerServiceIndex", ""); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%w: AssertionConsumerServiceIndex %q", errBadRequest, v)
		}
		a.ACSIndex = &i
	}
	if p := childNS(el, nsProtocol, "NameIDPolicy"); p != nil {
		a.NameIDFormat = p.SelectAttrValue("Format", "")
	}
	if rc := childNS(el, nsProtocol, "RequestedAuthnContext"); rc != nil {
		for _, c := range rc.ChildElements() {
			if c.Tag == "AuthnContextClassRef" && c.NamespaceURI() == nsAssertion {
				a.Classes = append(a.Classes, strings.TrimSpace(c.Text()))
			}
		}
	}
	if sub := childNS(el, nsAssertion, "Subject"); sub != nil {
		if n := childNS(sub, nsAssertion, "NameID"); n != nil {
			a.Subject = strings.TrimSpace(n.Text())
		}
	}
	return a, nil
}

func xsBool(v string) bool { return v == "true" || v == "1" }

// checkTime: IssueInstant within the SP's request age, allowing skew.
func checkTime(s *sp, a *authnRequest, now time.Time) error {
	if a.IssueInstant.After(now.Add(s.Skew)) || a.IssueInstant.Before(now.Add(-s.RequestMaxAge-s.Skew)) {
		return fmt.Errorf("%w: issued %s", errExpired, a.IssueInstant.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkDestination: when present, the URL the request was sent to.
func checkDestination(a *authnRequest, here string) error {
	if a.Destination != "" && a.Destination != here {
		return fmt.Errorf("%w: %q", errDestination, a.Destination)
	}
	return nil
}

// resolveACS: the ACS URL (exact match) or index must be registered;
// neither means the default. Only HTTP-POST answers are made.
func resolveACS(s *sp, a *authnRequest) (string, error) {
	if a.ProtocolBinding != "" && a.ProtocolBinding != BindingPOST {
		return "", fmt.Errorf("%w: %s", errBinding, a.ProtocolBinding)
	}
	switch {
	case a.ACSURL != "":
		for _, c := range s.ACS {
			if c.URL == a.ACSURL {
				return c.URL, nil
			}
		}
		return "", fmt.Errorf("%w: %q", errACS, a.ACSURL)
	case a.ACSIndex != nil:
		for _, c := range s.ACS {
			if c.Index == *a.ACSIndex {
				return c.URL, nil
			}
		}
		return "", fmt.Errorf("%w: index %d", errACS, *a.ACSIndex)
	}
	return s.defaultACS().URL, nil
}

// nameIDPolicyOK: the requested format, if any, is the one configured.
func nameIDPolicyOK(s *sp, a *authnRequest) bool {
	return a.NameIDFormat == "" || a.NameIDFormat == preset.NameIDUnspecified || a.NameIDFormat == s.NameIDFormat
}

// wantsMFA: the SP asked for an MFA class.
func wantsMFA(s *sp, a *authnRequest) bool {
	for _, c := range a.Classes {
		if c == s.MFAClass || c == ClassREFEDSMFA || c == preset.MethodMFA {
			return true
		}
	}
	return false
}

package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// UpstreamDeps are what a SAML upstream needs from outside.
type UpstreamDeps struct {
	// PublicURL is fedgate's public base URL: our ACS and metadata URLs.
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Upstream is a SAML 2.0 IdP that users sign in at: fedgate sends an
// AuthnRequest by HTTP-Redirect and takes the Response by HTTP-POST at its
// callback. It holds no per-login state: the broker seals it.
type Upstream struct {
	cfg       UpstreamConfig
	md        atomic.Pointer[idpMetadata] // last good copy
	spEntity  string
	acs       string
	metaURL   string
	signer    *xmlsig.Signer // signs AuthnRequests; nil: unsigned
	sigAlg    string
	decrypter decrypter
	keys      []protocols.SigningKey // published in our metadata
	log       *slog.Logger
	now       func() time.Time
}

var (
	_ protocols.PostAnswerer      = (*Upstream)(nil)
	_ protocols.MFARequester      = (*Upstream)(nil)
	_ protocols.MetadataPublisher = (*Upstream)(nil)
)

// OpenUpstream builds a SAML upstream from a validated config whose
// Metadata and SPKeys the caller has filled in.
func OpenUpstream(cfg UpstreamConfig, deps UpstreamDeps) (*Upstream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	base := strings.TrimSuffix(deps.PublicURL, "/")
	u := &Upstream{cfg: cfg, acs: base + "/callback/" + cfg.ID, metaURL: base + "/upstream/" + cfg.ID + "/metadata",
		log: deps.Logger, now: deps.Now, keys: cfg.SPKeys}
	u.spEntity = cfg.SPEntityID
	if u.spEntity == "" {
		u.spEntity = u.metaURL
	}
	if err := u.SetMetadata(cfg.Metadata); err != nil {
		return nil, fmt.Errorf("metadata_file: %w", err)
	}
	for _, k := range cfg.SPKeys {
		rk, ok := k.Signer.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: %s is not an RSA key (IdPs encrypt to RSA keys)", k.KeyID)
		}
		u.decrypter.keys = append(u.decrypter.keys, rk)
		if !k.Next && u.signer == nil {
			s, err := xmlsig.NewSigner(k.Signer, k.Cert, false)
			if err != nil {
				return nil, err
			}
			u.signer, u.sigAlg = s, xmlsig.RSASHA256
		}
	}
	if len(cfg.SPKeys) > 0 && u.signer == nil {
		return nil, errors.New("keys: every key has status next; one must be active")
	}
	return u, nil
}

// SetMetadata replaces the IdP's metadata when data is valid, pinned to
// entity_id; otherwise the last good copy stays in use.
func (u *Upstream) SetMetadata(data []byte) error {
	md, err := parseIdPMetadata(data, u.cfg.EntityID)
	if err != nil {
		return err
	}
	u.md.Store(md)
	return nil
}

// ID is the upstream's config id.
func (u *Upstream) ID() string { return u.cfg.ID }

// Ready: the metadata is read at start, so a SAML upstream is always ready.
func (u *Upstream) Ready(context.Context) error { return nil }

// CanRequestMFA: RequestedAuthnContext with the step-up classes.
func (u *Upstream) CanRequestMFA() bool { return len(u.cfg.mfaClasses()) > 0 }

// RedirectOrigins is the IdP's SSO origin, for the broker's CSP.
func (u *Upstream) RedirectOrigins() []string {
	p, err := url.Parse(u.md.Load().SSO)
	if err != nil || p.Host == "" {
		return nil
	}
	return []string{p.Scheme + "://" + p.Host}
}

// requestID derives the AuthnRequest's ID from the login's sealed nonce,
// so Finish knows which InResponseTo to expect without storing anything.
func requestID(nonce string) string {
	h := sha256.Sum256([]byte("fedgate saml authn request\x00" + nonce))
	return "_" + hex.EncodeToString(h[:16])
}

// Begin returns the IdP's SSO URL with a deflated AuthnRequest
// (HTTP-Redirect binding), signed when the IdP wants it.
func (u *Upstream) Begin(_ context.Context, a protocols.AuthRequest) (string, error) {
	md := u.md.Load()
	doc := etree.NewDocument()
	req := doc.CreateElement("samlp:AuthnRequest")
	req.CreateAttr("xmlns:samlp", nsProtocol)
	req.CreateAttr("xmlns:saml", nsAssertion)
	req.CreateAttr("ID", requestID(a.Nonce))
	req.CreateAttr("Version", "2.0")
	req.CreateAttr("IssueInstant", u.now().UTC().Format(time.RFC3339))
	req.CreateAttr("Destination", md.SSO)
	req.CreateAttr("AssertionConsumerServiceURL", a.CallbackURL)
	req.CreateAttr("ProtocolBinding", BindingPOST)
	if a.ForceLogin || a.MFA != nil {
		req.CreateAttr("ForceAuthn", "true")
	}
	req.CreateElement("saml:Issuer").SetText(u.spEntity)
	pol := req.CreateElement("samlp:NameIDPolicy")
	if f := u.cfg.nameIDFormat(); f != "" {
		pol.CreateAttr("Format", f)
	}
	pol.CreateAttr("AllowCreate", "true")
	if a.MFA != nil {
		rac := req.CreateElement("samlp:RequestedAuthnContext")
		rac.CreateAttr("Comparison", "exact")
		for _, c := range u.cfg.mfaClasses() {
			rac.CreateElement("saml:AuthnContextClassRef").SetText(c)
		}
	}
	raw, err := doc.WriteToBytes()
	if err != nil {
		return "", err
	}
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	_, _ = fw.Write(raw)
	_ = fw.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(z.Bytes())) +
		"&RelayState=" + url.QueryEscape(a.State)
	if u.signs(md) {
		q += "&SigAlg=" + url.QueryEscape(u.sigAlg)
		sig, _, err := u.signer.SignBytes([]byte(q))
		if err != nil {
			return "", fmt.Errorf("saml: %s: sign AuthnRequest: %w", u.cfg.ID, err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	sep := "?"
	if strings.Contains(md.SSO, "?") {
		sep = "&"
	}
	return md.SSO + sep + q, nil
}

func (u *Upstream) signs(md *idpMetadata) bool {
	if u.signer == nil {
		return false
	}
	if u.cfg.SignRequests != nil {
		return *u.cfg.SignRequests
	}
	return md.WantSignedAuthn
}

// AnswerState is the RelayState posted back with the Response.
func (u *Upstream) AnswerState(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return ""
	}
	return r.PostForm.Get("RelayState")
}

// Finish verifies the POSTed Response against this login and maps it.
func (u *Upstream) Finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	id, err := u.finish(ctx, r, a)
	if err != nil {
		return protocols.Identity{}, fmt.Errorf("saml: %s: %w", u.cfg.ID, err)
	}
	return id, nil
}

func (u *Upstream) finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	if r.Method != http.MethodPost {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckBinding, "the answer must come by HTTP-POST")
	}
	if err := r.ParseForm(); err != nil {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckBinding, "unreadable form: %v", err)
	}
	if r.PostForm.Get("RelayState") != a.State {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckState, "RelayState is not this login's")
	}
	md := u.md.Load()
	now := u.now()
	check := answerCheck{
		Assertion: samltoken.Check{Issuer: md.EntityID, Audience: u.spEntity, Recipient: a.CallbackURL,
			RequestID: requestID(a.Nonce), Now: now, Skew: u.cfg.skew()},
		Verifier:        xmlsig.Verifier{Certs: md.Certs, AllowSHA1: u.cfg.SHA1},
		SignedAssertion: u.cfg.SignedAssertion, Encrypted: u.cfg.EncryptedAssertion,
	}
	if len(u.decrypter.keys) > 0 {
		check.Decrypt = u.decrypter.open
	}
	ans, err := check.checkResponse(r.PostForm.Get("SAMLResponse"))
	if se := (*errStatus)(nil); errors.As(err, &se) {
		return protocols.Identity{}, fmt.Errorf("%w: %w", protocols.ErrDeclined, err)
	}
	if err != nil {
		// Every check names itself; anything else is still a refusal.
		return protocols.Identity{}, protocols.Reject(protocols.CheckMalformed, err)
	}
	if err := samltoken.Settle(ctx, ans, a, now, u.cfg.skew()); err != nil {
		return protocols.Identity{}, err
	}
	return u.cfg.mapping().Identity(u.cfg.ID, ans)
}

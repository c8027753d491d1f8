package wsfed

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/internal/samltoken"
	"github.com/fedgate/fedgate/protocols/internal/xmlsig"
)

// nsTrust13 is WS-Trust 1.3's namespace (ADFS's RSTR collection).
const nsTrust13 = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"

// maxResult bounds a wresult.
const maxResult = 256 << 10

// UpstreamDeps are what a WS-Fed upstream needs from outside.
type UpstreamDeps struct {
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Upstream is a WS-Federation STS users sign in at: wsignin1.0 out, a
// wresult POSTed back to the callback, its SAML 1.1 or 2.0 token verified
// like a SAML upstream's assertion.
type Upstream struct {
	cfg   UpstreamConfig
	md    *stsMetadata
	realm string
	log   *slog.Logger
	now   func() time.Time
}

var (
	_ protocols.PostAnswerer = (*Upstream)(nil)
	_ protocols.MFARequester = (*Upstream)(nil)
)

// OpenUpstream builds a WS-Fed upstream from a validated config whose
// Metadata the caller has filled in.
func OpenUpstream(cfg UpstreamConfig, deps UpstreamDeps) (*Upstream, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	md, err := parseSTSMetadata(cfg.Metadata, cfg.EntityID)
	if err != nil {
		return nil, fmt.Errorf("metadata_file: %w", err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	realm := cfg.Realm
	if realm == "" {
		realm = strings.TrimSuffix(deps.PublicURL, "/") + "/upstream/" + cfg.ID
	}
	return &Upstream{cfg: cfg, md: md, realm: realm, log: deps.Logger, now: deps.Now}, nil
}

// ID is the upstream's config id.
func (u *Upstream) ID() string { return u.cfg.ID }

// Ready: the metadata is read at start.
func (u *Upstream) Ready(context.Context) error { return nil }

// CanRequestMFA: wauth with the MFA method.
func (u *Upstream) CanRequestMFA() bool { return true }

// RedirectOrigins is the STS's origin, for the broker's CSP.
func (u *Upstream) RedirectOrigins() []string {
	p, err := url.Parse(u.md.Passive)
	if err != nil || p.Host == "" {
		return nil
	}
	return []string{p.Scheme + "://" + p.Host}
}

// wctx is the login's state and a tag derived from its sealed nonce: the
// STS echoes it, and only this login's cookie holds what makes the tag.
func wctx(a protocols.AuthRequest) string {
	h := sha256.Sum256([]byte("fedgate wsfed wctx\x00" + a.Nonce))
	return a.State + "." + base64.RawURLEncoding.EncodeToString(h[:16])
}

// Begin returns the STS's passive endpoint with wsignin1.0.
func (u *Upstream) Begin(_ context.Context, a protocols.AuthRequest) (string, error) {
	q := url.Values{"wa": {"wsignin1.0"}, "wtrealm": {u.realm}, "wreply": {a.CallbackURL}, "wctx": {wctx(a)}}
	if a.ForceLogin || a.MFA != nil {
		q.Set("wfresh", "0")
	}
	if a.MFA != nil {
		q.Set("wauth", u.cfg.wauth())
	}
	sep := "?"
	if strings.Contains(u.md.Passive, "?") {
		sep = "&"
	}
	return u.md.Passive + sep + q.Encode(), nil
}

// AnswerState is the state part of the posted wctx.
func (u *Upstream) AnswerState(r *http.Request) string {
	if err := r.ParseForm(); err != nil {
		return ""
	}
	state, _, _ := strings.Cut(r.PostForm.Get("wctx"), ".")
	return state
}

// Finish verifies the posted wresult against this login and maps it.
func (u *Upstream) Finish(ctx context.Context, r *http.Request, a protocols.AuthRequest) (protocols.Identity, error) {
	id, err := u.finish(ctx, r, a)
	if err != nil {
		return protocols.Identity{}, fmt.Errorf("wsfed: %s: %w", u.cfg.ID, err)
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
	if r.PostForm.Get("wa") != "wsignin1.0" {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckBinding, "wa is %q, not wsignin1.0", r.PostForm.Get("wa"))
	}
	if r.PostForm.Get("wctx") != wctx(a) {
		return protocols.Identity{}, protocols.Rejectf(protocols.CheckState, "wctx is not this login's")
	}
	now := u.now()
	check := samltoken.Check{Issuer: u.cfg.EntityID, Audience: u.realm, Now: now, Skew: u.cfg.skew()}
	ans, err := u.checkResult([]byte(r.PostForm.Get("wresult")), check)
	if err != nil {
		// Every check names itself; anything else is still a refusal.
		return protocols.Identity{}, protocols.Reject(protocols.CheckMalformed, err)
	}
	if err := samltoken.Settle(ctx, ans, a, now, u.cfg.skew()); err != nil {
		return protocols.Identity{}, err
	}
	return u.cfg.Claims.Mapping(u.cfg.preset(), u.cfg.evidence()).Identity(u.cfg.ID, ans)
}

// checkResult reads the wresult: one RequestSecurityTokenResponse (WS-Trust
// February 2005, or 1.3 inside a collection) whose RequestedSecurityToken
// is exactly one signed SAML 1.1 or 2.0 assertion; only its verified copy
// is read.
func (u *Upstream) checkResult(raw []byte, check samltoken.Check) (*samltoken.Answer, error) {
	doc, err := samltoken.Parse(raw, maxResult)
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	rstr := root
	if root.Tag == "RequestSecurityTokenResponseCollection" && root.NamespaceURI() == nsTrust13 {
		kids := root.ChildElements()
		if len(kids) != 1 {
			return nil, protocols.Rejectf(protocols.CheckStructure, "want one RequestSecurityTokenResponse, have %d", len(kids))
		}
		rstr = kids[0]
	}
	ns := rstr.NamespaceURI()
	if rstr.Tag != "RequestSecurityTokenResponse" || (ns != nsTrust && ns != nsTrust13) {
		return nil, protocols.Rejectf(protocols.CheckMalformed, "wresult is %s, not a RequestSecurityTokenResponse", rstr.FullTag())
	}
	rst := samltoken.ChildNS(rstr, ns, "RequestedSecurityToken")
	if rst == nil || len(rst.ChildElements()) != 1 {
		return nil, protocols.Rejectf(protocols.CheckStructure, "want exactly one token in RequestedSecurityToken")
	}
	tok := rst.ChildElements()[0]
	v := xmlsig.Verifier{Certs: u.md.Certs, AllowSHA1: u.cfg.SHA1}
	var verified *etree.Element
	switch {
	case tok.Tag == "Assertion" && tok.NamespaceURI() == samltoken.NS11:
		if verified, err = v.Verify(tok, "AssertionID"); err == nil {
			return check.Assertion11(verified)
		}
	case tok.Tag == "Assertion" && tok.NamespaceURI() == samltoken.NS2:
		if verified, err = v.Verify(tok, "ID"); err == nil {
			return check.Assertion(verified)
		}
	default:
		return nil, protocols.Rejectf(protocols.CheckMalformed, "token %s is not a SAML assertion", tok.FullTag())
	}
	return nil, protocols.Rejectf(protocols.CheckSignature, "token signature: %w", err)
}

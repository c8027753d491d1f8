package kerberos

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/fedgate/fedgate/protocols"
)

// accepted is a verified AP-REQ: who, and what its PAC said.
type accepted struct {
	name, realm string // the client principal
	pac         string // pacNone, pacUnreadable or pacRead
	sids        []string
	fullName    string
	response    string // base64 SPNEGO token with the AP-REP (mutual authentication)
}

// What the ticket's PAC was, in Identity.Claims["pac"]: policy explain
// shows why a user has no groups.
const (
	pacNone       = "none"
	pacUnreadable = "unreadable"
	pacRead       = "read"
)

// oidNTLM is NTLMSSP's mechanism: a browser that fell back to NTLM.
var oidNTLM = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}

// accept parses and verifies a Negotiate token. Every refusal is a
// *protocols.NegotiateError whose reason names the cause an administrator
// can fix: the wrong SPN, a stale keytab, a skewed clock.
func (u *Upstream) accept(ctx context.Context, tok, remoteAddr string, claim protocols.ClaimFunc) (a accepted, err error) {
	// Decrypting and decoding the authenticator works on content any
	// domain user can shape with their own session key: a panic in the
	// library must decline, not end the request.
	defer func() {
		if p := recover(); p != nil {
			a, err = accepted{}, decline("malformed", fmt.Errorf("token does not verify: %v", p))
		}
	}()
	mech, apreq, err := parseToken(tok)
	if err != nil {
		return accepted{}, err
	}
	return u.verify(ctx, apreq, mech, remoteAddr, claim)
}

// parseToken finds the Kerberos AP-REQ in a Negotiate token: SPNEGO
// (RFC 4178) or, as some clients send, a bare Kerberos GSS token.
func parseToken(tok string) (mech asn1.ObjectIdentifier, apreq *messages.APReq, err error) {
	raw, err := base64.StdEncoding.DecodeString(tok)
	if err != nil {
		return nil, nil, decline("malformed", fmt.Errorf("token is not base64: %w", err))
	}
	if bytes.HasPrefix(raw, []byte("NTLMSSP\x00")) {
		return nil, nil, decline("ntlm", errors.New("an NTLM token, not Kerberos: the browser has no ticket for this SPN"))
	}
	// The ASN.1 decoders work on what any client sends before it is
	// authenticated; a panic there must decline, not end the request.
	defer func() {
		if p := recover(); p != nil {
			err = decline("malformed", fmt.Errorf("token does not parse: %v", p))
		}
	}()
	mech, mechTok := gssapi.OIDKRB5.OID(), raw
	var st spnego.SPNEGOToken
	if st.Unmarshal(raw) == nil {
		if !st.Init || len(st.NegTokenInit.MechTypes) == 0 {
			return nil, nil, decline("malformed", errors.New("SPNEGO token is not a NegTokenInit"))
		}
		mech, mechTok = st.NegTokenInit.MechTypes[0], st.NegTokenInit.MechTokenBytes
		switch {
		case mech.Equal(oidNTLM) || bytes.HasPrefix(mechTok, []byte("NTLMSSP\x00")):
			return nil, nil, decline("ntlm", errors.New("SPNEGO offers NTLM, not Kerberos: the browser has no ticket for this SPN"))
		case !mech.Equal(gssapi.OIDKRB5.OID()) && !mech.Equal(gssapi.OIDMSLegacyKRB5.OID()):
			return nil, nil, decline("unsupported-mech", fmt.Errorf("SPNEGO mechanism %s is not Kerberos", mech))
		case len(mechTok) == 0:
			return nil, nil, decline("malformed", errors.New("SPNEGO NegTokenInit carries no Kerberos token"))
		}
	}
	var k5 spnego.KRB5Token
	if err := k5.Unmarshal(mechTok); err != nil {
		return nil, nil, decline("malformed", fmt.Errorf("not a Kerberos token: %w", err))
	}
	if !k5.IsAPReq() {
		return nil, nil, decline("malformed", errors.New("the Kerberos token is not an AP-REQ"))
	}
	return mech, &k5.APReq, nil
}

// verify checks the AP-REQ as RFC 4120 §3.2.3 says, in the order that
// gives the most useful reason.
func (u *Upstream) verify(ctx context.Context, a *messages.APReq, mech asn1.ObjectIdentifier, remoteAddr string, claim protocols.ClaimFunc) (accepted, error) {
	t := &a.Ticket
	if !samePrincipal(t.SName, u.spn) || !strings.EqualFold(t.Realm, u.realm) {
		return accepted{}, decline("wrong-spn", fmt.Errorf("ticket is for %s@%s, this service is %s@%s",
			t.SName.PrincipalNameString(), t.Realm, u.spn.PrincipalNameString(), u.realm))
	}
	key, _, err := u.kt.GetEncryptionKey(u.spn, u.realm, t.EncPart.KVNO, t.EncPart.EType)
	if err != nil {
		return accepted{}, u.noKey(t)
	}
	if err := t.Decrypt(key); err != nil {
		return accepted{}, decline("bad-key", fmt.Errorf("ticket does not decrypt with the keytab's key (kvno %d): the keytab is out of date: %w", t.EncPart.KVNO, err))
	}
	now, ep := u.now(), &t.DecryptedEncPart
	if ep.StartTime.Sub(now) > u.skew || types.IsFlagSet(&ep.Flags, flags.Invalid) {
		return accepted{}, decline("not-yet-valid", errors.New("ticket is not yet valid"))
	}
	if now.Sub(ep.EndTime) > u.skew {
		return accepted{}, decline("expired", fmt.Errorf("ticket expired at %s", ep.EndTime.Format(time.RFC3339)))
	}
	if len(ep.CAddr) > 0 {
		h, err := types.GetHostAddress(remoteAddr)
		if err != nil || !types.HostAddressesContains(ep.CAddr, h) {
			return accepted{}, decline("address", errors.New("ticket is bound to other client addresses"))
		}
	}
	if err := a.DecryptAuthenticator(ep.Key); err != nil {
		return accepted{}, decline("bad-authenticator", fmt.Errorf("authenticator does not open with the ticket's key: %w", err))
	}
	if !a.Authenticator.CName.Equal(ep.CName) {
		return accepted{}, decline("bad-authenticator", errors.New("authenticator names another client than the ticket"))
	}
	ct := a.Authenticator.CTime.Add(time.Duration(a.Authenticator.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > u.skew || -d > u.skew {
		return accepted{}, decline("clock-skew", fmt.Errorf("client clock is off by %s (allowed %s)", d.Round(time.Second), u.skew))
	}
	if err := notReplayed(ctx, claim, ep.CRealm, ep.CName.PrincipalNameString(), a.Authenticator, now.Add(2*u.skew)); err != nil {
		return accepted{}, err
	}
	acc := accepted{name: ep.CName.PrincipalNameString(), realm: ep.CRealm}
	u.readPAC(t, &acc)
	// Mutual authentication only when the client asks for it (RFC 4120
	// §3.2.4): browsers do not, and sealing the AP-REP costs a third of
	// the verification.
	if types.IsFlagSet(&a.APOptions, flags.APOptionMutualRequired) {
		if acc.response, err = apRep(a, mech); err != nil {
			u.logger.Warn("kerberos: no mutual authentication token", "err", err)
		}
	}
	return acc, nil
}

// notReplayed claims the authenticator (client, ctime, cusec) in the store
// every replica shares until twice the skew from now: within it, the same
// one again is a replay (RFC 4120 §3.2.3), whichever replica it reaches.
// The key is a hash, so the store holds no user names. A store that cannot
// answer declines: a replay check that did not run accepts nothing.
func notReplayed(ctx context.Context, claim protocols.ClaimFunc, realm, client string, au types.Authenticator, until time.Time) error {
	if claim == nil {
		return decline("replay-check", errors.New("no replay check was given"))
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", realm, client, au.CTime.UnixNano(), au.Cusec))
	first, err := claim(ctx, "krb:"+base64.RawURLEncoding.EncodeToString(h[:]), until)
	switch {
	case err != nil:
		return decline("replay-check", fmt.Errorf("the replay check failed: %w", err))
	case !first:
		return decline("replay", errors.New("this authenticator was already used"))
	}
	return nil
}

// samePrincipal compares service principals as AD does: case-insensitive.
func samePrincipal(a, b types.PrincipalName) bool {
	if len(a.NameString) != len(b.NameString) {
		return false
	}
	for i := range a.NameString {
		if !strings.EqualFold(a.NameString[i], b.NameString[i]) {
			return false
		}
	}
	return true
}

// noKey says why the keytab has no key for the ticket: its encryption type
// (RC4 or DES where the keytab has AES, or the reverse) or its key version
// (the account's password changed after the keytab was made).
func (u *Upstream) noKey(t *messages.Ticket) error {
	for _, e := range entriesFor(u.kt, u.spn, u.realm) {
		if e.EType == t.EncPart.EType {
			return decline("kvno", fmt.Errorf("keytab has no key version %d for the ticket: make a new keytab", t.EncPart.KVNO))
		}
	}
	return decline("enctype", fmt.Errorf("keytab has no key of encryption type %d for the ticket", t.EncPart.EType))
}

// readPAC reads the user's group SIDs from the ticket's PAC. A PAC gokrb5
// cannot decode (as MIT KDCs from 1.20 may issue) only leaves the user
// without groups; Identity.Claims["pac"] says which.
func (u *Upstream) readPAC(t *messages.Ticket, a *accepted) {
	a.pac = pacUnreadable
	defer func() {
		if p := recover(); p != nil {
			u.logger.Warn("kerberos: PAC does not decode; no groups", "user", a.name, "err", fmt.Sprint(p))
		}
	}()
	isPAC, p, err := t.GetPACType(u.kt, &u.spn, log.New(discard{}, "", 0))
	switch {
	case !isPAC:
		a.pac = pacNone
	case err != nil || p.KerbValidationInfo == nil:
		// MIT KDCs from 1.20 issue PACs with no logon info at all.
		u.logger.Warn("kerberos: PAC unusable; no groups", "user", a.name, "err", err)
	default:
		a.pac = pacRead
		a.sids = p.KerbValidationInfo.GetGroupMembershipSIDs()
		a.fullName = p.KerbValidationInfo.FullName.Value
	}
}

// mapGroups names the SIDs the table knows, in the ticket's order, once.
func mapGroups(sids []string, table map[string]string) []string {
	var out []string
	for _, sid := range sids {
		if name, ok := table[sid]; ok && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// encAPRepPart is RFC 4120 §5.5.2's EncAPRepPart (gokrb5 only reads it).
type encAPRepPart struct {
	CTime          time.Time `asn1:"generalized,explicit,tag:0"`
	Cusec          int       `asn1:"explicit,tag:1"`
	SequenceNumber int64     `asn1:"optional,explicit,tag:3"`
}

// apRep is the mutual-authentication answer: an AP-REP echoing the
// authenticator's time, sealed with the ticket's session key, in a SPNEGO
// accept-completed token.
func apRep(a *messages.APReq, mech asn1.ObjectIdentifier) (string, error) {
	seq, err := rand.Int(rand.Reader, big.NewInt(1<<30))
	if err != nil {
		return "", err
	}
	enc, err := asn1.Marshal(encAPRepPart{CTime: a.Authenticator.CTime, Cusec: a.Authenticator.Cusec, SequenceNumber: seq.Int64()})
	if err != nil {
		return "", err
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(enc, asnAppTag.EncAPRepPart), a.Ticket.DecryptedEncPart.Key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return "", err
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: ed})
	if err != nil {
		return "", err
	}
	oid, err := asn1.Marshal(gssapi.OIDKRB5.OID())
	if err != nil {
		return "", err
	}
	gss := asn1tools.AddASNAppTag(append(append(oid, 0x02, 0x00), asn1tools.AddASNAppTag(rep, asnAppTag.APREP)...), 0)
	resp := spnego.NegTokenResp{NegState: 0, SupportedMech: mech, ResponseToken: gss} // 0: accept-completed
	b, err := resp.Marshal()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

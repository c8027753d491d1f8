package kerberos

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/adtype"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// A test realm with no KDC: tickets are minted here with the service's
// key, as a KDC would (the interop test uses a real MIT KDC).
const (
	testRealm = "CORP.EXAMPLE"
	testSPN   = "HTTP/sso.corp.example"
	testPass  = "service-password"
)

// ticket describes a service ticket and its authenticator to mint.
type ticket struct {
	client, crealm string
	sname, srealm  string
	etype          int32
	kvno           int
	password       string        // the service key's password
	end            time.Duration // ticket lifetime from now (default 1h)
	skew           time.Duration // authenticator time minus now
	pac            []byte        // an AD-WIN2K-PAC to carry
	mutual         bool          // the client asks for mutual authentication
	keytab         *keytab.Keytab
}

func (tk ticket) withDefaults() ticket {
	if tk.client == "" {
		tk.client = "alice"
	}
	if tk.crealm == "" {
		tk.crealm = testRealm
	}
	if tk.sname == "" {
		tk.sname = testSPN
	}
	if tk.srealm == "" {
		tk.srealm = testRealm
	}
	if tk.etype == 0 {
		tk.etype = etypeID.AES256_CTS_HMAC_SHA1_96
	}
	if tk.kvno == 0 {
		tk.kvno = 2
	}
	if tk.password == "" {
		tk.password = testPass
	}
	if tk.end == 0 {
		tk.end = time.Hour
	}
	return tk
}

// mint returns the base64 SPNEGO token a browser would send.
func mint(t testing.TB, tk ticket) string {
	t.Helper()
	tok, _, _ := mintSession(t, tk)
	return tok
}

// mintSession also returns the session key and the authenticator, to
// check the AP-REP with.
func mintSession(t testing.TB, tk ticket) (string, types.EncryptionKey, types.Authenticator) {
	t.Helper()
	tk = tk.withDefaults()
	kt := tk.keytab
	if kt == nil {
		kt = keytab.New()
		if err := kt.AddEntry(tk.sname, tk.srealm, tk.password, time.Now(), uint8(tk.kvno), tk.etype); err != nil {
			t.Fatal(err)
		}
	}
	sname, _ := types.ParseSPNString(tk.sname)
	skey, _, err := kt.GetEncryptionKey(sname, tk.srealm, tk.kvno, tk.etype)
	if err != nil {
		t.Fatal(err)
	}
	et, _ := crypto.GetEtype(tk.etype)
	session, err := types.GenerateEncryptionKey(et)
	if err != nil {
		t.Fatal(err)
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, tk.client)
	now := time.Now().UTC().Truncate(time.Second)
	etp := messages.EncTicketPart{
		Flags: types.NewKrbFlags(), Key: session, CRealm: tk.crealm, CName: cname,
		AuthTime: now, StartTime: now.Add(-time.Minute), EndTime: now.Add(tk.end), RenewTill: now.Add(tk.end),
	}
	if tk.pac != nil {
		inner, err := asn1.Marshal(types.AuthorizationData{{ADType: adtype.ADWin2KPAC, ADData: tk.pac}})
		if err != nil {
			t.Fatal(err)
		}
		etp.AuthorizationData = types.AuthorizationData{{ADType: adtype.ADIfRelevant, ADData: inner}}
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart), skey, keyusage.KDC_REP_TICKET, tk.kvno)
	if err != nil {
		t.Fatal(err)
	}
	tkt := messages.Ticket{TktVNO: 5, Realm: tk.srealm, SName: sname, EncPart: ed}
	auth, err := types.NewAuthenticator(tk.crealm, cname)
	if err != nil {
		t.Fatal(err)
	}
	auth.CTime = auth.CTime.Add(tk.skew)
	apreq, err := messages.NewAPReq(tkt, session, auth)
	if err != nil {
		t.Fatal(err)
	}
	if tk.mutual {
		types.SetFlag(&apreq.APOptions, flags.APOptionMutualRequired)
	}
	ab, err := apreq.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	k5 := asn1tools.AddASNAppTag(append(append(oid, 0x01, 0x00), ab...), 0)
	return spnegoInit(t, gssapi.OIDKRB5.OID(), k5), session, auth
}

func spnegoInit(t testing.TB, mech asn1.ObjectIdentifier, tok []byte) string {
	t.Helper()
	st := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{MechTypes: []asn1.ObjectIdentifier{mech}, MechTokenBytes: tok}}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// writeKeytab writes a keytab holding the SPN's key (kvno 2, AES256, and
// AES128 too) and returns its path.
func writeKeytab(t testing.TB, entries ...ticket) string {
	t.Helper()
	if len(entries) == 0 {
		entries = []ticket{{}, {etype: etypeID.AES128_CTS_HMAC_SHA1_96}}
	}
	kt := keytab.New()
	for _, e := range entries {
		e = e.withDefaults()
		if err := kt.AddEntry(e.sname, e.srealm, e.password, time.Now(), uint8(e.kvno), e.etype); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "http.keytab")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

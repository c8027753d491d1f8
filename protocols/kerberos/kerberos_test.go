package kerberos

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/test/testdata"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/fedgate/fedgate/broker/store"
	"github.com/fedgate/fedgate/protocols"
)

func open(t testing.TB, cfg Config) *Upstream {
	t.Helper()
	if cfg.ID == "" {
		cfg.ID = "corp-windows"
	}
	if cfg.Keytab == "" {
		cfg.Keytab = writeKeytab(t)
	}
	if cfg.ServicePrincipal == "" {
		cfg.ServicePrincipal = testSPN + "@" + testRealm
	}
	if cfg.Networks == nil {
		cfg.Networks = []string{"intranet", "192.0.2.7"}
	}
	u, err := Open(cfg, Deps{Network: func(name string) ([]netip.Prefix, bool) {
		if name == "intranet" {
			return []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, true
		}
		return nil, false
	}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// claims is the replay check of the tests that do not look at it: one
// store, as the broker gives a fleet.
var claims = store.NewMemory(time.Now)

func negotiate(u *Upstream, token string) (protocols.Identity, string, error) {
	return negotiateWith(u, token, claims.Claim)
}

func negotiateWith(u *Upstream, token string, claim protocols.ClaimFunc) (protocols.Identity, string, error) {
	r := httptest.NewRequest("GET", "/login", nil)
	if token != "" {
		r.Header.Set("Authorization", "Negotiate "+token)
	}
	return u.Negotiate(context.Background(), r, claim)
}

func reasonOf(err error) string {
	var ne *protocols.NegotiateError
	if errors.As(err, &ne) {
		return ne.Reason
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func TestNegotiateDeclines(t *testing.T) {
	u := open(t, Config{})
	replayed := mint(t, ticket{})
	if _, _, err := negotiate(u, replayed); err != nil {
		t.Fatalf("first use of a token: %v", err)
	}
	ntlmInSPNEGO := spnegoInit(t, oidNTLM, []byte("NTLMSSP\x00\x01\x00\x00\x00"))
	tests := []struct {
		name, token, reason string
	}{
		{"a raw NTLM token", "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==", "ntlm"},
		{"NTLM inside SPNEGO", ntlmInSPNEGO, "ntlm"},
		{"a ticket for another service principal", mint(t, ticket{sname: "HTTP/other.corp.example"}), "wrong-spn"},
		{"a ticket of another realm's service", mint(t, ticket{srealm: "OTHER.EXAMPLE"}), "wrong-spn"},
		{"an expired ticket", mint(t, ticket{end: -time.Hour}), "expired"},
		{"a client clock 10 minutes slow", mint(t, ticket{skew: -10 * time.Minute}), "clock-skew"},
		{"a client clock 10 minutes fast", mint(t, ticket{skew: 10 * time.Minute}), "clock-skew"},
		{"a replayed authenticator", replayed, "replay"},
		{"an RC4 ticket for an AES-only keytab", mint(t, ticket{etype: etypeID.RC4_HMAC}), "enctype"},
		{"a newer key version than the keytab", mint(t, ticket{kvno: 3}), "kvno"},
		{"the account's password changed, same kvno", mint(t, ticket{password: "new-password"}), "bad-key"},
		{"a user of another realm", mint(t, ticket{crealm: "OTHER.EXAMPLE"}), "foreign-realm"},
		{"not base64", "%%%", "malformed"},
		{"base64 of nonsense", base64.StdEncoding.EncodeToString([]byte("hello")), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := negotiate(u, tt.token)
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason %q, want %q (err %v)", got, tt.reason, err)
			}
		})
	}
	if _, _, err := negotiate(u, ""); !errors.Is(err, protocols.ErrNoCredentials) {
		t.Errorf("no header: %v, want ErrNoCredentials", err)
	}
}

func TestIdentityMapping(t *testing.T) {
	tests := []struct {
		name                      string
		cfg                       Config
		client                    string
		mutual                    bool
		sub, username, email, pac string
	}{
		{"default: the realm in lower case", Config{}, "alice", false, "alice@CORP.EXAMPLE", "alice@corp.example", "", "none"},
		{"a username domain and an email domain; mutual authentication",
			Config{UsernameDomain: "corp.example.co.jp", EmailDomain: "example.co.jp"},
			"Bob", true, "Bob@CORP.EXAMPLE", "bob@corp.example.co.jp", "bob@example.co.jp", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := open(t, tt.cfg)
			tok, session, auth := mintSession(t, ticket{client: tt.client, mutual: tt.mutual})
			id, resp, err := negotiate(u, tok)
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != tt.sub || id.Username != tt.username || id.Email != tt.email || id.Upstream != "corp-windows" ||
				!slices.Equal(id.AMR, []string{"wia", "kerberos"}) || id.Claims["pac"] != tt.pac || len(id.Groups) != 0 {
				t.Errorf("identity %+v", id)
			}
			if (resp != "") != tt.mutual {
				t.Fatalf("mutual authentication token %q, asked for: %v", resp, tt.mutual)
			}
			if tt.mutual {
				checkAPRep(t, resp, session, auth)
			}
		})
	}
}

// checkAPRep does the client's side of mutual authentication: the AP-REP
// opens with the session key and echoes the authenticator's time.
func checkAPRep(t *testing.T, resp string, session types.EncryptionKey, auth types.Authenticator) {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		t.Fatal(err)
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(b); err != nil || !st.Resp || st.NegTokenResp.State() != spnego.NegStateAcceptCompleted {
		t.Fatalf("not an accept-completed NegTokenResp: %v", err)
	}
	var k5 spnego.KRB5Token
	if err := k5.Unmarshal(st.NegTokenResp.ResponseToken); err != nil || !k5.IsAPRep() {
		t.Fatalf("no AP-REP: %v", err)
	}
	plain, err := crypto.DecryptEncPart(k5.APRep.EncPart, session, keyusage.AP_REP_ENCPART)
	if err != nil {
		t.Fatal(err)
	}
	var enc messages.EncAPRepPart
	if err := enc.Unmarshal(plain); err != nil {
		t.Fatal(err)
	}
	if !enc.CTime.Equal(auth.CTime.Truncate(time.Second)) || enc.Cusec != auth.Cusec {
		t.Errorf("AP-REP time %v.%d, authenticator %v.%d", enc.CTime, enc.Cusec, auth.CTime, auth.Cusec)
	}
}

// adPAC is the AD-shaped PAC gokrb5 ships (testuser1 of TEST.GOKRB5), with
// the keytab of the service it was made for.
func adPAC(t *testing.T) ([]byte, *keytab.Keytab) {
	t.Helper()
	pac, err := hex.DecodeString(testdata.MarshaledPAC_AD_WIN2K_PAC)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := hex.DecodeString(testdata.KEYTAB_SYSHTTP_TEST_GOKRB5)
	kt := keytab.New()
	if err := kt.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	return pac, kt
}

func TestGroupsFromPAC(t *testing.T) {
	pac, kt := adPAC(t)
	ktPath := writeKeytabFrom(t, kt)
	const domain = "S-1-5-21-3167651404-3865080224-2280184895"
	table := map[string]string{domain + "-513": "domain-users", domain + "-1108": "staff", domain + "-1116": "staff",
		"S-1-5-21-1-2-3-4": "never"}
	garbage := append([]byte(nil), pac...)
	garbage[0] = 0xff // the buffer count: a PAC that does not decode
	sysHTTP := ticket{client: "testuser1", crealm: "TEST.GOKRB5", sname: "sysHTTP", srealm: "TEST.GOKRB5", kvno: 2,
		etype: etypeID.AES256_CTS_HMAC_SHA1_96, keytab: kt}
	tests := []struct {
		name    string
		pac     []byte
		require bool
		groups  []string
		state   string
		reason  string
	}{
		{"AD PAC: mapped groups, unknown SIDs ignored", pac, false, []string{"domain-users", "staff"}, "read", ""},
		{"no PAC: no groups, said so", nil, false, nil, "none", ""},
		{"no PAC when groups are required", nil, true, nil, "", "pac"},
		{"a PAC that does not decode: sign-in without groups", garbage, false, nil, "unreadable", ""},
		{"a PAC that does not decode when groups are required", garbage, true, nil, "", "pac"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := open(t, Config{Keytab: ktPath, ServicePrincipal: "sysHTTP@TEST.GOKRB5", Groups: table, RequireGroups: tt.require})
			tk := sysHTTP
			tk.pac = tt.pac
			id, _, err := negotiate(u, mint(t, tk))
			if got := reasonOf(err); got != tt.reason {
				t.Fatalf("reason %q, want %q", got, tt.reason)
			}
			if err != nil {
				return
			}
			if !slices.Equal(id.Groups, tt.groups) || id.Claims["pac"] != tt.state {
				t.Errorf("groups %v pac %q, want %v %q", id.Groups, id.Claims["pac"], tt.groups, tt.state)
			}
			if tt.state == "read" && id.DisplayName == "" {
				t.Error("no display name from the PAC")
			}
		})
	}
}

func writeKeytabFrom(t *testing.T, kt *keytab.Keytab) string {
	t.Helper()
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := t.TempDir() + "/sys.keytab"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOffersTo(t *testing.T) {
	tests := []struct {
		name   string
		uas    []string
		addr   string
		ua     string
		offers bool
	}{
		{"a named network", nil, "10.1.2.3", "curl/8", true},
		{"an IPv4-mapped address in a named network", nil, "::ffff:10.1.2.3", "curl/8", true},
		{"a single address", nil, "192.0.2.7", "curl/8", true},
		{"outside the intranet", nil, "203.0.113.9", "Mozilla/5.0 (Windows NT 10.0) Edg/120", false},
		{"a listed browser", []string{"windows nt", "Edg/"}, "10.1.2.3", "Mozilla/5.0 (Windows NT 10.0) Edg/120", true},
		{"a browser not listed", []string{"Windows NT"}, "10.1.2.3", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := open(t, Config{UserAgents: tt.uas})
			if got := u.OffersTo(netip.MustParseAddr(tt.addr), tt.ua); got != tt.offers {
				t.Errorf("OffersTo = %v", got)
			}
		})
	}
}

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no networks", Config{Keytab: "k", ServicePrincipal: "HTTP/h@R"}, "networks is required"},
		{"no realm", Config{Keytab: "k", ServicePrincipal: "HTTP/h", Networks: []string{"10.0.0.0/8"}}, "realm is required"},
		{"no keytab", Config{ServicePrincipal: "HTTP/h@R", Networks: []string{"10.0.0.0/8"}}, "keytab is required"},
		{"an empty SPN component", Config{Keytab: "k", ServicePrincipal: "HTTP/@R", Networks: []string{"10.0.0.0/8"}}, "must be service/host"},
		{"a group that is no SID", Config{Keytab: "k", ServicePrincipal: "HTTP/h@R", Networks: []string{"10.0.0.0/8"},
			Groups: map[string]string{"Domain Users": "x"}}, "is not a SID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
	_, err := Open(Config{Keytab: writeKeytab(t), ServicePrincipal: "HTTP/other.corp.example@CORP.EXAMPLE", Networks: []string{"10.0.0.0/8"}}, Deps{})
	if err == nil || !strings.Contains(err.Error(), "has no key for HTTP/other.corp.example@CORP.EXAMPLE") {
		t.Errorf("Open with an SPN not in the keytab: %v", err)
	}
	_, err = Open(Config{Keytab: writeKeytab(t), ServicePrincipal: testSPN + "@" + testRealm, Networks: []string{"office"}}, Deps{})
	if err == nil || !strings.Contains(err.Error(), `"office" is neither`) {
		t.Errorf("Open with an unknown network: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	u := open(t, Config{Keytab: writeKeytab(t, ticket{}, ticket{etype: etypeID.RC4_HMAC}, ticket{sname: "host/sso.corp.example", kvno: 5})})
	got := strings.Join(u.Describe(), "\n")
	for _, want := range []string{
		"3 keys",
		"HTTP/sso.corp.example@CORP.EXAMPLE kvno 2: aes256-cts-hmac-sha1-96, arcfour-hmac (RC4, weak) (the service principal)",
		"host/sso.corp.example@CORP.EXAMPLE kvno 5: aes256-cts-hmac-sha1-96",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe() lacks %q:\n%s", want, got)
		}
	}
}

// TestReplayAcrossReplicas: the replay check is the shared store's, not
// the process's. Two replicas (two Upstreams) on one store: a token
// accepted at A is a replay at B. On two stores each accepts it once, so
// nothing in the process remembers it.
func TestReplayAcrossReplicas(t *testing.T) {
	a, b := open(t, Config{}), open(t, Config{})
	tok := mint(t, ticket{})
	shared := store.NewMemory(time.Now)
	if _, _, err := negotiateWith(a, tok, shared.Claim); err != nil {
		t.Fatalf("at A: %v", err)
	}
	if _, _, err := negotiateWith(b, tok, shared.Claim); reasonOf(err) != "replay" {
		t.Fatalf("at B on the same store: %v, want a replay", err)
	}
	if _, _, err := negotiateWith(b, tok, store.NewMemory(time.Now).Claim); err != nil {
		t.Fatalf("at B on its own store: %v, want accepted (nothing per process)", err)
	}
}

// TestReplayClaim: what the store is asked: a hashed key naming no user,
// kept twice the skew; a store that errors, or none, declines.
func TestReplayClaim(t *testing.T) {
	u := open(t, Config{ClockSkew: 3 * time.Minute})
	var key string
	var until time.Time
	spy := func(_ context.Context, k string, exp time.Time) (bool, error) {
		key, until = k, exp
		return true, nil
	}
	before := time.Now()
	if _, _, err := negotiateWith(u, mint(t, ticket{client: "alice"}), spy); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "krb:") || strings.Contains(strings.ToLower(key), "alice") || len(key) != len("krb:")+43 {
		t.Errorf("claim key %q: want krb: and a hash, no user name", key)
	}
	if d := until.Sub(before); d < 6*time.Minute || d > 6*time.Minute+time.Minute {
		t.Errorf("claimed for %s, want twice the skew (6m)", d)
	}
	down := func(context.Context, string, time.Time) (bool, error) { return true, errors.New("connection refused") }
	for name, claim := range map[string]protocols.ClaimFunc{"a store that errors": down, "no store": nil} {
		if id, _, err := negotiateWith(u, mint(t, ticket{}), claim); reasonOf(err) != "replay-check" || id.Subject != "" {
			t.Errorf("%s: %v %q, want declined (replay-check)", name, err, id.Subject)
		}
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(mint(f, ticket{}))
	f.Add("TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==")
	f.Add(base64.StdEncoding.EncodeToString([]byte{0x60, 0x82, 0x01, 0x00, 0x06, 0x06}))
	f.Fuzz(func(t *testing.T, tok string) {
		_, _, err := parseToken(tok)
		var ne *protocols.NegotiateError
		if err != nil && !errors.As(err, &ne) {
			t.Fatalf("a parse error that is not a decline: %v", err)
		}
	})
}

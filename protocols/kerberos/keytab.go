package kerberos

import (
	"fmt"
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

// keyEntry is one key of a keytab.
type keyEntry struct {
	Principal string // name/instance@REALM
	KVNO      uint32
	EType     int32
}

func keytabEntries(kt *keytab.Keytab) []keyEntry {
	out := make([]keyEntry, 0, len(kt.Entries))
	for _, e := range kt.Entries {
		out = append(out, keyEntry{Principal: strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm,
			KVNO: e.KVNO, EType: e.Key.KeyType})
	}
	return out
}

// entriesFor lists the keytab's keys for the service principal, matched
// exactly as gokrb5 looks keys up.
func entriesFor(kt *keytab.Keytab, spn types.PrincipalName, realm string) []keyEntry {
	want := spn.PrincipalNameString() + "@" + realm
	var out []keyEntry
	for _, e := range keytabEntries(kt) {
		if e.Principal == want {
			out = append(out, e)
		}
	}
	return out
}

// Describe is what fedgate check says about the keytab: each principal
// with its key versions and encryption types, and whether the configured
// service principal is among them.
func (u *Upstream) Describe() []string {
	type kv struct {
		p    string
		kvno uint32
	}
	etypes := map[kv][]string{}
	var order []kv
	for _, e := range keytabEntries(u.kt) {
		k := kv{e.Principal, e.KVNO}
		if etypes[k] == nil {
			order = append(order, k)
		}
		etypes[k] = append(etypes[k], etypeName(e.EType))
	}
	want := u.spn.PrincipalNameString() + "@" + u.realm
	lines := []string{fmt.Sprintf("keytab %s: %d keys", u.cfg.Keytab, len(u.kt.Entries))}
	found := false
	for _, k := range order {
		mark := ""
		if k.p == want {
			mark, found = " (the service principal)", true
		}
		lines = append(lines, fmt.Sprintf("  %s kvno %d: %s%s", k.p, k.kvno, strings.Join(etypes[k], ", "), mark))
	}
	if !found {
		lines = append(lines, "  the service principal "+want+" is NOT in the keytab")
	}
	return lines
}

// etypeNames are the names MIT's klist uses; others show as numbers.
var etypeNames = map[int32]string{
	etypeID.AES256_CTS_HMAC_SHA1_96: "aes256-cts-hmac-sha1-96", etypeID.AES128_CTS_HMAC_SHA1_96: "aes128-cts-hmac-sha1-96",
	etypeID.AES256_CTS_HMAC_SHA384_192: "aes256-cts-hmac-sha384-192", etypeID.AES128_CTS_HMAC_SHA256_128: "aes128-cts-hmac-sha256-128",
	etypeID.RC4_HMAC: "arcfour-hmac (RC4, weak)", etypeID.DES3_CBC_SHA1_KD: "des3-cbc-sha1 (weak)",
	etypeID.DES_CBC_CRC: "des-cbc-crc (weak)", etypeID.DES_CBC_MD5: "des-cbc-md5 (weak)",
	etypeID.CAMELLIA256_CTS_CMAC: "camellia256-cts-cmac", etypeID.CAMELLIA128_CTS_CMAC: "camellia128-cts-cmac",
}

func etypeName(id int32) string {
	if n, ok := etypeNames[id]; ok {
		return n
	}
	return fmt.Sprintf("etype %d", id)
}

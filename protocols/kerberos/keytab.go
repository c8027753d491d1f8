package kerberos

import (
	"fmt"
	"strings"
	"sync"
	"time"

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

// replayCache remembers authenticators (client, time) for twice the clock
// skew: within it, the same one again is a replay (RFC 4120 §3.2.3).
type replayCache struct {
	mu    sync.Mutex
	seen  map[string]bool
	queue []replayEntry // in the order seen, to forget the oldest first
}

type replayEntry struct {
	key   string
	until time.Time
}

// replays is shared by every kerberos upstream of the process, so a config
// reload (a new Upstream) does not forget what was seen. Replicas do not
// share it: a replay at another replica within the skew is not caught.
var replays = &replayCache{seen: map[string]bool{}}

// seen reports whether client's authenticator of time ct was seen, and
// records it until now+keep.
func (c *replayCache) check(client string, ct, now time.Time, keep time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && now.After(c.queue[0].until) {
		delete(c.seen, c.queue[0].key)
		c.queue = c.queue[1:]
	}
	key := client + " " + ct.UTC().Format(time.RFC3339Nano)
	if c.seen[key] {
		return true
	}
	c.seen[key] = true
	c.queue = append(c.queue, replayEntry{key, now.Add(keep)})
	return false
}

package policy

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// netCond holds when the client address is in any of the prefixes. Entries
// are CIDRs, single addresses (IPv4 or IPv6) or names defined under
// `networks:` in any policy file. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
// are unmapped on both sides, so 10.0.0.0/8 matches ::ffff:10.1.2.3.
//
//	when: { networks: [office, 192.168.0.0/16, "2001:db8::/32"] }
type netCond struct {
	prefixes []netip.Prefix
	text     string // the list as written
}

// looksLikeAddr tells an address apart from a network name: names start
// with a letter and contain no ':' or '/'.
func looksLikeAddr(s string) bool {
	return s != "" && (s[0] >= '0' && s[0] <= '9' || strings.ContainsAny(s, ":/"))
}

// prefix parses a CIDR or a single address into a prefix, IPv4-mapped IPv6
// folded to IPv4.
func (d *decoder) prefix(it item) (netip.Prefix, bool) {
	const hint = "write a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address"
	if strings.Contains(it.s, "/") {
		p, err := netip.ParsePrefix(it.s)
		if err != nil {
			d.problem(it.n, hint, "invalid CIDR %q", it.s)
			return netip.Prefix{}, false
		}
		if p != p.Masked() {
			d.problem(it.n, "did you mean "+p.Masked().String()+"?", "CIDR %q has host bits set", it.s)
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p, true
	}
	a, err := netip.ParseAddr(it.s)
	if err != nil || a.Zone() != "" {
		d.problem(it.n, hint, "invalid IP address %q", it.s)
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func (l *loader) networkCond(d *decoder, n ast.Node) (cond, bool) {
	items, ok := d.list(n, "networks")
	c := netCond{text: listText(items)}
	for _, it := range items {
		if looksLikeAddr(it.s) {
			p, good := d.prefix(it)
			c.prefixes = append(c.prefixes, p)
			ok = ok && good
			continue
		}
		def, known := l.networks[it.s]
		if !known {
			names := make([]string, 0, len(l.networks))
			for k := range l.networks {
				names = append(names, k)
			}
			slices.Sort(names)
			hint := suggest(it.s, names, "defined networks")
			if hint == "" {
				hint = "define it under `networks:` in any policy file, or write a CIDR"
			}
			d.problem(it.n, hint, "unknown network %q", it.s)
			ok = false
			continue
		}
		c.prefixes = append(c.prefixes, def.prefixes...)
	}
	return c, ok
}

func (c netCond) ok(e *env) bool {
	ip := e.in.ClientIP.Unmap().WithZone("")
	if !ip.IsValid() {
		return false
	}
	for _, p := range c.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (c netCond) why(b []byte, e *env) []byte {
	b = append(b, "networks: "...)
	if ip := e.in.ClientIP.Unmap().WithZone(""); ip.IsValid() {
		b = ip.AppendTo(b)
	} else {
		b = append(b, "no client IP"...)
	}
	b = append(b, " not in "...)
	return append(b, c.text...)
}

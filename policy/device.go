package policy

import (
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// deviceCond holds when the browser presented a device certificate that
// satisfies one of the listed device kinds (names under `devices:` in the
// fedgate config; the broker checks the certificate and puts the names that
// hold in Input.Devices). Names match exactly.
//
//	when: { device: [corp-pcs] }     # or device: corp-pcs
type deviceCond struct {
	names []string
	text  string
}

func (l *loader) deviceCond(d *decoder, n ast.Node) (cond, bool) {
	items, ok := d.list(n, "device")
	if !ok {
		return nil, false
	}
	c := deviceCond{text: listText(items)}
	for _, it := range items {
		c.names = append(c.names, it.s)
		l.devices = append(l.devices, it.s)
	}
	return c, true
}

func (c deviceCond) ok(e *env) bool {
	for _, n := range c.names {
		if slices.Contains(e.in.Devices, n) {
			return true
		}
	}
	return false
}

func (c deviceCond) why(b []byte, e *env) []byte {
	b = append(b, "device: "...)
	if len(e.in.Devices) == 0 {
		b = append(b, "none"...)
	} else {
		for i, n := range e.in.Devices {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, n...)
		}
	}
	b = append(b, " not in "...)
	return append(b, c.text...)
}

// Devices names the device kinds p's conditions refer to, in order of
// appearance (nil when none: the broker need not ask for a certificate).
func (p *Policy) Devices() []string { return p.devices }

// Devices names every device kind the set's policies refer to (for the
// config to check that each is defined).
func (s *Set) Devices() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, name := range s.Names() {
		for _, d := range s.policies[name].devices {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

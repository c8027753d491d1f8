package policy

import (
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// authCond holds when the user authenticated with any of the listed methods
// (AMR values, case-insensitive) and, if max_age is set, no longer than
// max_age before Now (exactly max_age still holds). Unlike `allow: { mfa }`,
// a failed auth condition just moves on to the next rule; it never asks for
// a step-up.
//
//	when: { auth: { amr: [mfa, hwk], max_age: 1h } }
type authCond struct {
	amr     []string // lowercased; nil = any method
	amrText string
	maxAge  time.Duration // 0 = no limit
}

func (d *decoder) authCond(n ast.Node) (cond, bool) {
	fs, ok := d.fields(n, "auth", []string{"amr", "max_age"})
	var c authCond
	for _, f := range fs {
		if f.key == "max_age" {
			var good bool
			c.maxAge, good = d.duration(f.value, "auth.max_age")
			ok = ok && good
			continue
		}
		items, good := d.list(f.value, "auth.amr")
		ok = ok && good
		for _, it := range items {
			c.amr = append(c.amr, strings.ToLower(it.s))
		}
		c.amrText = listText(items)
	}
	if ok && len(fs) == 0 {
		d.problem(n, "add amr: [...] and/or max_age: ...", "auth needs amr or max_age")
		ok = false
	}
	return c, ok
}

func (c authCond) amrOK(in *Input) bool { return c.amr == nil || hasMethod(in, c.amr) }

func (c authCond) ok(e *env) bool {
	return c.amrOK(&e.in) && (c.maxAge == 0 || methodFresh(&e.in, c.amr, c.maxAge))
}

func (c authCond) why(b []byte, e *env) []byte {
	b = append(b, "auth: "...)
	if !c.amrOK(&e.in) {
		b = append(b, "amr ["...)
		for i, m := range slices.Concat(e.in.AMR, e.in.LocalAMR) {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, m...)
		}
		b = append(b, "] has none of "...)
		return append(b, c.amrText...)
	}
	t := lastProved(&e.in, c.amr)
	if !known(t) {
		return append(b, "no auth time"...)
	}
	b = append(b, "authenticated "...)
	b = append(b, e.in.Now.Sub(t).String()...)
	b = append(b, " ago, max_age "...)
	return append(b, c.maxAge.String()...)
}

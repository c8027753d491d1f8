package policy

import (
	"fmt"
	"slices"

	"github.com/goccy/go-yaml/ast"
)

// idCond holds when an identifier of the request (the upstream or the app,
// both ids from the fedgate config) is listed. Ids match exactly.
//
//	when: { upstreams: [corp-adfs, corp-windows] }
type idCond struct {
	what string // "upstreams" or "apps"
	set  map[string]struct{}
	text string
}

// upstreams holds when the user signed in through one of the listed
// upstream ids.
func (d *decoder) upstreams(n ast.Node) (cond, bool) { return d.idSet(n, "upstreams") }

func (d *decoder) idSet(n ast.Node, what string) (cond, bool) {
	items, ok := d.list(n, what)
	if !ok {
		return nil, false
	}
	c := idCond{what: what, set: make(map[string]struct{}, len(items)), text: listText(items)}
	for _, it := range items {
		c.set[it.s] = struct{}{}
		line, col := pos(it.n)
		d.refs = append(d.refs, idRef{what: what, id: it.s, at: Problem{File: d.file, Line: line, Col: col}})
	}
	return c, true
}

func (c idCond) value(in *Input) string {
	if c.what == "apps" {
		return in.App
	}
	return in.Upstream
}

func (c idCond) ok(e *env) bool {
	_, ok := c.set[c.value(&e.in)]
	return ok
}

func (c idCond) why(b []byte, e *env) []byte {
	b = append(b, c.what...)
	b = append(b, ": "...)
	if v := c.value(&e.in); v != "" {
		b = append(b, v...)
	} else {
		b = append(b, "none"...)
	}
	b = append(b, " not in "...)
	return append(b, c.text...)
}

// idRef is an upstream or app id a rule names, and where.
type idRef struct {
	what, id string
	at       Problem
}

// Unknown returns a warning for every upstream or app id that a rule names
// but the config does not define: such a condition can never hold, which
// is almost always a typo (the policy files cannot know the config's ids,
// so the config asks).
func (s *Set) Unknown(upstreams, apps []string) []*Problem {
	if s == nil {
		return nil
	}
	var out []*Problem
	for _, r := range s.refs {
		known := upstreams
		if r.what == "apps" {
			known = apps
		}
		if slices.Contains(known, r.id) {
			continue
		}
		p := r.at
		p.Msg = fmt.Sprintf("%s: %q is not defined in the config, so this condition never holds", r.what, r.id)
		p.Hint = suggest(r.id, known, r.what+" in the config")
		out = append(out, &p)
	}
	return out
}

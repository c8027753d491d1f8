package policy

import "github.com/goccy/go-yaml/ast"

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

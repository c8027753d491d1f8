package policy

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// groupsCond holds when the user is in any of anyOf and in all of allOf,
// ignoring case. A plain list means any_of.
//
//	when: { groups: [staff, contractors] }
//	when: { groups: { all_of: [admins, tier0] } }
type groupsCond struct {
	anyOf   map[string]struct{} // lowercased; nil = no any_of
	allOf   []string            // lowercased
	anyText string
	allText string
}

func (d *decoder) groups(n ast.Node) (cond, bool) {
	if !isMapping(n) {
		items, ok := d.list(n, "groups")
		if !ok {
			return nil, false
		}
		return groupsCond{anyOf: lowerSet(items), anyText: listText(items)}, true
	}
	fs, ok := d.fields(n, "groups", []string{"any_of", "all_of"})
	var c groupsCond
	for _, f := range fs {
		items, good := d.list(f.value, "groups."+f.key)
		if !good {
			ok = false
			continue
		}
		if f.key == "any_of" {
			c.anyOf, c.anyText = lowerSet(items), listText(items)
			continue
		}
		for _, it := range items {
			c.allOf = append(c.allOf, strings.ToLower(it.s))
		}
		c.allText = listText(items)
	}
	if ok && len(fs) == 0 {
		d.problem(n, "use { any_of: [...] } or { all_of: [...] }", "groups needs any_of or all_of")
		ok = false
	}
	return c, ok
}

func (c groupsCond) ok(e *env) bool { return c.missing(e) == "" && c.anyOK(e) }

func (c groupsCond) anyOK(e *env) bool {
	if c.anyOf == nil {
		return true
	}
	for _, g := range e.lowerGroups() {
		if _, ok := c.anyOf[g]; ok {
			return true
		}
	}
	return false
}

// missing returns the first all_of group the user is not in, or "".
func (c groupsCond) missing(e *env) string {
	have := e.lowerGroups()
	for _, g := range c.allOf {
		if _, found := slices.BinarySearch(have, g); !found {
			return g
		}
	}
	return ""
}

func (c groupsCond) why(b []byte, e *env) []byte {
	if !c.anyOK(e) {
		b = append(b, "groups: in none of "...)
		return append(b, c.anyText...)
	}
	b = append(b, "groups: not in "...)
	b = append(b, c.missing(e)...)
	b = append(b, " (all_of "...)
	b = append(b, c.allText...)
	return append(b, ')')
}

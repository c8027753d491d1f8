package policy

import (
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// maxDepth bounds how deeply not/any/all may nest.
const maxDepth = 16

// allOf holds when every condition holds; an empty allOf always holds. It is
// a rule's `when` and each alternative of any/all/not.
type allOf []cond

func (a allOf) ok(e *env) bool {
	for _, c := range a {
		if !c.ok(e) {
			return false
		}
	}
	return true
}

func (a allOf) why(b []byte, e *env) []byte {
	for _, c := range a {
		if !c.ok(e) {
			return c.why(b, e)
		}
	}
	return b
}

// notCond holds when its conditions do not all hold.
type notCond struct {
	inner allOf
	keys  string // the inner condition names, for messages
}

func (n notCond) ok(e *env) bool { return !n.inner.ok(e) }

func (n notCond) why(b []byte, _ *env) []byte {
	b = append(b, "not: "...)
	b = append(b, n.keys...)
	return append(b, " matched"...)
}

// anyCond holds when at least one alternative holds.
type anyCond []allOf

func (a anyCond) ok(e *env) bool {
	for _, c := range a {
		if c.ok(e) {
			return true
		}
	}
	return false
}

func (a anyCond) why(b []byte, e *env) []byte {
	b = append(b, "any: none matched ("...)
	for i, c := range a {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = c.why(b, e)
	}
	return append(b, ')')
}

// compileWhen compiles a condition map: every listed condition must hold.
func (l *loader) compileWhen(d *decoder, n ast.Node, depth int) allOf {
	if depth > maxDepth {
		d.problem(n, "flatten the conditions", "conditions nested more than %d deep", maxDepth)
		return nil
	}
	fs, _ := d.fields(n, "when", []string{"users", "groups", "upstreams", "apps", "claims", "networks", "time", "auth", "device", "not", "any", "all"})
	out := make(allOf, 0, len(fs))
	add := func(c cond, ok bool) {
		if ok {
			out = append(out, c)
		}
	}
	for _, f := range fs {
		switch f.key {
		case "users":
			add(d.users(f.value))
		case "groups":
			add(d.groups(f.value))
		case "upstreams":
			add(d.upstreams(f.value))
		case "apps":
			add(d.apps(f.value))
		case "claims":
			add(d.claims(f.value))
		case "networks":
			add(l.networkCond(d, f.value))
		case "time":
			add(d.timeCond(f.value))
		case "auth":
			add(d.authCond(f.value))
		case "device":
			add(l.deviceCond(d, f.value))
		case "not":
			inner := l.compileWhen(d, f.value, depth+1)
			if len(inner) == 0 {
				d.problem(f.keyN, "give `not` at least one condition", "not: {} never matches")
				continue
			}
			out = append(out, notCond{inner: inner, keys: keyList(f.value)})
		case "any":
			var alts anyCond
			items, _ := d.seq(f.value, "any")
			for _, it := range items {
				alt := l.compileWhen(d, it, depth+1)
				if len(alt) == 0 {
					d.problem(it, "remove it, or remove `any` (an empty alternative always matches)", "empty alternative in any")
					continue
				}
				alts = append(alts, alt)
			}
			add(alts, len(alts) > 0)
		case "all":
			items, _ := d.seq(f.value, "all")
			for _, it := range items {
				out = append(out, l.compileWhen(d, it, depth+1)...)
			}
		}
	}
	return out
}

// keyList renders the keys of a condition map as "{users, networks}".
func keyList(n ast.Node) string {
	var pairs []*ast.MappingValueNode
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		pairs = v.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{v}
	}
	keys := make([]string, 0, len(pairs))
	for _, p := range pairs {
		if s, ok := scalar(p.Key); ok {
			keys = append(keys, s)
		}
	}
	return "{" + strings.Join(keys, ", ") + "}"
}

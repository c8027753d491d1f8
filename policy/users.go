package policy

import "github.com/goccy/go-yaml/ast"

// usersCond holds when the user name is listed, ignoring case.
//
//	when: { users: [alice@corp.example, bob@corp.example] }
type usersCond struct {
	set  map[string]struct{} // lowercased
	text string
}

func (d *decoder) users(n ast.Node) (cond, bool) {
	items, ok := d.list(n, "users")
	if !ok {
		return nil, false
	}
	return usersCond{set: lowerSet(items), text: listText(items)}, true
}

func (c usersCond) ok(e *env) bool {
	_, ok := c.set[e.lowerUser()]
	return ok
}

func (c usersCond) why(b []byte, e *env) []byte {
	b = append(b, "users: "...)
	if e.in.User == "" {
		b = append(b, "no user"...)
	} else {
		b = append(b, e.in.User...)
	}
	b = append(b, " not in "...)
	return append(b, c.text...)
}

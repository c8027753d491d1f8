package policy

import "github.com/goccy/go-yaml/ast"

// apps holds when the request is for one of the listed app ids (the `id` of
// an entry under `apps:` in the fedgate config), matched exactly. A policy is
// usually attached to apps by the config already; `apps` lets a policy shared
// by several apps treat one of them differently.
//
//	when: { apps: [wiki, salesforce] }
func (d *decoder) apps(n ast.Node) (cond, bool) { return d.idSet(n, "apps") }

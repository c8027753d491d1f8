package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// decoder walks one file's YAML AST and records Problems with exact
// positions. Every method reports what it cannot use and returns what it can,
// so one pass finds all mistakes.
type decoder struct {
	file  string
	probs []*Problem
	refs  []idRef // the upstream and app ids rules name, for Set.Unknown
}

func (d *decoder) problem(n ast.Node, hint, format string, args ...any) {
	line, col := pos(n)
	d.probs = append(d.probs, &Problem{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...), Hint: hint})
}

// pos returns the 1-based line and column where n starts.
func pos(n ast.Node) (int, int) {
	switch v := n.(type) {
	case nil:
		return 0, 0
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return pos(v.Values[0])
		}
	case *ast.MappingValueNode:
		return pos(v.Key)
	case *ast.DocumentNode:
		if v.Start == nil {
			return pos(v.Body)
		}
		return v.Start.Position.Line, v.Start.Position.Column
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

// unwrap strips tags and anchors, which carry no meaning for policy.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.TagNode:
			if v.Value == nil {
				return n
			}
			n = v.Value
		case *ast.AnchorNode:
			if v.Value == nil {
				return n
			}
			n = v.Value
		default:
			return n
		}
	}
}

func isNull(n ast.Node) bool {
	_, ok := unwrap(n).(*ast.NullNode)
	return n == nil || ok
}

// isMapping reports whether n is a mapping.
func isMapping(n ast.Node) bool {
	switch unwrap(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// isEmptyMap reports whether n is null or {}.
func isEmptyMap(n ast.Node) bool {
	m, ok := unwrap(n).(*ast.MappingNode)
	return isNull(n) || ok && len(m.Values) == 0
}

// field is one key/value pair of a mapping whose key is known.
type field struct {
	key   string
	keyN  ast.Node
	value ast.Node
}

// fields returns the pairs of mapping n, reporting a non-mapping, unknown
// keys (with a did-you-mean hint) and duplicate keys. what names the mapping
// in messages, e.g. "rule"; known == nil accepts any key. A null value is an
// empty mapping.
func (d *decoder) fields(n ast.Node, what string, known []string) ([]field, bool) {
	n = unwrap(n)
	var pairs []*ast.MappingValueNode
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return nil, true
	case *ast.MappingNode:
		pairs = v.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{v}
	case *ast.AliasNode:
		d.problem(n, "repeat the value, or define a named network under networks:", "YAML aliases are not supported")
		return nil, false
	default:
		d.problem(n, "write it as key: value pairs", "%s must be a mapping, not %s", what, kind(n))
		return nil, false
	}
	out := make([]field, 0, len(pairs))
	seen := make(map[string]bool, len(pairs))
	ok := true
	for _, p := range pairs {
		if p == nil || p.Key == nil {
			continue
		}
		key, isScalar := scalar(p.Key)
		switch {
		case !isScalar || p.Key.IsMergeKey():
			d.problem(p.Key, "", "%s keys must be plain words", what)
			ok = false
			continue
		case known != nil && !slices.Contains(known, key):
			d.problem(p.Key, suggest(key, known, "known keys"), "unknown key %q in %s", key, what)
			ok = false
			continue
		case seen[key]:
			d.problem(p.Key, "remove one of them", "duplicate key %q in %s", key, what)
			ok = false
			continue
		}
		seen[key] = true
		out = append(out, field{key: key, keyN: p.Key, value: p.Value})
	}
	return out, ok
}

// scalar returns the text of a scalar node.
func scalar(n ast.Node) (string, bool) {
	switch v := unwrap(n).(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tk := v.GetToken(); tk != nil {
			return tk.Value, true
		}
	}
	return "", false
}

// kind names a node's type for messages.
func kind(n ast.Node) string {
	switch unwrap(n).(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.NullNode, nil:
		return "empty"
	case *ast.AliasNode:
		return "an alias"
	}
	return "a single value"
}

// str decodes a non-empty scalar.
func (d *decoder) str(n ast.Node, what string) (string, bool) {
	s, ok := scalar(n)
	if !ok {
		d.problem(n, "", "%s must be a single value, not %s", what, kind(n))
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		d.problem(n, "", "%s must not be empty", what)
		return "", false
	}
	return s, true
}

// item is one entry of a list, with its node for positions.
type item struct {
	s string
	n ast.Node
}

// list decodes a non-empty list of scalars; a single scalar is a list of one.
func (d *decoder) list(n ast.Node, what string) ([]item, bool) {
	n = unwrap(n)
	if s, ok := scalar(n); ok {
		if strings.TrimSpace(s) == "" {
			d.problem(n, "", "%s must not be empty", what)
			return nil, false
		}
		return []item{{s, n}}, true
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		d.problem(n, "write a list, e.g. [a, b]", "%s must be a list, not %s", what, kind(n))
		return nil, false
	}
	if len(seq.Values) == 0 {
		d.problem(n, "remove the condition, or list at least one entry", "%s is an empty list and can never match", what)
		return nil, false
	}
	out := make([]item, 0, len(seq.Values))
	ok := true
	for _, v := range seq.Values {
		s, isScalar := scalar(v)
		if !isScalar || strings.TrimSpace(s) == "" {
			d.problem(v, "", "%s entries must be single values, not %s", what, kind(v))
			ok = false
			continue
		}
		out = append(out, item{s, v})
	}
	return out, ok && len(out) > 0
}

// seq returns the entries of a list node.
func (d *decoder) seq(n ast.Node, what string) ([]ast.Node, bool) {
	s, ok := unwrap(n).(*ast.SequenceNode)
	if !ok {
		d.problem(n, "write a list, e.g. [{...}, {...}]", "%s must be a list, not %s", what, kind(n))
		return nil, false
	}
	if len(s.Values) == 0 {
		d.problem(n, "", "%s is an empty list", what)
		return nil, false
	}
	return s.Values, true
}

// duration decodes a positive Go duration such as "12h" or "90m".
func (d *decoder) duration(n ast.Node, what string) (time.Duration, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.problem(n, "use a positive duration like 30m, 12h or 1h30m (no days: write 168h for 7d)", "%s: invalid duration %q", what, s)
		return 0, false
	}
	return v, true
}

// message decodes { en: ..., ja: ... }.
func (d *decoder) message(n ast.Node) (Message, bool) {
	fs, ok := d.fields(n, "message", []string{"en", "ja"})
	var m Message
	for _, f := range fs {
		s, good := d.str(f.value, "message."+f.key)
		ok = ok && good
		if f.key == "en" {
			m.En = s
		} else {
			m.Ja = s
		}
	}
	return m, ok
}

// listText renders list entries as written: "[a, b]".
func listText(items []item) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(it.s)
	}
	b.WriteByte(']')
	return b.String()
}

// lowerSet returns the entries lowercased, as a set.
func lowerSet(items []item) map[string]struct{} {
	m := make(map[string]struct{}, len(items))
	for _, it := range items {
		m[strings.ToLower(it.s)] = struct{}{}
	}
	return m
}

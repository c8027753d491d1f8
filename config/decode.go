package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Problem is one thing wrong with a config file, with where it is and, when
// we can guess, a hint.
type Problem struct {
	File      string
	Line, Col int
	Msg, Hint string
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Col, p.Msg)
	if p.Hint != "" {
		s += " (hint: " + p.Hint + ")"
	}
	return s
}

// problemAt makes a Problem positioned at node n.
func problemAt(file string, n ast.Node, hint, format string, args ...any) *Problem {
	p := &Problem{File: file, Msg: fmt.Sprintf(format, args...), Hint: hint}
	if mv, ok := n.(*ast.MappingValueNode); ok {
		n = mv.Key // "key: value" points at its key, not at the colon
	}
	if n != nil && n.GetToken() != nil {
		p.Line, p.Col = n.GetToken().Position.Line, n.GetToken().Position.Column
	}
	return p
}

// Block is a config section owned by another package (an upstream type): its
// id and type are known here, the rest is decoded by the owner with Decode.
type Block struct {
	ID      string
	Type    string
	Name    string   // shown on the chooser
	Domains []string // email domains routed here by home-realm discovery
	File    string
	Dir     string // directory of File, for relative paths inside the block
	node    ast.Node
}

// UnmarshalYAML keeps the raw node; Load fills in File and Dir.
func (b *Block) UnmarshalYAML(node ast.Node) error {
	var head struct {
		ID      string   `yaml:"id"`
		Type    string   `yaml:"type"`
		Name    string   `yaml:"name"`
		Domains []string `yaml:"domains"`
	}
	// The owner checks keys strictly; here only the shared head is read.
	if err := yaml.NodeToValue(node, &head); err != nil {
		return err
	}
	b.ID, b.Type, b.Name, b.Domains, b.node = head.ID, head.Type, head.Name, head.Domains, node
	return nil
}

// Decode decodes the block strictly into v (a pointer to the owner's config
// struct, which must declare the id and type keys too) and returns every
// problem, positioned.
func (b Block) Decode(v any) error {
	return decodeStrict(b.File, b.node, v)
}

// Pos reports where the block starts, for problems found after decoding.
func (b Block) Pos(format string, args ...any) *Problem {
	return problemAt(b.File, b.node, "", format, args...)
}

// decodeStrict reports every unknown key (walking the node against v's type),
// then decodes. Type errors stop the decoder, so callers decode section by
// section to find more than one.
func decodeStrict(file string, n ast.Node, v any) error {
	var errs []error
	checkKeys(file, n, reflect.TypeOf(v), &errs)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := yaml.NodeToValue(n, v); err != nil {
		p := yamlProblem(file, err)
		if p.Line == 0 {
			// Errors from value parsers (durations, addresses) carry no
			// position: find the value they quote, else use the section's.
			at := problemAt(file, quotedValue(n, err.Error()), "", "")
			p.Line, p.Col = at.Line, at.Col
		}
		return p
	}
	return nil
}

// yamlProblem turns a go-yaml error into a positioned Problem.
func yamlProblem(file string, err error) *Problem {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tk := ye.GetToken()
		if tk.Type == token.MappingValueType && tk.Next != nil {
			tk = tk.Next // point at the offending value, not at "key:"'s colon
		}
		pos := tk.Position
		return &Problem{File: file, Line: pos.Line, Col: pos.Column, Msg: ye.GetMessage()}
	}
	return &Problem{File: file, Msg: err.Error()}
}

var (
	nodeUnmarshaler = reflect.TypeOf((*yaml.NodeUnmarshaler)(nil)).Elem()
	textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// checkKeys walks n against type t and appends a Problem per unknown key,
// with a did-you-mean from the keys that struct does know.
func checkKeys(file string, n ast.Node, t reflect.Type, errs *[]error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(nodeUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return
	}
	switch n := unwrap(n).(type) {
	case *ast.MappingNode:
		for _, kv := range n.Values {
			checkEntry(file, kv, t, errs)
		}
	case *ast.MappingValueNode:
		checkEntry(file, n, t, errs)
	case *ast.SequenceNode:
		if t.Kind() == reflect.Slice {
			for _, e := range n.Values {
				checkKeys(file, e, t.Elem(), errs)
			}
		}
	}
}

func checkEntry(file string, kv *ast.MappingValueNode, t reflect.Type, errs *[]error) {
	key := kv.Key.String()
	switch t.Kind() {
	case reflect.Map:
		checkKeys(file, kv.Value, t.Elem(), errs)
	case reflect.Struct:
		fields := yamlFields(t)
		ft, ok := fields[key]
		if !ok {
			*errs = append(*errs, problemAt(file, kv.Key, didYouMean(key, fields),
				"unknown key %q", key))
			return
		}
		checkKeys(file, kv.Value, ft, errs)
	}
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.DocumentNode:
			n = v.Body
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// yamlFields maps a struct's YAML keys to field types (fields tagged "-" are
// not keys).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlName(f); name != "-" && f.IsExported() {
			m[name] = f.Type
		}
	}
	return m
}

// yamlName is the key a struct field decodes from.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

// didYouMean suggests the known key closest to key, if it is close.
func didYouMean(key string, known map[string]reflect.Type) string {
	best, bestD := "", len(key)/2+2
	for k := range known {
		if d := levenshtein(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("did you mean %q?", best)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// DecodeFile strictly decodes a whole YAML file (such as a users file) into v,
// with the same positioned problems as the main config.
func DecodeFile(path string, v any) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return yamlProblem(path, err)
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return &Problem{File: path, Line: 1, Col: 1, Msg: "expected one YAML document"}
	}
	return decodeStrict(path, f.Docs[0].Body, v)
}

// quotedValue finds the scalar under n whose text the message quotes, or n.
func quotedValue(n ast.Node, msg string) ast.Node {
	_, rest, ok := strings.Cut(msg, `"`)
	quoted, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 {
		return n
	}
	found := n
	ast.Walk(visitFunc(func(c ast.Node) bool {
		if _, scalar := c.(ast.ScalarNode); scalar && c.GetToken() != nil && c.GetToken().Value == quoted {
			found = c
			return false
		}
		return true
	}), n)
	return found
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

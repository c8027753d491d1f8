package adfs

import (
	"fmt"
	"strings"
)

// The ADFS claim rule language, as Microsoft's "The Role of the Claim Rule
// Language" describes it (keywords are case-insensitive):
//
//	rules      = { rule } EOF
//	rule       = { "@" name "=" string } [ conditions ] "=>" action ";"
//	conditions = condition { "&&" condition }
//	condition  = [ var ":" ] selector
//	           | [ "NOT" ] "EXISTS" "(" selector ")"
//	selector   = "[" [ test { "," test } ] "]"
//	test       = property ( "==" | "!=" | "=~" | "!~" ) string
//	action     = ( "issue" | "add" ) "(" ( "claim" "=" var | store | fields ) ")"
//	store      = "store" "=" string "," "types" "=" "(" string { "," string } ")"
//	             "," "query" "=" string { "," "param" "=" expr }
//	fields     = field { "," field }
//	field      = ( property | "Properties" "[" string "]" ) "=" expr
//	expr       = term { "+" term }
//	term       = string | var "." property | name "(" [ expr { "," expr } ] ")"

// Rule is one parsed claim rule.
type Rule struct {
	Pos  Pos
	Text string // the rule as written, for the report
	// Annotations: RuleTemplate, RuleName, and whatever else was written.
	Annotations map[string]string
	Conds       []Cond
	Action      Action
}

// Cond is one condition: a claim selector, bound to Var when named, or an
// EXISTS / NOT EXISTS test.
type Cond struct {
	Pos    Pos
	Var    string
	Exists bool
	Not    bool
	Tests  []Test
}

// Test is one comparison inside a selector. Prop is canonical: Type,
// Value, Issuer, OriginalIssuer or ValueType.
type Test struct {
	Pos   Pos
	Prop  string
	Op    string
	Value string
}

// Action is what a rule does: issue (to the output) or add (to the
// pipeline only), of a copied claim, of a store query, or of fields.
type Action struct {
	Pos    Pos
	Verb   string // issue or add
	Copy   string // issue(claim = c): the variable
	Store  *StoreQuery
	Fields []Field
}

// StoreQuery is store = …, types = (…), query = …, param = ….
type StoreQuery struct {
	Store  string
	Types  []string
	Query  string
	Params []Expr
}

// Field is Type = …, Value = …, or Properties["key"] = ….
type Field struct {
	Name string // canonical property name, or Properties
	Key  string // the Properties key
	Expr Expr
}

// Expr is a concatenation of terms.
type Expr []Term

// Term is a literal, a reference to a variable's property, or a function
// call (RegexReplace, …).
type Term struct {
	Lit   *string
	Var   string
	Prop  string
	Func  string
	Args  []Expr
	Where Pos
}

// properties are the claim properties, by their lowercase spelling.
var properties = map[string]string{"type": "Type", "value": "Value", "issuer": "Issuer",
	"originalissuer": "OriginalIssuer", "valuetype": "ValueType"}

// maxDepth bounds nested function calls, so that hostile text cannot
// exhaust the stack.
const maxDepth = 32

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// ParseRules parses a trust's rule text (IssuanceTransformRules,
// IssuanceAuthorizationRules, …). The error is a *SyntaxError with the
// line and column of the first problem.
func ParseRules(src string) ([]Rule, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	var rules []Rule
	for p.peek().kind != tEOF {
		r, err := p.rule()
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) fail(t token, format string, args ...any) error {
	found := fmt.Sprintf("%q", t.text)
	switch t.kind {
	case tEOF:
		found = "the end of the text"
	case tString:
		found = fmt.Sprintf("the string %q", t.text)
	}
	return &SyntaxError{t.pos, fmt.Sprintf(format, args...) + ", found " + found}
}

func (p *parser) isPunct(s string) bool { t := p.peek(); return t.kind == tPunct && t.text == s }

func (p *parser) isWord(s string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, s)
}

func (p *parser) punct(s string) error {
	if !p.isPunct(s) {
		return p.fail(p.peek(), "expected %q", s)
	}
	p.next()
	return nil
}

func (p *parser) word(s string) error {
	if !p.isWord(s) {
		return p.fail(p.peek(), "expected %s", s)
	}
	p.next()
	return nil
}

func (p *parser) str() (string, error) {
	t := p.peek()
	if t.kind != tString {
		return "", p.fail(t, "expected a string")
	}
	p.next()
	return t.text, nil
}

func (p *parser) ident() (token, error) {
	t := p.peek()
	if t.kind != tIdent {
		return t, p.fail(t, "expected a name")
	}
	p.next()
	return t, nil
}

func (p *parser) rule() (Rule, error) {
	start := p.peek()
	r := Rule{Pos: start.pos, Annotations: map[string]string{}}
	for p.isPunct("@") {
		p.next()
		name, err := p.ident()
		if err != nil {
			return r, err
		}
		if err := p.punct("="); err != nil {
			return r, err
		}
		v, err := p.str()
		if err != nil {
			return r, err
		}
		r.Annotations[name.text] = v
	}
	textStart := p.peek().off
	if !p.isPunct("=>") {
		for {
			c, err := p.cond()
			if err != nil {
				return r, err
			}
			r.Conds = append(r.Conds, c)
			if !p.isPunct("&&") {
				break
			}
			p.next()
		}
	}
	if err := p.punct("=>"); err != nil {
		return r, err
	}
	a, err := p.action()
	if err != nil {
		return r, err
	}
	r.Action = a
	end := p.peek()
	if err := p.punct(";"); err != nil {
		return r, err
	}
	r.Text = strings.TrimSpace(p.src[textStart : end.off+1])
	return r, nil
}

func (p *parser) cond() (Cond, error) {
	t := p.peek()
	c := Cond{Pos: t.pos}
	if p.isWord("not") {
		p.next()
		c.Not = true
		if !p.isWord("exists") {
			return c, p.fail(p.peek(), "expected EXISTS after NOT")
		}
	}
	if p.isWord("exists") {
		p.next()
		c.Exists = true
		if err := p.punct("("); err != nil {
			return c, err
		}
		tests, err := p.selector()
		if err != nil {
			return c, err
		}
		c.Tests = tests
		return c, p.punct(")")
	}
	if t.kind == tIdent {
		p.next()
		c.Var = t.text
		if err := p.punct(":"); err != nil {
			return c, err
		}
	}
	tests, err := p.selector()
	c.Tests = tests
	return c, err
}

func (p *parser) selector() ([]Test, error) {
	if err := p.punct("["); err != nil {
		return nil, err
	}
	var tests []Test
	for !p.isPunct("]") {
		if len(tests) > 0 {
			if err := p.punct(","); err != nil {
				return nil, err
			}
		}
		t, err := p.ident()
		if err != nil {
			return nil, err
		}
		prop, ok := properties[strings.ToLower(t.text)]
		if !ok {
			return nil, p.fail(t, "expected a claim property (Type, Value, Issuer, OriginalIssuer, ValueType)")
		}
		op := p.peek()
		if op.kind != tPunct || (op.text != "==" && op.text != "!=" && op.text != "=~" && op.text != "!~") {
			return nil, p.fail(op, "expected ==, !=, =~ or !~")
		}
		p.next()
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		tests = append(tests, Test{Pos: t.pos, Prop: prop, Op: op.text, Value: v})
	}
	p.next()
	return tests, nil
}

func (p *parser) action() (Action, error) {
	t := p.peek()
	a := Action{Pos: t.pos}
	switch {
	case p.isWord("issue"):
		a.Verb = "issue"
	case p.isWord("add"):
		a.Verb = "add"
	default:
		return a, p.fail(t, "expected issue or add")
	}
	p.next()
	if err := p.punct("("); err != nil {
		return a, err
	}
	var err error
	switch {
	case p.isWord("claim"):
		p.next()
		if err = p.punct("="); err == nil {
			var v token
			v, err = p.ident()
			a.Copy = v.text
		}
	case p.isWord("store"):
		a.Store, err = p.store()
	default:
		a.Fields, err = p.fields()
	}
	if err != nil {
		return a, err
	}
	return a, p.punct(")")
}

func (p *parser) store() (*StoreQuery, error) {
	s := &StoreQuery{}
	var err error
	p.next() // store
	if err = p.punct("="); err != nil {
		return nil, err
	}
	if s.Store, err = p.str(); err != nil {
		return nil, err
	}
	for _, step := range []func() error{
		func() error { return p.punct(",") }, func() error { return p.word("types") },
		func() error { return p.punct("=") }, func() error { return p.punct("(") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	for {
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		s.Types = append(s.Types, v)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	for _, step := range []func() error{
		func() error { return p.punct(")") }, func() error { return p.punct(",") },
		func() error { return p.word("query") }, func() error { return p.punct("=") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if s.Query, err = p.str(); err != nil {
		return nil, err
	}
	for p.isPunct(",") {
		p.next()
		if err := p.word("param"); err != nil {
			return nil, err
		}
		if err := p.punct("="); err != nil {
			return nil, err
		}
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.Params = append(s.Params, e)
	}
	return s, nil
}

func (p *parser) fields() ([]Field, error) {
	var out []Field
	for {
		t, err := p.ident()
		if err != nil {
			return nil, err
		}
		f := Field{}
		if strings.EqualFold(t.text, "properties") {
			f.Name = "Properties"
			if err := p.punct("["); err != nil {
				return nil, err
			}
			if f.Key, err = p.str(); err != nil {
				return nil, err
			}
			if err := p.punct("]"); err != nil {
				return nil, err
			}
		} else if f.Name = properties[strings.ToLower(t.text)]; f.Name == "" {
			return nil, p.fail(t, "expected Type, Value, Issuer, OriginalIssuer, ValueType or Properties[…]")
		}
		if err := p.punct("="); err != nil {
			return nil, err
		}
		if f.Expr, err = p.expr(); err != nil {
			return nil, err
		}
		out = append(out, f)
		if !p.isPunct(",") {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) expr() (Expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.fail(p.peek(), "expressions nested too deeply")
	}
	var e Expr
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		e = append(e, t)
		if !p.isPunct("+") {
			return e, nil
		}
		p.next()
	}
}

func (p *parser) term() (Term, error) {
	t := p.next()
	term := Term{Where: t.pos}
	switch {
	case t.kind == tString:
		s := t.text
		term.Lit = &s
		return term, nil
	case t.kind != tIdent:
		return term, p.fail(t, "expected a string, c.Value or a function call")
	case p.isPunct("."):
		p.next()
		prop, err := p.ident()
		if err != nil {
			return term, err
		}
		if term.Prop = properties[strings.ToLower(prop.text)]; term.Prop == "" {
			return term, p.fail(prop, "expected a claim property")
		}
		term.Var = t.text
		return term, nil
	case p.isPunct("("):
		p.next()
		term.Func = t.text
		for !p.isPunct(")") {
			if len(term.Args) > 0 {
				if err := p.punct(","); err != nil {
					return term, err
				}
			}
			a, err := p.expr()
			if err != nil {
				return term, err
			}
			term.Args = append(term.Args, a)
		}
		p.next()
		return term, nil
	}
	return term, p.fail(p.peek(), "expected . or ( after %q", t.text)
}

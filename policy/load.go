package policy

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // IANA zones even on hosts without a zoneinfo database

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Load parses and compiles policy files. Named networks are shared by all
// files. On any mistake it returns a nil Set and every Problem found, joined
// with errors.Join, ordered by file and position.
func Load(files []File) (*Set, error) {
	l := &loader{networks: map[string]*netDef{}, policyAt: map[string]string{}}
	decs := make([]*decoder, len(files))
	var todo []*pending
	for i, f := range files {
		decs[i] = &decoder{file: f.Name}
		if p := l.parseFile(decs[i], f.Data); p != nil {
			todo = append(todo, p)
		}
	}
	set := &Set{policies: make(map[string]*Policy, len(todo)), networks: map[string][]netip.Prefix{}}
	for name, def := range l.networks {
		set.networks[name] = def.prefixes
	}
	for _, t := range todo {
		if t.rules != nil {
			l.devices = nil
			t.p.rules = l.compileRules(t.d, t.rules)
			t.p.devices = l.devices
		}
		if t.dup {
			continue
		}
		set.policies[t.p.name] = t.p
		set.names = append(set.names, t.p.name)
	}
	var errs []error
	for _, d := range decs {
		set.refs = append(set.refs, d.refs...)
		slices.SortStableFunc(d.probs, func(a, b *Problem) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
		})
		for _, p := range d.probs {
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(set.names)
	return set, nil
}

type loader struct {
	networks map[string]*netDef
	policyAt map[string]string // policy name -> where it is defined
	devices  []string          // device kinds the policy being compiled names
}

type netDef struct {
	prefixes []netip.Prefix
	at       string
}

// pending is a policy whose header is parsed; its rules are compiled once
// every file's networks are known.
type pending struct {
	d     *decoder
	p     *Policy
	rules ast.Node
	dup   bool // a second policy of the same name: compiled for its problems only
}

func where(d *decoder, n ast.Node) string {
	line, col := pos(n)
	return fmt.Sprintf("%s:%d:%d", d.file, line, col)
}

// parseYAML parses one file, turning a parser panic on hostile input into an
// error so that Load never panics.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("unreadable YAML: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0)
}

func (l *loader) parseFile(d *decoder, data []byte) *pending {
	f, err := parseYAML(data)
	if err != nil {
		p := &Problem{File: d.file, Msg: err.Error(), Hint: "fix the YAML syntax"}
		var ye yaml.Error
		if errors.As(err, &ye) {
			p.Msg = ye.GetMessage()
			if strings.Contains(p.Msg, "already defined") {
				p.Hint = "remove one of them"
			}
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				p.Line, p.Col = tk.Position.Line, tk.Position.Column
			}
		}
		d.probs = append(d.probs, p)
		return nil
	}
	if f == nil || len(f.Docs) == 0 || f.Docs[0] == nil || f.Docs[0].Body == nil {
		return nil
	}
	if len(f.Docs) > 1 {
		d.problem(f.Docs[1], "put each policy in its own file", "a policy file holds one YAML document, found %d", len(f.Docs))
	}
	fs, _ := d.fields(f.Docs[0].Body, "policy file", []string{"policy", "timezone", "message", "networks", "rules"})
	p := &Policy{loc: time.UTC}
	var nameN, rules, rulesKey, extraKey ast.Node
	for _, fd := range fs {
		switch fd.key {
		case "policy":
			nameN = fd.keyN
			p.name, _ = d.str(fd.value, "policy")
		case "timezone":
			extraKey = fd.keyN
			p.loc = d.timezone(fd.value)
		case "message":
			extraKey = fd.keyN
			p.message, _ = d.message(fd.value)
		case "networks":
			l.defineNetworks(d, fd.value)
		case "rules":
			rules, rulesKey = fd.value, fd.keyN
		}
	}
	if nameN == nil {
		if k := cmp.Or(rulesKey, extraKey); k != nil {
			d.problem(k, "add `policy: <name>` at the top of the file; apps refer to policies by name", "%s without a policy name", fieldName(k))
		}
		return nil
	}
	if p.name == "" {
		return nil
	}
	if prev, dup := l.policyAt[p.name]; dup {
		d.problem(nameN, "policy names are unique across all files; rename one", "policy %q is already defined at %s", p.name, prev)
		return &pending{d: d, p: p, rules: rules, dup: true} // still checked, never kept
	}
	l.policyAt[p.name] = where(d, nameN)
	return &pending{d: d, p: p, rules: rules}
}

func fieldName(k ast.Node) string {
	s, _ := scalar(k)
	return s
}

func (d *decoder) timezone(n ast.Node) *time.Location {
	s, ok := d.str(n, "timezone")
	if !ok {
		return time.UTC
	}
	loc, err := time.LoadLocation(s)
	if err != nil || s == "Local" {
		d.problem(n, "use an IANA zone name such as Asia/Tokyo, America/New_York or UTC", "unknown timezone %q", s)
		return time.UTC
	}
	return loc
}

// validNetName reports whether s can name a network: a letter first, then
// letters, digits, '-', '_' or '.', so it can never be mistaken for an address.
func validNetName(s string) bool {
	for i, r := range s {
		isLetter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !isLetter && (i == 0 || !(r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')) {
			return false
		}
	}
	return s != ""
}

func (l *loader) defineNetworks(d *decoder, n ast.Node) {
	fs, _ := d.fields(n, "networks", nil)
	for _, f := range fs {
		if !validNetName(f.key) {
			d.problem(f.keyN, "start with a letter; use letters, digits, '-', '_' or '.'", "invalid network name %q", f.key)
			continue
		}
		if prev, dup := l.networks[f.key]; dup {
			d.problem(f.keyN, "network names are shared by all policy files; rename one or merge the lists", "network %q is already defined at %s", f.key, prev.at)
			continue
		}
		def := &netDef{at: where(d, f.keyN)}
		l.networks[f.key] = def // registered even if broken, to avoid follow-on "unknown network" reports
		items, _ := d.list(f.value, "network "+f.key)
		for _, it := range items {
			if !looksLikeAddr(it.s) {
				d.problem(it.n, "a named network lists addresses (10.0.0.0/8, 2001:db8::/32, 192.0.2.1), not other names", "invalid address %q in network %q", it.s, f.key)
				continue
			}
			if p, ok := d.prefix(it); ok {
				def.prefixes = append(def.prefixes, p)
			}
		}
	}
}

func (l *loader) compileRules(d *decoder, n ast.Node) []rule {
	items, _ := d.seq(n, "rules")
	rules := make([]rule, 0, len(items))
	names := map[string]string{}
	catchAll := ""
	for i, rn := range items {
		fs, _ := d.fields(rn, "rule", []string{"name", "description", "when", "allow", "deny"})
		if !isMapping(rn) {
			continue // reported by fields
		}
		r := rule{}
		var nameN, allowN, denyN ast.Node
		always := true // no conditions written: the rule matches everything
		for _, f := range fs {
			switch f.key {
			case "name":
				nameN = f.value
				r.name, _ = d.str(f.value, "rule name")
			case "description":
				if _, ok := scalar(f.value); !ok && !isNull(f.value) {
					d.problem(f.value, "", "description must be text, not %s", kind(f.value))
				}
			case "when":
				r.when = l.compileWhen(d, f.value, 0)
				always = isEmptyMap(f.value)
			case "allow":
				allowN = f.keyN
				r.allow = d.allow(f.value)
			case "deny":
				denyN = f.keyN
				r.deny = d.deny(f.value)
			}
		}
		label := r.name
		switch {
		case nameN == nil:
			label = fmt.Sprintf("#%d", i+1)
			d.problem(rn, "add `name: ...`; it appears in audit events and traces", "rule %s has no name", label)
		case r.name != "" && names[r.name] != "":
			d.problem(nameN, "rule names are unique within a policy", "duplicate rule name %q (first at %s)", r.name, names[r.name])
		case r.name != "":
			names[r.name] = where(d, nameN)
		}
		switch {
		case allowN != nil && denyN != nil:
			d.problem(denyN, "a rule either allows or denies; split it into two rules", "rule %q has both allow and deny", label)
		case allowN == nil && denyN == nil:
			d.problem(rn, "add `allow: {}` or `deny: {}`", "rule %q has neither allow nor deny", label)
		}
		if catchAll != "" {
			d.problem(rn, fmt.Sprintf("move it above %q, or give %q a `when`", catchAll, catchAll), "rule %q can never match: rule %q before it matches everything", label, catchAll)
		} else if always {
			catchAll = label
		}
		rules = append(rules, r)
	}
	return rules
}

func (d *decoder) allow(n ast.Node) *allowAction {
	a := &allowAction{}
	fs, _ := d.fields(n, "allow", []string{"mfa", "max_session"})
	for _, f := range fs {
		switch f.key {
		case "max_session":
			a.maxSession, _ = d.duration(f.value, "max_session")
		case "mfa":
			a.mfa = &MFARequirement{Methods: []string{"mfa"}}
			mf, _ := d.fields(f.value, "mfa", []string{"methods", "max_age"})
			for _, m := range mf {
				if m.key == "max_age" {
					a.mfa.MaxAge, _ = d.duration(m.value, "mfa.max_age")
					continue
				}
				if items, ok := d.list(m.value, "mfa.methods"); ok {
					a.mfa.Methods = a.mfa.Methods[:0]
					for _, it := range items {
						a.mfa.Methods = append(a.mfa.Methods, strings.ToLower(it.s))
					}
				}
			}
		}
	}
	return a
}

func (d *decoder) deny(n ast.Node) *Message {
	m := &Message{}
	fs, _ := d.fields(n, "deny", []string{"message"})
	for _, f := range fs {
		*m, _ = d.message(f.value)
	}
	return m
}

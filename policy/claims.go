package policy

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"

	"github.com/goccy/go-yaml/ast"
)

// claimsCond holds when every listed claim passes its test. Claim names and
// values are case-sensitive. A claim with an empty value counts as absent.
//
//	when:
//	  claims:
//	    tid: { equals: 0b5e6e2a-... }      # or the shorthand  tid: 0b5e6e2a-...
//	    department: { one_of: [sales, marketing] }
//	    email: { regex: '.*@partner\.example' }   # must match the whole value
//	    employee_id: { present: true }
type claimsCond []claimTest

type claimTest struct {
	name    string
	equals  string
	oneOf   []string
	re      *regexp.Regexp
	present *bool // set for present: true/false
	want    string
}

func (d *decoder) claims(n ast.Node) (cond, bool) {
	fs, ok := d.fields(n, "claims", nil)
	if ok && len(fs) == 0 {
		d.problem(n, "list claims, e.g. { tid: { equals: ... } }", "claims is empty")
		return nil, false
	}
	var c claimsCond
	for _, f := range fs {
		t, good := d.claimTest(f)
		ok = ok && good
		c = append(c, t)
	}
	return c, ok
}

func (d *decoder) claimTest(f field) (claimTest, bool) {
	t := claimTest{name: f.key}
	if s, isScalar := scalar(f.value); isScalar && s != "" {
		t.equals, t.want = s, strconv.Quote(s)
		return t, true
	}
	what := "claims." + f.key
	fs, ok := d.fields(f.value, what, []string{"equals", "one_of", "regex", "present"})
	if len(fs) != 1 {
		if ok {
			d.problem(f.value, "use exactly one of equals, one_of, regex or present", "%s needs exactly one test, found %d", what, len(fs))
		}
		return t, false
	}
	v := fs[0].value
	switch fs[0].key {
	case "equals":
		t.equals, ok = d.str(v, what+".equals")
		t.want = strconv.Quote(t.equals)
	case "one_of":
		items, good := d.list(v, what+".one_of")
		for _, it := range items {
			t.oneOf = append(t.oneOf, it.s)
		}
		t.want, ok = "one of "+listText(items), good
	case "regex":
		s, good := d.str(v, what+".regex")
		if !good {
			return t, false
		}
		_, err := regexp.Compile(s)
		re, errAnchored := regexp.Compile(`^(?:` + s + `)$`)
		if err != nil || errAnchored != nil {
			err = cmp.Or(err, errAnchored)
			d.problem(v, "Go RE2 syntax; the pattern must match the whole value", "%s: invalid regex: %v", what, err)
			return t, false
		}
		t.re, t.want = re, "to match "+strconv.Quote(s)
	case "present":
		s, _ := scalar(v)
		b, err := strconv.ParseBool(s)
		if err != nil || (s != "true" && s != "false") {
			d.problem(v, "write true or false", "%s.present must be true or false", what)
			return t, false
		}
		t.present, t.want = &b, map[bool]string{true: "present", false: "absent"}[b]
	}
	return t, ok
}

func (t *claimTest) pass(in *Input) bool {
	v := in.Claims[t.name]
	switch {
	case t.present != nil:
		return (v != "") == *t.present
	case v == "":
		return false
	case t.re != nil:
		return t.re.MatchString(v)
	case t.oneOf != nil:
		return slices.Contains(t.oneOf, v)
	}
	return v == t.equals
}

func (c claimsCond) ok(e *env) bool {
	for i := range c {
		if !c[i].pass(&e.in) {
			return false
		}
	}
	return true
}

func (c claimsCond) why(b []byte, e *env) []byte {
	for i := range c {
		t := &c[i]
		if t.pass(&e.in) {
			continue
		}
		b = append(b, "claims: "...)
		b = append(b, t.name...)
		if v := e.in.Claims[t.name]; v == "" {
			b = append(b, " absent"...)
		} else {
			b = append(b, " is "...)
			b = strconv.AppendQuote(b, v)
		}
		b = append(b, ", want "...)
		return append(b, t.want...)
	}
	return b
}

package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/fedgate/fedgate/policy"
)

// maxFileSize bounds every file the config reads: config files are small, and
// a runaway file must not take the process down.
const maxFileSize = 4 << 20

// Load reads, decodes, defaults and validates the config at path and every
// policy file it references. The error joins every *Problem found.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlProblem(path, err)
	}
	c := &Config{Path: path, Files: []string{path}}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return nil, &Problem{File: path, Line: 1, Col: 1, Msg: "expected one YAML document"}
	}
	var errs []error
	failed := decodeSections(path, f.Docs[0].Body, c, &errs)
	dir := filepath.Dir(path)
	for i := range c.Apps {
		c.Apps[i].setBlockFile(path, dir)
	}
	inline := len(c.Apps)
	if err := c.loadAppFiles(dir); err != nil {
		errs = append(errs, err)
	}
	c.Defaults()
	c.resolvePaths(dir)
	for i := range c.Upstreams {
		c.Upstreams[i].File, c.Upstreams[i].Dir = path, dir
	}
	if err := c.loadPolicies(dir); err != nil {
		errs = append(errs, err)
	}
	for _, v := range c.validate() {
		// A section that did not decode is zero: checking it would only add noise.
		if !failed[v.section()] {
			errs = append(errs, c.locate(v, inline, path, f))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.warn()
	return c, nil
}

// warn collects the config's warnings: policy rules that name an upstream
// or app the config does not define; an AAGUID allow-list, which holds only
// as far as authenticators tell the truth.
func (c *Config) warn() {
	if len(c.MFA.WebAuthn.AAGUIDs) > 0 {
		c.Warnings = append(c.Warnings, &Problem{File: c.Path, Msg: "mfa.webauthn.aaguids: authenticators report their own model and fedgate does not check attestation certificates against the makers' roots, so the list keeps honest authenticators out, not a software one that claims a listed model"})
	}
	var ups, apps []string
	for _, u := range c.Upstreams {
		ups = append(ups, u.ID)
	}
	for _, a := range c.Apps {
		apps = append(apps, a.ID)
	}
	for _, p := range c.PolicySet.Unknown(ups, apps) {
		c.Warnings = append(c.Warnings, p)
	}
}

func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, maxFileSize)
	}
	return os.ReadFile(path)
}

// decodeSections decodes each top-level key (and each list element) on its
// own, so one type error does not hide the next. It returns the keys of the
// sections that failed.
func decodeSections(file string, body ast.Node, c *Config, errs *[]error) map[string]bool {
	failed := map[string]bool{}
	m, ok := unwrap(body).(*ast.MappingNode)
	if !ok {
		if mv, isMV := unwrap(body).(*ast.MappingValueNode); isMV {
			m = &ast.MappingNode{Values: []*ast.MappingValueNode{mv}}
		} else {
			*errs = append(*errs, problemAt(file, body, "", "expected a mapping of settings"))
			failed[""] = true
			return failed
		}
	}
	rv := reflect.ValueOf(c).Elem()
	fields := yamlFields(rv.Type())
	for _, kv := range m.Values {
		key := kv.Key.String()
		if _, ok := fields[key]; !ok {
			*errs = append(*errs, problemAt(file, kv.Key, didYouMean(key, fields), "unknown key %q", key))
			failed[key] = true
			continue
		}
		fv := fieldByKey(rv, key)
		seq, isSeq := unwrap(kv.Value).(*ast.SequenceNode)
		if fv.Kind() != reflect.Slice || !isSeq {
			if err := decodeStrict(file, kv.Value, fv.Addr().Interface()); err != nil {
				*errs = append(*errs, err)
				failed[key] = true
			}
			continue
		}
		out := reflect.MakeSlice(fv.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			if err := decodeStrict(file, e, out.Index(i).Addr().Interface()); err != nil {
				*errs = append(*errs, err)
				failed[key] = true
			}
		}
		fv.Set(out)
	}
	return failed
}

func fieldByKey(rv reflect.Value, key string) reflect.Value {
	t := rv.Type()
	for i := range t.NumField() {
		if n := yamlName(t.Field(i)); n == key {
			return rv.Field(i)
		}
	}
	panic("config: no field for key " + key) // unreachable: key came from yamlFields
}

// resolvePaths makes file names relative to the config file's directory.
func (c *Config) resolvePaths(dir string) {
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&c.DataDir)
	rel(&c.Server.TLS.CertFile)
	rel(&c.Server.TLS.KeyFile)
	if a := c.Server.TLS.ACME; a != nil {
		rel(&a.CAFile)
	}
	rel(&c.Store.Bolt)
	if c.Store.Redis != nil {
		rel(&c.Store.Redis.CAFile)
	}
	rel(&c.Branding.LogoFile)
	if c.Audit.File != "stdout" && c.Audit.File != "-" {
		rel(&c.Audit.File)
	}
	for i := range c.Keys.Cookie {
		rel(&c.Keys.Cookie[i])
	}
	for i := range c.Keys.Signing {
		rel(&c.Keys.Signing[i].File)
	}
	for i := range c.Apps {
		rel(&c.Apps[i].CAFile)
	}
	for i := range c.Devices {
		d := &c.Devices[i]
		for j := range d.CAFiles {
			rel(&d.CAFiles[j])
		}
		rel(&d.CRLFile)
	}
	if c.Store.Bolt == "" && !c.Store.Memory && c.Store.Redis == nil && c.DataDir != "" {
		c.Store.Bolt = filepath.Join(c.DataDir, "state.db")
	}
}

// glob expands one pattern of a list of file globs (key) relative to dir,
// in sorted order; no match is a problem.
func (c *Config) glob(dir, key, pat string) ([]string, error) {
	if !filepath.IsAbs(pat) {
		pat = filepath.Join(dir, pat)
	}
	matches, err := filepath.Glob(pat)
	if err != nil || len(matches) == 0 {
		return nil, &Problem{File: c.Path, Line: 1, Col: 1, Msg: fmt.Sprintf("%s: %q matches no file", key, pat)}
	}
	slices.Sort(matches)
	return matches, nil
}

// loadPolicies reads every file the policies globs match and compiles them.
func (c *Config) loadPolicies(dir string) error {
	var files []policy.File
	var errs []error
	for _, pat := range c.Policies {
		matches, err := c.glob(dir, "policies", pat)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range matches {
			data, err := readFile(m)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			files = append(files, policy.File{Name: m, Data: data})
			c.Files = append(c.Files, m)
		}
	}
	set, err := policy.Load(files)
	if err != nil {
		errs = append(errs, err)
	}
	c.PolicySet = set
	return errors.Join(errs...)
}

// finding is a validation problem located by a YAML path such as
// $.apps[1].policy; at resolves it to line and column.
type finding struct {
	path, msg, hint string
}

// section is the top-level key the finding is about ("" for the root).
func (v finding) section() string {
	s := strings.TrimPrefix(strings.TrimPrefix(v.path, "$"), ".")
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		return s
	}
	return s[:end]
}

func (v finding) at(file string, f *ast.File) error {
	p := &Problem{File: file, Msg: v.msg, Hint: v.hint}
	if yp, err := yaml.PathString(v.path); err == nil {
		if n, err := yp.FilterFile(f); err == nil && n != nil && n.GetToken() != nil {
			p.Line, p.Col = n.GetToken().Position.Line, n.GetToken().Position.Column
		}
	}
	if p.Line == 0 {
		p.Line, p.Col = 1, 1
	}
	return p
}

package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// fragment is one app read from an app_files file.
type fragment struct {
	file  string
	ast   *ast.File
	index int // its place in the file's list
}

// loadAppFiles appends the apps of every file the app_files globs match.
// Each file holds a YAML list of apps, exactly as under apps:; relative
// paths inside an app are relative to its own file.
func (c *Config) loadAppFiles(dir string) error {
	var errs []error
	for _, pat := range c.AppFiles {
		matches, err := c.glob(dir, "app_files", pat)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, m := range matches {
			errs = append(errs, c.loadAppFile(m))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) loadAppFile(path string) error {
	data, err := readFile(path)
	if err != nil {
		return err
	}
	c.Files = append(c.Files, path)
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return yamlProblem(path, err)
	}
	var seq *ast.SequenceNode
	if len(f.Docs) == 1 && f.Docs[0].Body != nil {
		seq, _ = unwrap(f.Docs[0].Body).(*ast.SequenceNode)
	}
	if seq == nil {
		return &Problem{File: path, Line: 1, Col: 1, Msg: "expected a list of apps (- id: …)"}
	}
	var errs []error
	for i, n := range seq.Values {
		var a App
		if err := decodeStrict(path, n, &a); err != nil {
			errs = append(errs, err)
			continue
		}
		a.setBlockFile(path, filepath.Dir(path))
		if a.CAFile != "" && !filepath.IsAbs(a.CAFile) {
			a.CAFile = filepath.Join(filepath.Dir(path), a.CAFile)
		}
		c.Apps = append(c.Apps, a)
		c.fragments = append(c.fragments, fragment{file: path, ast: f, index: i})
	}
	return errors.Join(errs...)
}

func (a *App) setBlockFile(file, dir string) {
	for _, b := range []*Block{a.OIDC, a.SAML, a.WSFed} {
		if b != nil {
			b.File, b.Dir = file, dir
		}
	}
}

var appPath = regexp.MustCompile(`^\$\.apps\[(\d+)\]`)

// locate places a finding: in the config file, or, for an app that came
// from an app_files file, in that file.
func (c *Config) locate(v finding, inline int, path string, f *ast.File) error {
	if m := appPath.FindStringSubmatch(v.path); m != nil {
		i, _ := strconv.Atoi(m[1])
		if i >= inline && i-inline < len(c.fragments) {
			fr := c.fragments[i-inline]
			v.path = fmt.Sprintf("$[%d]", fr.index) + v.path[len(m[0]):]
			return v.at(fr.file, fr.ast)
		}
	}
	return v.at(path, f)
}

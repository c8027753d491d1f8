package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// check validates like `nginx -t`: every problem on its own line, with
// file:line:col and a hint; exit 1 if there is any.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "fedgate.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	l, err := load(*path, false, slog.New(slog.DiscardHandler))
	if err != nil {
		problems := flatten(err)
		for _, p := range problems {
			fmt.Fprintln(stderr, p)
		}
		fmt.Fprintf(stderr, "%s: %d problem(s); configuration NOT ok\n", *path, len(problems))
		return 1
	}
	c := l.cfg
	// Warnings: the config works, but almost certainly not as meant (a
	// rule naming an upstream that does not exist; a Microsoft preset on
	// plain http).
	var warnings []string
	for _, w := range c.Warnings {
		warnings = append(warnings, w.Error())
	}
	for _, d := range l.downstreams {
		if w, ok := d.(interface{ Warnings() []string }); ok {
			for _, line := range w.Warnings() {
				warnings = append(warnings, *path+": "+line)
			}
		}
	}
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "%s: ok — %d upstream(s), %d app(s), %d policy(ies) in %d file(s), %d warning(s); config digest %s\n",
		*path, len(c.Upstreams), len(c.Apps), len(c.PolicySet.Names()), len(c.Files), len(warnings), c.Digest)
	for i, u := range l.upstreams {
		// A kerberos upstream's keytab: its principals, key versions and
		// encryption types, and whether the service principal is there.
		if d, ok := u.(interface{ Describe() []string }); ok {
			fmt.Fprintf(stdout, "upstream %q:\n", c.Upstreams[i].ID)
			for _, line := range d.Describe() {
				fmt.Fprintln(stdout, "  "+line)
			}
		}
	}
	return 0
}

// flatten unwraps joined errors into their leaves, in order.
func flatten(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, flatten(e)...)
	}
	return out
}

package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/fedgate/fedgate/policy"
)

// Exit codes of `policy explain`.
const (
	exitAllow  = 0
	exitDeny   = 1
	exitUsage  = 2
	exitStepUp = 3
)

func explain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "fedgate.yaml", "config file")
	app := fs.String("app", "", "app id (required)")
	user := fs.String("user", "", "user name (required)")
	groups := fs.String("groups", "", "comma-separated groups")
	upstream := fs.String("upstream", "", "upstream id")
	ip := fs.String("ip", "127.0.0.1", "client IP")
	at := fs.String("time", "", "evaluation time, RFC 3339 (default now)")
	amr := fs.String("amr", "pwd", "comma-separated authentication methods")
	age := fs.Duration("auth-age", 0, "time since the user authenticated")
	claims := fs.String("claims", "", "comma-separated name=value claims")
	devices := fs.String("device", "", "comma-separated device kinds the browser's certificate satisfies")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *app == "" || *user == "" {
		fmt.Fprintln(stderr, "fedgate policy explain: --app and --user are required")
		return exitUsage
	}
	if *age < 0 {
		fmt.Fprintln(stderr, "fedgate policy explain: --auth-age cannot be negative (it is how long ago the user authenticated)")
		return exitUsage
	}
	in, err := explainInput(*user, *groups, *upstream, *ip, *at, *amr, *claims, *age)
	if err != nil {
		fmt.Fprintf(stderr, "fedgate policy explain: %v\n", err)
		return exitUsage
	}
	in.Devices = splitList(*devices)
	l, err := load(*path, false, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	var notes []string
	for i, b := range l.cfg.Upstreams {
		if gs, ok := l.upstreams[i].(interface{ GroupsSource() string }); ok && b.ID == in.Upstream {
			notes = append(notes, "upstream "+b.ID+": "+gs.GroupsSource())
		}
	}
	var p *policy.Policy
	for _, a := range l.cfg.Apps {
		if a.ID == *app {
			p, _ = l.cfg.PolicySet.Policy(a.Policy)
			in.App = a.ID
		}
	}
	if in.App == "" {
		fmt.Fprintf(stderr, "fedgate policy explain: no app %q in %s\n", *app, *path)
		return exitUsage
	}
	d := policy.Explain(p, in)
	if *asJSON {
		printJSON(stdout, d, notes)
	} else {
		printText(stdout, d, notes)
	}
	switch d.Effect {
	case policy.Allow:
		return exitAllow
	case policy.StepUp:
		return exitStepUp
	}
	return exitDeny
}

func explainInput(user, groups, upstream, ip, at, amr, claims string, age time.Duration) (policy.Input, error) {
	in := policy.Input{User: user, Upstream: upstream, Groups: splitList(groups), AMR: splitList(amr), Now: time.Now()}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return in, fmt.Errorf("--time: %w", err)
		}
		in.Now = t
	}
	in.AuthTime = in.Now.Add(-age)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return in, fmt.Errorf("--ip: %w", err)
	}
	in.ClientIP = a.Unmap()
	for _, kv := range splitList(claims) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return in, fmt.Errorf("--claims: %q is not name=value", kv)
		}
		if in.Claims == nil {
			in.Claims = map[string]string{}
		}
		in.Claims[k] = v
	}
	return in, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func printText(w io.Writer, d policy.Decision, notes []string) {
	fmt.Fprintf(w, "decision: %s\npolicy:   %s\n", d.Effect, d.Policy)
	if d.Rule != "" {
		fmt.Fprintf(w, "rule:     %s\n", d.Rule)
	} else {
		fmt.Fprintln(w, "rule:     (none matched: denied by default)")
	}
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "reason:   %s\n", r.Code)
	}
	if m := d.Obligations.MFA; m != nil {
		fmt.Fprintf(w, "requires: MFA with one of %v within %s\n", m.Methods, m.MaxAge)
	}
	if d.Obligations.MaxSession > 0 {
		fmt.Fprintf(w, "session:  capped at %s\n", d.Obligations.MaxSession)
	}
	if d.Message.En != "" {
		fmt.Fprintf(w, "message:  %s\n", d.Message.En)
	}
	if len(d.Trace) > 0 {
		fmt.Fprintln(w, "earlier rules that did not match:")
		for _, t := range d.Trace {
			fmt.Fprintf(w, "  - %s: %s\n", t.Rule, t.Failed)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(w, "note:     %s\n", n)
	}
}

func printJSON(w io.Writer, d policy.Decision, notes []string) {
	type trace struct {
		Rule   string `json:"rule"`
		Failed string `json:"failed"`
	}
	out := struct {
		Decision   string   `json:"decision"`
		Policy     string   `json:"policy"`
		Rule       string   `json:"rule"`
		Reasons    []string `json:"reasons"`
		MFAMethods []string `json:"mfa_methods,omitempty"`
		MFAMaxAge  string   `json:"mfa_max_age,omitempty"`
		MaxSession string   `json:"max_session,omitempty"`
		Message    string   `json:"message,omitempty"`
		Trace      []trace  `json:"trace"`
		Notes      []string `json:"notes,omitempty"`
	}{Notes: notes, Decision: d.Effect.String(), Policy: d.Policy, Rule: d.Rule, Message: d.Message.En, Trace: []trace{}, Reasons: []string{}}
	for _, r := range d.Reasons {
		out.Reasons = append(out.Reasons, string(r.Code))
	}
	if m := d.Obligations.MFA; m != nil {
		out.MFAMethods, out.MFAMaxAge = m.Methods, m.MaxAge.String()
	}
	if d.Obligations.MaxSession > 0 {
		out.MaxSession = d.Obligations.MaxSession.String()
	}
	for _, t := range d.Trace {
		out.Trace = append(out.Trace, trace{t.Rule, t.Failed})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
	"github.com/fedgate/fedgate/config"
)

// audit prints the sign-in history: the audit events that match the
// filters, from the audit log and its rotated copies, oldest first.
func audit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := sourceFlags(fs)
	var f auditlog.Filter
	fs.StringVar(&f.User, "user", "", "only this user")
	fs.StringVar(&f.App, "app", "", "only this app id")
	fs.StringVar(&f.Upstream, "upstream", "", "only this upstream id")
	fs.StringVar(&f.Event, "event", "", "only this event: signin, signout, access, ticket")
	fs.StringVar(&f.Outcome, "outcome", "", "only this outcome: success, failure, allow, deny, step-up, signin")
	fs.StringVar(&f.Reason, "reason", "", "only this reason code")
	since := fs.String("since", "", "from this time: RFC 3339, a date (YYYY-MM-DD, local time) or a duration ago (24h)")
	until := fs.String("until", "", "before this time (same forms as --since)")
	asJSON := fs.Bool("json", false, "print the matching events as JSON lines, as logged")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	now := time.Now()
	var err error
	if f.Since, err = parseWhen(*since, now); err != nil {
		fmt.Fprintf(stderr, "fedgate audit: --since: %v\n", err)
		return exitUsage
	}
	if f.Until, err = parseWhen(*until, now); err != nil {
		fmt.Fprintf(stderr, "fedgate audit: --until: %v\n", err)
		return exitUsage
	}
	files, err := src.files(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "fedgate audit: %v\n", err)
		return exitUsage
	}
	var print func(*auditlog.Line) error
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	if *asJSON {
		print = func(l *auditlog.Line) error {
			_, err := fmt.Fprintf(stdout, "%s\n", l.Raw)
			return err
		}
	} else {
		fmt.Fprintln(tw, "TIME\tEVENT\tOUTCOME\tUSER\tUPSTREAM\tAPP\tREASON\tCLIENT IP")
		print = func(l *auditlog.Line) error {
			e := &l.Event
			_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339),
				e.Event, e.Outcome, dash(e.User), dash(e.Upstream), dash(e.App), dash(e.Reason), dash(e.ClientIP))
			return err
		}
	}
	bad, err := auditlog.Scan(files, f, print)
	tw.Flush()
	if bad > 0 {
		fmt.Fprintf(stderr, "fedgate audit: skipped %d line(s) that are not audit events\n", bad)
	}
	if err != nil {
		fmt.Fprintf(stderr, "fedgate audit: %v\n", err)
		return 1
	}
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// auditSource is where audit events are read from: files named on the
// command line, else --file or the config's audit.file, with its rotated
// copies.
type auditSource struct{ config, file *string }

func sourceFlags(fs *flag.FlagSet) auditSource {
	return auditSource{
		config: fs.String("config", "", "config file whose audit.file to read"),
		file:   fs.String("file", "", "audit log to read, with its rotated copies (path.1, path.2.gz, ...)"),
	}
}

func (s auditSource) files(args []string) ([]string, error) {
	if len(args) > 0 {
		return args, nil
	}
	path := *s.file
	if path == "" && *s.config != "" {
		c, err := config.Load(*s.config)
		if err != nil {
			return nil, err
		}
		path = c.Audit.File
		if path == "stdout" || path == "-" {
			return nil, fmt.Errorf("%s logs audit events to stdout: name the files that collect them", *s.config)
		}
	}
	if path == "" {
		return nil, fmt.Errorf("no audit log: give --config, --file or file names")
	}
	return auditlog.Files(path)
}

// parseWhen reads a point in time: RFC 3339, a local date, or a duration
// before now. "" is the zero time (no bound).
func parseWhen(s string, now time.Time) (time.Time, error) {
	switch {
	case s == "":
		return time.Time{}, nil
	case strings.Contains(s, "T"):
		return time.Parse(time.RFC3339, s)
	case strings.Count(s, "-") == 2:
		return time.ParseInLocation(time.DateOnly, s, time.Local)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not RFC 3339, YYYY-MM-DD or a duration such as 24h", s)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("%q: a duration ago cannot be negative", s)
	}
	return now.Add(-d), nil
}

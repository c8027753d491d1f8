package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/policy"
)

// replay runs the recorded access decisions of the last days through the
// policies of a (changed) config and lists every decision that would
// change: exit 0 when none does, 1 otherwise, so that it can gate a merge.
func replay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := sourceFlags(fs)
	days := fs.Int("days", 7, "replay the decisions of the last N days")
	asJSON := fs.Bool("json", false, "print each change as a JSON line")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *src.config == "" || *days < 1 {
		fmt.Fprintln(stderr, "fedgate policy replay: --config (the changed config) and --days ≥ 1 are required")
		return exitUsage
	}
	c, err := config.Load(*src.config)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitUsage
	}
	files, err := src.files(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "fedgate policy replay: %v\n", err)
		return exitUsage
	}
	policyFor := func(app string) *policy.Policy {
		for _, a := range c.Apps {
			if a.ID == app {
				p, _ := c.PolicySet.Policy(a.Policy)
				return p
			}
		}
		return nil
	}
	var sum replaySummary
	f := auditlog.Filter{Event: "access", Since: time.Now().AddDate(0, 0, -*days)}
	_, err = auditlog.Scan(files, f, func(l *auditlog.Line) error {
		ch, asked := auditlog.Replay(&l.Event, policyFor)
		if asked {
			sum.asked++
		}
		if ch == nil {
			return nil
		}
		sum.add(ch)
		if *asJSON {
			return json.NewEncoder(stdout).Encode(changeJSON(ch))
		}
		return printChange(stdout, ch)
	})
	if err != nil {
		fmt.Fprintf(stderr, "fedgate policy replay: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(stderr, sum.String(*days))
	if sum.changed > 0 {
		return 1
	}
	return 0
}

type replaySummary struct{ asked, changed, lost, gained, stepUps int }

func (s *replaySummary) add(c *auditlog.Change) {
	s.changed++
	switch {
	case c.Was == "allow" && c.Now == "deny":
		s.lost++
	case c.Now == "allow":
		s.gained++
	case c.Now == "step-up":
		s.stepUps++
	}
}

func (s *replaySummary) String(days int) string {
	return fmt.Sprintf("%d decision(s) of the last %d day(s) replayed; %d would change: %d allow → deny, %d now allowed, %d new step-up(s)",
		s.asked, days, s.changed, s.lost, s.gained, s.stepUps)
}

func ruleText(rule, pol string) string {
	if rule == "" {
		if pol == "" {
			return "no policy: denied by default"
		}
		return "no rule of " + pol + " matched: denied by default"
	}
	return "rule " + fmt.Sprintf("%q", rule)
}

func printChange(w io.Writer, c *auditlog.Change) error {
	e := c.Event
	_, err := fmt.Fprintf(w, "%s  %s  user=%s upstream=%s ip=%s  %s → %s  (was %s; now %s)\n",
		e.Time.Format(time.RFC3339), e.App, e.User, e.Upstream, e.ClientIP, c.Was, c.Now,
		ruleText(c.WasRule, e.Policy), ruleText(c.NowRule, c.PolicyNow))
	return err
}

func changeJSON(c *auditlog.Change) any {
	e := c.Event
	return struct {
		Time     time.Time `json:"time"`
		App      string    `json:"app"`
		User     string    `json:"user"`
		Upstream string    `json:"upstream"`
		ClientIP string    `json:"client_ip"`
		Was      string    `json:"was"`
		WasRule  string    `json:"was_rule"`
		Now      string    `json:"now"`
		NowRule  string    `json:"now_rule"`
		Policy   string    `json:"policy"`
	}{e.Time, e.App, e.User, e.Upstream, e.ClientIP, c.Was, c.WasRule, c.Now, c.NowRule, c.PolicyNow}
}

// Package auditlogtest writes synthetic audit logs for the audit history
// benchmarks (the library's and the command's).
package auditlogtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog"
)

// Log is Events access events of Users users, evenly spread over Days days
// from Start, in time order, each user in turn: about 475 bytes a line, as
// the broker writes them (a browser's user agent, the policy's inputs).
type Log struct {
	Events, Users, Days int
	Start               time.Time
}

// Million is issue 16's log: a million events, 1,000 users, 30 days
// (about 475 MB).
var Million = Log{Events: 1_000_000, Users: 1000, Days: 30, Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}

// User is the name of the i-th user.
func (l Log) User(i int) string { return fmt.Sprintf("user%04d@corp.example", i%l.Users) }

// Day is the start of day d of the log (from 0).
func (l Log) Day(d int) time.Time { return l.Start.AddDate(0, 0, d) }

// UserDay is how many events user u has in day d.
func (l Log) UserDay(u, d int) int {
	n := 0
	for i := u; i < l.Events; i += l.Users {
		if t := l.at(i); !t.Before(l.Day(d)) && t.Before(l.Day(d+1)) {
			n++
		}
	}
	return n
}

// at is the time of the i-th event.
func (l Log) at(i int) time.Time {
	return l.Start.Add(time.Duration(i) * (time.Duration(l.Days) * 24 * time.Hour / time.Duration(l.Events)))
}

// Write writes the log to w.
func (l Log) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range l.Events {
		t := l.at(i)
		if err := enc.Encode(auditlog.Event{Time: t, Event: "access", Outcome: "allow", User: l.User(i),
			Upstream: "corp-adfs", App: "wiki", Policy: "staff", Rule: "staff anywhere", ClientIP: "203.0.113.9",
			UserAgent:     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			CorrelationID: "01JDQ4V7Q5M7Y3K9T2W8X6Z4AB", Decision: "allow",
			Input: &auditlog.Input{Groups: []string{"staff"}, AMR: []string{"pwd"}, AuthTime: t}}); err != nil {
			return err
		}
	}
	return bw.Flush()
}

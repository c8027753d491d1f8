package auditlog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkScanUserDay is `fedgate audit --user U --since D --until D+1`
// over a log of a million events (1,000 users, 30 days, ~270 MB): the
// history query an admin runs most.
func BenchmarkScanUserDay(b *testing.B) {
	const events, users, days = 1_000_000, 1000, 30
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	step := time.Duration(days) * 24 * time.Hour / events
	for i := range events {
		t := start.Add(time.Duration(i) * step)
		enc.Encode(Event{Time: t, Event: "access", Outcome: "allow", User: fmt.Sprintf("user%04d@corp.example", i%users),
			Upstream: "corp-adfs", App: "wiki", Policy: "staff", Rule: "staff anywhere", ClientIP: "203.0.113.9",
			UserAgent:     "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			CorrelationID: "01JDQ4V7Q5M7Y3K9T2W8X6Z4AB", Decision: "allow",
			Input: &Input{Groups: []string{"staff"}, AMR: []string{"pwd"}, AuthTime: t}})
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	day := start.Add(17 * 24 * time.Hour)
	filter := Filter{User: "user0042@corp.example", Since: day, Until: day.Add(24 * time.Hour)}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if _, err := Scan([]string{path}, filter, func(*Line) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != events/users/days {
			b.Fatalf("found %d events, want %d", n, events/users/days)
		}
	}
	b.ReportMetric(float64(st.Size())/1e6, "MB-scanned")
}

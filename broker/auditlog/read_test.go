package auditlog

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestScanSeeksWithoutLosingEvents: a time-bounded scan seeks into a large
// log and stops early, yet finds exactly what decoding every line finds,
// also where concurrent writers left lines slightly out of order.
func TestScanSeeksWithoutLosingEvents(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []Event
	var body []byte
	for i := range 20000 { // ~4 MB: many bisection steps
		// Every 3 s, up to 30 s out of order.
		jitter := time.Duration(rng.IntN(60)-30) * time.Second
		e := Event{Time: start.Add(time.Duration(i)*3*time.Second + jitter), Event: "access", Outcome: "allow",
			User: fmt.Sprintf("u%d", i%7), App: "wiki", UserAgent: "agent"}
		all = append(all, e)
		b, _ := json.Marshal(e)
		body = append(append(body, b...), '\n')
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	at := func(min int) time.Time { return start.Add(time.Duration(min) * time.Minute) }
	for _, f := range []Filter{
		{Since: at(0)}, {Since: at(-60)}, {Since: at(250), Until: at(253)}, {User: "u3", Since: at(617), Until: at(650)},
		{Until: at(30)}, {Since: at(999)}, {Since: at(3000)}, {Since: at(100), Until: at(100)},
	} {
		var want, got []time.Time
		for i := range all {
			if f.Match(&all[i]) {
				want = append(want, all[i].Time)
			}
		}
		if _, err := Scan([]string{path}, f, func(l *Line) error { got = append(got, l.Time); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("filter %+v: got %d events, want %d", f, len(got), len(want))
		}
	}
}

package auditlog

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var logStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// jitteredLog is a log of 20,000 events (~2 MB: many bisection steps),
// every 3 s but up to 30 s out of order, as concurrent writers leave it.
func jitteredLog() (all []Event, body []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		jitter := time.Duration(rng.IntN(60)-30) * time.Second
		e := Event{Time: logStart.Add(time.Duration(i)*3*time.Second + jitter), Event: "access", Outcome: "allow",
			User: fmt.Sprintf("u%d", i%7), App: "wiki", UserAgent: "agent"}
		all = append(all, e)
		b, _ := json.Marshal(e)
		body = append(append(body, b...), '\n')
	}
	return all, body
}

// checkScan: Scan over paths with f finds exactly the events of all that f
// matches, in order; line, if not nil, checks each one's line number.
func checkScan(t *testing.T, paths []string, all []Event, f Filter, line func(l *Line, i int) bool) {
	t.Helper()
	var want []int
	for i := range all {
		if f.Match(&all[i]) {
			want = append(want, i)
		}
	}
	var got []time.Time
	if _, err := Scan(paths, f, func(l *Line) error {
		if i := len(got); i < len(want) && line != nil && !line(l, want[i]) {
			t.Errorf("filter %+v: event %d read as line %d of %s", f, want[i], l.No, l.File)
		}
		got = append(got, l.Time)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wantT []time.Time
	for _, i := range want {
		wantT = append(wantT, all[i].Time)
	}
	if !slices.Equal(got, wantT) {
		t.Errorf("filter %+v: got %d events, want %d", f, len(got), len(want))
	}
}

func at(min int) time.Time { return logStart.Add(time.Duration(min) * time.Minute) }

// TestScanSeeksWithoutLosingEvents: a time-bounded scan seeks into a large
// log and stops early, yet finds exactly what decoding every line finds,
// also where concurrent writers left lines slightly out of order.
func TestScanSeeksWithoutLosingEvents(t *testing.T) {
	all, body := jitteredLog()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{
		{Since: at(0)}, {Since: at(-60)}, {Since: at(250), Until: at(253)}, {User: "u3", Since: at(617), Until: at(650)},
		{Until: at(30)}, {Since: at(999)}, {Since: at(3000)}, {Since: at(100), Until: at(100)},
	} {
		checkScan(t, []string{path}, all, f, nil)
	}
}

// TestScanGzipSkipsWithoutLosingEvents: in a gzipped rotated log, passing
// over the blocks before Since, stopping past Until, and leaving a file
// that begins after Until lose no event of the range, whichever block
// boundary the range starts near; line numbers stay those of the file.
func TestScanGzipSkipsWithoutLosingEvents(t *testing.T) {
	all, body := jitteredLog()
	dir := t.TempDir()
	// The first half rotated and gzipped, the second gzipped again as
	// the newer rotation: Scan reads both, oldest first.
	half := bytes.Index(body[len(body)/2:], []byte("\n")) + len(body)/2 + 1
	older, newer := filepath.Join(dir, "audit.jsonl.2.gz"), filepath.Join(dir, "audit.jsonl.1.gz")
	for _, f := range []struct {
		path string
		body []byte
	}{{older, body[:half]}, {newer, body[half:]}} {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(f.body)
		zw.Close()
		if err := os.WriteFile(f.path, z.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Blocks of ~36 lines (~2 minutes), so that many ranges start just
	// after a block's last line.
	defer func(n int) { skipBlock = n }(skipBlock)
	skipBlock = 4 << 10
	linesBefore := bytes.Count(body[:half], []byte("\n"))
	lineOf := func(l *Line, i int) bool {
		if l.File == newer {
			i -= linesBefore
		}
		return l.No == i+1
	}
	// Ranges starting every 7 minutes of the log's ~1,000 fall at every
	// distance from a block's end, and at the files' boundary.
	for since := -10; since < 1010; since += 7 {
		checkScan(t, []string{older, newer}, all, Filter{Since: at(since), Until: at(since + 25)}, lineOf)
	}
	checkScan(t, []string{older, newer}, all, Filter{User: "u3", Since: at(480), Until: at(530)}, lineOf)
	checkScan(t, []string{older, newer}, all, Filter{Since: at(990)}, lineOf)
	checkScan(t, []string{older, newer}, all, Filter{Until: at(40)}, lineOf)
}

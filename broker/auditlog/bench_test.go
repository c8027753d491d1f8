package auditlog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgate/fedgate/broker/auditlog"
	"github.com/fedgate/fedgate/broker/auditlog/auditlogtest"
)

// BenchmarkScanUserDay is the library under `fedgate audit --user U
// --since D --until D+1` over a plain log of a million events (1,000
// users, 30 days, ~475 MB, page-cached): it seeks to the day by bisection,
// so it reads the day's ~16 MB, not the file. cmd/fedgate's
// BenchmarkAuditCommand times the command itself, and a gzipped copy.
func BenchmarkScanUserDay(b *testing.B) {
	l := auditlogtest.Million
	path := filepath.Join(b.TempDir(), "audit.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Write(f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	day := l.Day(17)
	filter := auditlog.Filter{User: l.User(42), Since: day, Until: day.AddDate(0, 0, 1)}
	want := l.UserDay(42, 17)
	for b.Loop() {
		n := 0
		if _, err := auditlog.Scan([]string{path}, filter, func(*auditlog.Line) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != want {
			b.Fatalf("found %d events, want %d", n, want)
		}
	}
}

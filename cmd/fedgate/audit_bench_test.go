package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/auditlog/auditlogtest"
)

// auditBench is the built fedgate and issue 16's log of a million events,
// made once per test process (the log takes seconds to write) in a
// directory TestMain removes.
var auditBench struct {
	once sync.Once
	dir  string
	err  error
}

// auditBenchFiles builds fedgate and writes the log twice: as a live plain
// file (plain/audit.jsonl), and gzipped as logrotate leaves it
// (rotated/audit.jsonl.1.gz, last written when its last event was, beside
// an empty live file).
func auditBenchFiles(b *testing.B) string {
	b.Helper()
	auditBench.once.Do(func() {
		auditBench.dir, auditBench.err = os.MkdirTemp("", "fedgate-auditbench-")
		if auditBench.err == nil {
			auditBench.err = writeAuditBench(auditBench.dir)
		}
	})
	if auditBench.err != nil {
		b.Fatal(auditBench.err)
	}
	return auditBench.dir
}

func writeAuditBench(dir string) error {
	if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "fedgate"), ".").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{"plain", "rotated"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	plain, err := os.Create(filepath.Join(dir, "plain", "audit.jsonl"))
	if err != nil {
		return err
	}
	defer plain.Close()
	gzPath := filepath.Join(dir, "rotated", "audit.jsonl.1.gz")
	gz, err := os.Create(gzPath)
	if err != nil {
		return err
	}
	defer gz.Close()
	zw := gzip.NewWriter(gz) // logrotate's default: gzip -6
	l := auditlogtest.Million
	if err := l.Write(io.MultiWriter(plain, zw)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	last := l.Day(l.Days)
	if err := os.Chtimes(gzPath, last, last); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "rotated", "audit.jsonl"), nil, 0o600)
}

// BenchmarkAuditCommand: issue 16's "`fedgate audit` over 1,000,000 events
// answers a user+day query in under a second", end to end: the built
// binary run as an admin runs it (process start, flags, reading the log,
// the table), over the live plain file and over the same events gzipped
// as a rotated file. ns/op is the wall time of one run; cpu-ms/op the
// child's user + system time, which other processes' load inflates less.
//
//	go test -run '^$' -bench AuditCommand -count 5 ./cmd/fedgate
func BenchmarkAuditCommand(b *testing.B) {
	dir := auditBenchFiles(b)
	l := auditlogtest.Million
	for _, c := range []struct {
		name, dir string
		day       int
	}{
		{"plain/day-17", "plain", 17}, {"gzip-rotated/day-17", "rotated", 17}, {"gzip-rotated/day-29", "rotated", 29},
	} {
		b.Run(c.name, func(b *testing.B) {
			since := l.Day(c.day)
			args := []string{"audit", "--file", filepath.Join(dir, c.dir, "audit.jsonl"), "--user", l.User(42),
				"--since", since.Format(time.RFC3339), "--until", since.AddDate(0, 0, 1).Format(time.RFC3339)}
			want := l.UserDay(42, c.day)
			var cpu time.Duration
			for b.Loop() {
				var out bytes.Buffer
				cmd := exec.Command(filepath.Join(dir, "fedgate"), args...)
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					b.Fatalf("%v: %v\n%s", cmd, err, out.String())
				}
				cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
				// The header, then the user's events of the day.
				if rows := strings.Count(out.String(), "\n") - 1; rows != want {
					b.Fatalf("%d rows, want %d:\n%s", rows, want, out.String())
				}
			}
			b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// auditLine is an audit event as the broker writes it.
func auditLine(t *testing.T, at time.Time, event, outcome, user, app, ip, rule, decision string, groups ...string) string {
	t.Helper()
	e := map[string]any{"time": at, "event": event, "outcome": outcome, "user": user, "upstream": "local",
		"app": app, "client_ip": ip, "policy": "office-hours", "rule": rule}
	if decision != "" {
		e["decision"] = decision
		e["input"] = map[string]any{"groups": groups, "amr": []string{"pwd"}, "auth_time": at}
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\n"
}

// writeRotated writes the audit log as logrotate leaves it: the oldest
// lines in audit.jsonl.2.gz, then audit.jsonl.1, then the live file.
func writeRotated(t *testing.T, dir string, parts ...string) string {
	t.Helper()
	live := filepath.Join(dir, "audit.jsonl")
	names := []string{live + ".2.gz", live + ".1", live}
	start := time.Now().Add(-time.Hour)
	for i, body := range parts {
		data := []byte(body)
		if strings.HasSuffix(names[i], ".gz") {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		writeFile(t, dir, filepath.Base(names[i]), string(data))
		mod := start.Add(time.Duration(i) * time.Minute)
		if err := os.Chtimes(names[i], mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	return live
}

func TestAuditHistory(t *testing.T) {
	dir := t.TempDir()
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	live := writeRotated(t, dir,
		auditLine(t, day.Add(1*time.Hour), "signin", "success", "alice", "wiki", "10.0.0.1", "", "")+
			auditLine(t, day.Add(2*time.Hour), "access", "deny", "bob", "wiki", "203.0.113.9", "", "deny"),
		auditLine(t, day.Add(25*time.Hour), "access", "allow", "alice", "wiki", "10.0.0.1", "office network", "allow")+
			"not an event\n",
		auditLine(t, day.Add(49*time.Hour), "signin", "failure", "alice", "", "203.0.113.9", "", ""))
	tests := []struct {
		name  string
		args  []string
		code  int
		lines []string // each row of the output must contain these, in order
	}{
		{"alice across all rotations, oldest first", []string{"--user", "alice"}, 0,
			[]string{"TIME", "signin  success  alice", "access  allow    alice", "signin  failure  alice"}},
		{"one day", []string{"--user", "alice", "--since", day.Add(24 * time.Hour).Format(time.RFC3339), "--until", day.Add(48 * time.Hour).Format(time.RFC3339)}, 0,
			[]string{"TIME", "access  allow    alice"}},
		{"denials", []string{"--outcome", "deny"}, 0, []string{"TIME", "bob"}},
		{"nobody", []string{"--user", "mallory"}, 0, []string{"TIME"}},
		{"everything", nil, 0, []string{"TIME", "alice", "bob", "alice", "alice"}},
		{"negative duration", []string{"--since", "-5h"}, 2, nil},
		{"bad time", []string{"--since", "yesterday"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"audit", "--file", live}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			if tt.args == nil && !strings.Contains(stderr, "skipped 1 line(s) that are not audit events") {
				t.Errorf("the line that is not an event was not reported: %q", stderr)
			}
			if tt.lines == nil {
				return
			}
			rows := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(rows) != len(tt.lines) {
				t.Fatalf("got %d rows, want %d:\n%s", len(rows), len(tt.lines), stdout)
			}
			for i, want := range tt.lines {
				if !strings.Contains(rows[i], want) {
					t.Errorf("row %d %q lacks %q", i, rows[i], want)
				}
			}
		})
	}
	code, stdout, _ := runCLI("audit", "--file", live, "--json", "--app", "wiki", "--event", "access")
	var got []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		got = append(got, m)
	}
	if code != 0 || len(got) != 2 || got[1]["rule"] != "office network" {
		t.Errorf("--json: exit %d, %v", code, got)
	}
	if code, _, stderr := runCLI("audit", "--file", filepath.Join(dir, "nothing.jsonl")); code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("missing log: exit %d %q", code, stderr)
	}
}

func TestPolicyReplayCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", explainConfig)
	writeFile(t, dir, "policy.yaml", explainPolicy)
	cfg := filepath.Join(dir, "fedgate.yaml")
	at := time.Now().Add(-24 * time.Hour)
	log := filepath.Join(dir, "audit.jsonl")
	writeFile(t, dir, "audit.jsonl",
		auditLine(t, at, "access", "allow", "alice", "wiki", "10.1.2.3", "office network", "allow")+
			auditLine(t, at, "access", "deny", "bob", "wiki", "203.0.113.9", "", "deny")+
			auditLine(t, at.AddDate(0, 0, -30), "access", "allow", "old", "wiki", "10.1.2.3", "office network", "allow")+
			auditLine(t, at, "signin", "success", "alice", "", "10.1.2.3", "", ""))

	code, stdout, stderr := runCLI("policy", "replay", "--config", cfg, log)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "2 decision(s) of the last 7 day(s) replayed; 0 would change") {
		t.Fatalf("unchanged policy: exit %d\n%s%s", code, stdout, stderr)
	}
	// The edit: the office network shrinks to 10.9.0.0/16.
	writeFile(t, dir, "policy.yaml", strings.Replace(explainPolicy, "10.0.0.0/8", "10.9.0.0/16", 1))
	code, stdout, stderr = runCLI("policy", "replay", "--config", cfg, log)
	want := fmt.Sprintf("%s  wiki  user=alice upstream=local ip=10.1.2.3  allow → deny  (was rule \"office network\"; now no rule of office-hours matched: denied by default)\n",
		at.Format(time.RFC3339))
	if code != 1 || stdout != want || !strings.Contains(stderr, "1 would change: 1 allow → deny") {
		t.Fatalf("shrunk office: exit %d\n got %q\nwant %q\n%s", code, stdout, want, stderr)
	}
	code, stdout, _ = runCLI("policy", "replay", "--config", cfg, "--json", log)
	var ch struct {
		User, Was, Now string
		WasRule        string `json:"was_rule"`
	}
	if err := json.Unmarshal([]byte(stdout), &ch); err != nil || code != 1 || ch.User != "alice" || ch.Was != "allow" || ch.Now != "deny" || ch.WasRule != "office network" {
		t.Fatalf("--json: exit %d %v %+v", code, err, ch)
	}
	if code, _, _ := runCLI("policy", "replay", log); code != 2 {
		t.Errorf("without --config: exit %d, want 2", code)
	}
}

// TestExplainJSONShapeDocumented: the JSON that docs/policy.md shows for
// `policy explain --json` has exactly the fields the command prints.
func TestExplainJSONShapeDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "`--json` prints the same as one JSON object")
	_, block, _ := strings.Cut(rest, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	var documented map[string]any
	if err := json.Unmarshal([]byte(block), &documented); err != nil {
		t.Fatalf("docs/policy.md's explain JSON: %v", err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", explainConfig)
	writeFile(t, dir, "policy.yaml", explainPolicy)
	// Every optional field shows: a step-up (MFA fields) after a failed
	// rule (trace).
	_, stdout, _ := runCLI("policy", "explain", "--config", filepath.Join(dir, "fedgate.yaml"), "--app", "wiki",
		"--user", "a", "--groups", "admins", "--ip", "203.0.113.9", "--json")
	var printed map[string]any
	if err := json.Unmarshal([]byte(stdout), &printed); err != nil {
		t.Fatal(err)
	}
	for k := range printed {
		if _, ok := documented[k]; !ok {
			t.Errorf("explain prints %q, which docs/policy.md does not show", k)
		}
	}
	for k := range documented {
		if _, ok := printed[k]; !ok && k != "max_session" && k != "message" && k != "notes" {
			t.Errorf("docs/policy.md shows %q, which explain did not print for a step-up", k)
		}
	}
}

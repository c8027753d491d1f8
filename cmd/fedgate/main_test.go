package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	code, _, stderr := runCLI("check", "--config", "../../config/testdata/three-mistakes.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		`three-mistakes.yaml:4:3: unknown key "lisen" (hint: did you mean "listen"?)`,
		`three-mistakes.yaml:7:13: time: invalid duration "forever"`,
		`three-mistakes.yaml:14:17: app "demo" refers to undefined upstream "ghost"`,
		"3 problem(s); configuration NOT ok",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	code, stdout, stderr := runCLI("check", "--config", "../../examples/quickstart/fedgate.yaml")
	if code != 0 || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, "ok — 1 upstream(s), 1 app(s)") {
		t.Fatalf("good config: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat("../../examples/quickstart/data"); err == nil {
		t.Log("note: quickstart data dir exists (from a manual run); check must not create it")
	}
}

// TestCheckWarnsOfUnknownIDs: a rule naming an upstream or app the config
// lacks is a warning (the config is usable; the rule never matches).
func TestCheckWarnsOfUnknownIDs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", explainConfig)
	writeFile(t, dir, "policy.yaml", explainPolicy+`  - name: windows users
    when: { upstreams: [lokal] }
    allow: {}
`)
	code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 0 || !strings.Contains(stdout, "1 warning(s)") ||
		!strings.Contains(stderr, `policy.yaml:14:25: upstreams: "lokal" is not defined in the config, so this condition never holds (hint: did you mean "local"?)`) {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestCheckReportsBadUsersFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: local, type: local, users_file: users.yaml, colour: red }
`)
	writeFile(t, dir, "users.yaml", "users:\n  - { username: a, password_hash: plain }\n")
	code, _, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	if code != 1 || !strings.Contains(stderr, `fedgate.yaml:4:55: unknown key "colour"`) {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams:
  - { id: local, type: local, users_file: users.yaml }
  - { id: ad, type: ldap }
`)
	code, _, stderr = runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml"))
	for _, want := range []string{`upstream "local": users[0] (a): password hash is neither`, `upstream "ad" has unknown type "ldap"`} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want %q in:\n%s", code, want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("check wrote the data dir; it must never write")
	}
}

const explainConfig = `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams: [{ id: local, type: local }]
apps: [{ id: wiki, type: whoami, policy: office-hours }]
policies: [policy.yaml]
`

const explainPolicy = `policy: office-hours
timezone: Asia/Tokyo
rules:
  - name: office network
    when: { networks: [10.0.0.0/8] }
    allow: {}
  - name: admins need recent MFA
    when: { groups: [admins] }
    allow: { mfa: { max_age: 1h } }
  - name: staff on weekdays
    when: { groups: [staff], time: { weekdays: [mon, tue, wed, thu, fri], hours: "08:00-20:00" } }
    allow: {}
`

func TestPolicyExplain(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "fedgate.yaml", explainConfig)
	writeFile(t, dir, "policy.yaml", explainPolicy)
	cfg := filepath.Join(dir, "fedgate.yaml")
	base := []string{"policy", "explain", "--config", cfg, "--app", "wiki"}
	tests := []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"allow from the office", []string{"--user", "u", "--ip", "10.1.2.3"}, 0, []string{"decision: allow", "rule:     office network"}},
		{"deny: nothing matches", []string{"--user", "u", "--ip", "203.0.113.9", "--time", "2026-11-22T10:00:00+09:00"}, 1,
			[]string{"decision: deny", "(none matched", "office network: ", "203.0.113.9", "staff on weekdays: "}},
		{"step-up: admin without MFA", []string{"--user", "a", "--groups", "admins", "--ip", "203.0.113.9"}, 3,
			[]string{"decision: step-up", "rule:     admins need recent MFA", "requires: MFA"}},
		{"allow: admin with fresh MFA", []string{"--user", "a", "--groups", "admins", "--ip", "203.0.113.9", "--amr", "pwd,mfa", "--auth-age", "30m"}, 0,
			[]string{"decision: allow"}},
		{"staff on a Monday morning in Tokyo", []string{"--user", "s", "--groups", "staff", "--ip", "203.0.113.9", "--time", "2026-11-23T09:00:00+09:00"}, 0,
			[]string{"rule:     staff on weekdays"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append(base, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			for _, c := range tt.contains {
				if !strings.Contains(stdout, c) {
					t.Errorf("output lacks %q:\n%s", c, stdout)
				}
			}
		})
	}
	code, stdout, _ := runCLI(append(base, "--user", "u", "--ip", "203.0.113.9", "--json")...)
	var out struct {
		Decision string `json:"decision"`
		Trace    []struct{ Rule, Failed string }
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 1 || out.Decision != "deny" || len(out.Trace) != 3 {
		t.Fatalf("json: exit %d err %v %+v\n%s", code, err, out, stdout)
	}
	if code, _, _ := runCLI("policy", "explain", "--config", cfg, "--app", "nope", "--user", "u"); code != 2 {
		t.Errorf("unknown app exit %d, want 2", code)
	}
	if code, _, stderr := runCLI(append(base, "--user", "u", "--auth-age", "-1h")...); code != 2 || !strings.Contains(stderr, "--auth-age cannot be negative") {
		t.Errorf("negative --auth-age: exit %d %q, want 2 and why", code, stderr)
	}
}

func TestKeysGenerateAndHashPassword(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"keys", "generate", "--cookie", filepath.Join(dir, "c.key")},
		{"keys", "generate", "--signing", filepath.Join(dir, "rsa.pem")},
		{"keys", "generate", "--signing", filepath.Join(dir, "ec.pem"), "--alg", "p256"},
		{"keys", "generate", "--signing", filepath.Join(dir, "rsa3.pem"), "--alg", "rsa3072"},
	} {
		if code, _, stderr := runCLI(args...); code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI("keys", "generate", "--cookie", filepath.Join(dir, "c.key")); code != 1 || !strings.Contains(stderr, "exist") {
		t.Errorf("overwrite: exit %d %s", code, stderr)
	}
	var out bytes.Buffer
	if code := run([]string{"hash-password"}, strings.NewReader("s3cret\n"), &out, &bytes.Buffer{}); code != 0 ||
		!regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}\n$`).MatchString(out.String()) {
		t.Fatalf("hash-password: exit %d %q", code, out.String())
	}
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies: examples/fleet/fedgate.service passes
// `systemd-analyze verify` without a word, and a broken copy does not (so
// the check can fail). The binary path points at this test binary, which
// verify requires to exist.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := requirePeer(t, "systemd-analyze")
	unit, err := os.ReadFile("../../examples/fleet/fedgate.service")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	good := replaceAll(t, string(unit), "/usr/local/bin/fedgate", bin)
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(good, want+"\n") {
			t.Errorf("unit lacks %s", want)
		}
	}
	for name, body := range map[string]string{
		"good": good,
		"bad":  strings.Replace(good, "ProtectSystem=strict", "ProtectSystem=strictest", 1),
	} {
		dir := t.TempDir()
		writeFile(t, dir, "fedgate.service", body)
		out, err := exec.Command(analyze, "verify", filepath.Join(dir, "fedgate.service")).CombinedOutput()
		clean := err == nil && len(strings.TrimSpace(string(out))) == 0
		if clean != (name == "good") {
			t.Errorf("%s unit: verify clean=%v: %v\n%s", name, clean, err, out)
		}
	}
}

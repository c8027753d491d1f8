package main

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func vcsInfo(version, modified string) *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/fedgate/fedgate", Version: version},
		Settings: []debug.BuildSetting{
			{Key: "-buildmode", Value: "exe"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "5dee0e43fea81d1cab98e5dcaed4992c5df8ebc6"},
			{Key: "vcs.time", Value: "2026-12-02T02:33:52Z"},
			{Key: "vcs.modified", Value: modified},
		},
	}
}

func TestBuildVersion(t *testing.T) {
	const pseudo = "v0.0.0-20261202023352-5dee0e43fea8"
	tests := []struct {
		name    string
		ldflags string
		info    *debug.BuildInfo
		want    string
	}{
		{"go build in a clean checkout", "", vcsInfo(pseudo, "false"),
			"fedgate " + pseudo + " (revision 5dee0e43fea81d1cab98e5dcaed4992c5df8ebc6, committed 2026-12-02T02:33:52Z, go1.26.8)"},
		{"go build in a modified checkout", "", vcsInfo(pseudo+"+dirty", "true"),
			"fedgate " + pseudo + "+dirty (revision 5dee0e43fea81d1cab98e5dcaed4992c5df8ebc6, modified, committed 2026-12-02T02:33:52Z, go1.26.8)"},
		{"go install of a tagged release", "", vcsInfo("v1.4.0", "false"),
			"fedgate v1.4.0 (revision 5dee0e43fea81d1cab98e5dcaed4992c5df8ebc6, committed 2026-12-02T02:33:52Z, go1.26.8)"},
		{"-ldflags wins over the module version", "v1.4.1-rc1", vcsInfo(pseudo, "false"),
			"fedgate v1.4.1-rc1 (revision 5dee0e43fea81d1cab98e5dcaed4992c5df8ebc6, committed 2026-12-02T02:33:52Z, go1.26.8)"},
		{"no VCS information (-buildvcs=false, go run)", "",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"fedgate dev (revision unknown, go1.26.8)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func(v string) { version = v }(version)
			version = tt.ldflags
			v, detail := buildVersion(tt.info)
			if got := "fedgate " + v + " (" + detail + ")"; got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	if v, _ := buildVersion(nil); v != "dev" {
		t.Errorf("without build information: version %q, want dev", v)
	}
}

// The command prints one line in that shape from the test binary's own build information.
func TestVersionCommand(t *testing.T) {
	code, stdout, stderr := runCLI("version")
	shape := regexp.MustCompile(`^fedgate \S+ \(revision (?:[0-9a-f]+|unknown)` +
		`(, modified)?(, committed \S+)?, go\S+\)\n$`)
	if code != 0 || stderr != "" || !shape.MatchString(stdout) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want one line matching %s", code, stdout, stderr, shape)
	}
}

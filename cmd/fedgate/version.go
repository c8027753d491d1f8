package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version, when set at build time with -ldflags "-X main.version=...", overrides the
// module version from the build information.
var version string

// buildVersion returns the module version and a detail line: the VCS revision (with
// ", modified" for a dirty tree), the commit time and the Go version. All come from
// the build information the go command embeds, so a plain `go build` or `go install`
// is identifiable without -ldflags. Go records no build time (builds are
// reproducible); the commit time stands in for it.
func buildVersion(info *debug.BuildInfo) (ver, detail string) {
	ver, rev, modified, when, gov := version, "unknown", false, "", runtime.Version()
	if info != nil {
		if ver == "" && info.Main.Version != "(devel)" {
			ver = info.Main.Version
		}
		if info.GoVersion != "" {
			gov = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "vcs.time":
				when = s.Value
			}
		}
	}
	if ver == "" {
		ver = "dev"
	}
	parts := []string{"revision " + rev}
	if modified {
		parts[0] += ", modified"
	}
	if when != "" {
		parts = append(parts, "committed "+when)
	}
	return ver, strings.Join(append(parts, gov), ", ")
}

// readBuildInfo is the running binary's build information; nil when it has none.
func readBuildInfo() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
}

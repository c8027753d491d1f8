package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// A domain's user names belong to one upstream: fedgate check refuses a
// domain listed twice, a domain that is not a DNS name (a dotless one could
// pass for an upstream id) and an undefined default owner.
func TestValidateDomainOwnership(t *testing.T) {
	tests := []struct {
		name      string
		upstreams string
		names     string
		want      []string // each must appear in the error; none: the config loads
	}{
		{name: "one owner per domain", upstreams: `
  - { id: corp, type: local, domains: [corp.example, Corp.Example] }
  - { id: partner, type: local, domains: [partner.example] }`, names: "user_names: { default_owner: corp }"},
		{name: "domain listed by two upstreams", upstreams: `
  - { id: corp, type: local, domains: [corp.example] }
  - { id: partner, type: local, domains: [partner.example, CORP.example] }`,
			want: []string{`f.yaml:5:60:`, `domain "CORP.example" is listed by upstreams "corp" and "partner"`}},
		{name: "not a DNS domain", upstreams: `
  - { id: corp, type: local, domains: [corp, "*.corp.example", "alice@corp.example", "corp.example."] }`,
			want: []string{`invalid domain "corp"`, `invalid domain "*.corp.example"`, `invalid domain "alice@corp.example"`, `invalid domain "corp.example."`}},
		{name: "shared group", upstreams: `
  - { id: windows, type: local }
  - { id: adfs, type: local, domains: [corp.example] }`, names: "user_names: { shared: [[windows, adfs]] }"},
		{name: "bad shared groups", upstreams: `
  - { id: windows, type: local }
  - { id: adfs, type: local }
  - { id: partner, type: local }`, names: "user_names: { shared: [[windows, adfs], [adfs, partner], [ghost, windows], [partner]] }",
			want: []string{`upstream "adfs" is in more than one shared group`, `undefined upstream "ghost"`, `a shared group needs at least two upstreams`}},
		{name: "undefined default owner", upstreams: `
  - { id: corp, type: local }`, names: "user_names: { default_owner: ghost }",
			want: []string{`user_names.default_owner refers to undefined upstream "ghost"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "f.yaml", `server: { public_url: "http://127.0.0.1", insecure_http: true }
data_dir: d
upstreams:`+tt.upstreams+"\n"+tt.names+"\n")
			_, err := Load(filepath.Join(dir, "f.yaml"))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestGroupsSeparator: the separator cannot be one the group encoding
// (percent-encoding) writes itself.
func TestGroupsSeparator(t *testing.T) {
	for sep, ok := range map[string]bool{",": true, "; ": true, "|": true, "、": true, "%": false, "a": false, " 2 ": false} {
		dir := t.TempDir()
		write(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
data_dir: ./data
upstreams: [{ id: local, type: local }]
apps:
  - { id: wiki, type: proxy, host: wiki.example, to: ["http://10.0.0.5"], policy: p,
      headers: { X-Groups: groups }, groups_separator: "`+sep+`" }
policies: [p.yaml]
`)
		write(t, dir, "p.yaml", "policy: p\nrules:\n  - { name: all, allow: {} }\n")
		_, err := Load(filepath.Join(dir, "fedgate.yaml"))
		if ok && err != nil || !ok && (err == nil || !strings.Contains(err.Error(), "invalid groups_separator")) {
			t.Errorf("groups_separator %q: %v, want accepted=%v", sep, err, ok)
		}
	}
}

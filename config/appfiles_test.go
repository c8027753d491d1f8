package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Apps in app_files join the inline ones; a problem in one is reported in
// its own file, at its own line.
func TestAppFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:8080", insecure_http: true }
data_dir: ./data
upstreams: [ { id: local, type: local } ]
apps:
  - { id: inline, type: whoami, policy: staff }
app_files: [apps/*.yaml]
policies: [staff.yaml]
`)
	staff, _ := os.ReadFile("testdata/staff.yaml")
	write(t, dir, "staff.yaml", string(staff))
	if err := os.Mkdir(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "apps/a.yaml", "- { id: a, type: whoami, policy: staff }\n- { id: b, type: proxy, host: b.example, to: [\"builtin:echo\"], policy: staff }\n")
	c, err := Load(filepath.Join(dir, "fedgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Apps) != 3 || c.Apps[2].ID != "b" || c.Apps[2].PathPrefix != "/" {
		t.Fatalf("apps %+v (defaults must apply to app_files apps too)", c.Apps)
	}
	if !strings.HasSuffix(c.Files[1], filepath.Join("apps", "a.yaml")) {
		t.Errorf("app files must be watched for reload: %v", c.Files)
	}

	write(t, dir, "apps/b.yaml", "# second\n- { id: c, type: whoami, policy: nobody }\n- { id: d, typo: x }\n")
	_, err = Load(filepath.Join(dir, "fedgate.yaml"))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		filepath.Join(dir, "apps/b.yaml") + `:3:12: unknown key "typo"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	write(t, dir, "apps/b.yaml", "# second\n- { id: c, type: whoami, policy: nobody }\n")
	_, err = Load(filepath.Join(dir, "fedgate.yaml"))
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "apps/b.yaml")+":2:") || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("an undefined policy in an app file must point into it:\n%v", err)
	}
	write(t, dir, "apps/b.yaml", "id: c\n")
	if _, err = Load(filepath.Join(dir, "fedgate.yaml")); err == nil || !strings.Contains(err.Error(), "expected a list of apps") {
		t.Errorf("a file that is not a list: %v", err)
	}
}

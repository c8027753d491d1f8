package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/fedgate/fedgate/broker/keys"
)

const farmDir = "../../config/adfs/testdata/farm"

// importFarm runs `fedgate import adfs` over the corpus into a new
// directory and returns it.
func importFarm(t *testing.T, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	pw := filepath.Join(t.TempDir(), "pw")
	writeFile(t, filepath.Dir(pw), "pw", "test-only-password\n")
	args := append([]string{"import", "adfs", "--from", farmDir, "--out", out,
		"--token-signing-pfx", filepath.Join(farmDir, "token-signing.pfx"), "--pfx-password-file", pw}, extra...)
	code, stdout, stderr := runCLI(args...)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	return out
}

// Everything the import writes is accepted by `fedgate check`, and the
// imported key is the farm's: its certificate is the one in the metadata.
func TestImportADFSPassesCheck(t *testing.T) {
	out := importFarm(t, "--json")
	code, stdout, stderr := runCLI("check", "--config", filepath.Join(out, "fedgate.yaml"))
	if code != 0 || !strings.Contains(stdout, "15 app(s)") {
		t.Fatalf("check: exit %d\n%s%s", code, stdout, stderr)
	}
	k, err := keys.LoadSigningKey(filepath.Join(out, "keys", "adfs-token-signing.pem"))
	if err != nil {
		t.Fatal(err)
	}
	crt, _ := os.ReadFile(filepath.Join(farmDir, "token-signing.crt"))
	blk, _ := pem.Decode(crt)
	if blk == nil || !bytes.Equal(blk.Bytes, k.Cert.Raw) {
		t.Errorf("imported certificate is not the farm's token-signing certificate")
	}
	st, _ := os.Stat(filepath.Join(out, "keys", "adfs-token-signing.pem"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	var report struct {
		Farm   string `json:"farm"`
		Trusts []struct{ Trust, Status string }
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &report); err != nil || report.Farm != "http://fs.corp.example/adfs/services/trust" || len(report.Trusts) < 10 {
		t.Errorf("report.json: %v %+v", err, report)
	}
	app, _ := os.ReadFile(filepath.Join(out, "apps", "hr-portal.yaml"))
	if !strings.Contains(string(app), `issuer: "http://fs.corp.example/adfs/services/trust"`) {
		t.Errorf("the imported identity is not the SAML issuer:\n%s", app)
	}
}

func TestImportADFSRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad-pw", "wrong\n")
	// A PFX whose certificate the farm does not publish.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, "wrong")
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.pfx")
	writeFile(t, dir, "other.pfx", string(pfx))
	full := filepath.Join(dir, "full")
	if err := os.Mkdir(full, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, full, "x", "x")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", []string{"--token-signing-pfx", filepath.Join(farmDir, "token-signing.pfx"), "--pfx-password-file", filepath.Join(dir, "bad-pw")}, "password"},
		{"password from an unset variable", []string{"--token-signing-pfx", filepath.Join(farmDir, "token-signing.pfx"), "--pfx-password-env", "FEDGATE_TEST_UNSET_PW"}, "not set"},
		{"a key the farm does not publish", []string{"--token-signing-pfx", other, "--pfx-password-file", filepath.Join(dir, "bad-pw")}, "is not a token-signing certificate in FederationMetadata.xml"},
		{"not a PFX", []string{"--token-signing-pfx", filepath.Join(farmDir, "token-signing.crt"), "--pfx-password-file", filepath.Join(dir, "bad-pw")}, "token-signing.crt"},
		{"output not empty", []string{"--out", full}, "not empty"},
		{"a bad intranet", []string{"--intranet", "10.0.0.0/8,intranet"}, `"intranet" is not a CIDR`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"import", "adfs", "--from", farmDir, "--out", filepath.Join(t.TempDir(), "o")}
			code, _, stderr := runCLI(append(args, tc.args...)...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, tc.want, stderr)
			}
		})
	}
	// A broken export file stops the import before anything is written.
	broken := filepath.Join(dir, "broken")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, broken, "RelyingPartyTrusts.json", `[{"Name": "x", "Identifier": `)
	out := filepath.Join(dir, "broken-out")
	if code, _, stderr := runCLI("import", "adfs", "--from", broken, "--out", out); code != 1 || !strings.Contains(stderr, "Get-AdfsRelyingPartyTrust") {
		t.Errorf("broken export: exit %d, want 1 naming the file:\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed import wrote %s", out)
	}
	if code, _, _ := runCLI("import", "adfs", "--out", dir); code != 2 {
		t.Errorf("missing --from: exit %d, want 2", code)
	}
}

// yamlBlocks are the ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []string {
	t.Helper()
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, part := range strings.Split(string(doc), "```yaml\n")[1:] {
		out = append(out, part[:strings.Index(part, "```")])
	}
	return out
}

// The YAML in docs/migrate-from-adfs.md is what the import writes, word for
// word, and the app_files snippet in docs/config.md passes check.
func TestDocsADFSSnippets(t *testing.T) {
	out := importFarm(t)
	var written []string
	err := filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			b, _ := os.ReadFile(p)
			written = append(written, string(b))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(t, "../../docs/migrate-from-adfs.md")
	if len(blocks) < 4 {
		t.Fatalf("%d yaml blocks in migrate-from-adfs.md", len(blocks))
	}
	for _, b := range blocks {
		if !slices.ContainsFunc(written, func(w string) bool { return strings.Contains(w, b) }) {
			t.Errorf("migrate-from-adfs.md shows what the import does not write:\n%s", b)
		}
	}

	var snippet string
	for _, b := range yamlBlocks(t, "../../docs/config.md") {
		if strings.HasPrefix(b, "# apps/hr-portal.yaml") {
			snippet = b
		}
	}
	if snippet == "" {
		t.Fatal("no app_files snippet in config.md")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "apps"), "hr-portal.yaml", snippet)
	writeFile(t, dir, "p.yaml", "policy: adfs-hr-portal\nrules:\n  - { name: all, allow: {} }\n")
	writeFile(t, dir, "fedgate.yaml", `server: { public_url: "http://127.0.0.1:1", insecure_http: true }
data_dir: data
upstreams: [ { id: local, type: local } ]
app_files: [apps/*.yaml]
policies: [p.yaml]
`)
	if code, stdout, stderr := runCLI("check", "--config", filepath.Join(dir, "fedgate.yaml")); code != 0 {
		t.Errorf("config.md app_files snippet: exit %d\n%s%s", code, stdout, stderr)
	}
}

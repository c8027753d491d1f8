package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTLSConfig(t *testing.T) {
	tests := []struct {
		name, tls string
		env       map[string]string
		wantErr   string // "" = valid
	}{
		{"files", `{ cert_file: c.pem, key_file: k.pem }`, nil, ""},
		{"acme defaults", `{ acme: { email: ops@example.co.jp } }`, nil, ""},
		{"acme with eab from env", `{ acme: { directory_url: "https://acme.zerossl.com/v2/DV90", eab: { key_id: kid, hmac_key: "${EAB_HMAC}" } } }`, map[string]string{"EAB_HMAC": "c2VjcmV0"}, ""},
		{"both", `{ cert_file: c.pem, key_file: k.pem, acme: {} }`, nil, "both certificate files and acme"},
		{"cert without key", `{ cert_file: c.pem }`, nil, "needs both cert_file and key_file"},
		{"neither", `{}`, nil, "no certificate is configured"},
		{"plain http directory", `{ acme: { directory_url: "http://ca.example/dir" } }`, nil, "invalid acme directory_url"},
		{"unknown challenge", `{ acme: { challenges: [dns-01] } }`, nil, `unknown ACME challenge "dns-01"`},
		{"eab without hmac", `{ acme: { eab: { key_id: kid } } }`, nil, "needs both key_id and hmac_key"},
		{"eab env unset", `{ acme: { eab: { key_id: kid, hmac_key: "${EAB_UNSET_X}" } } }`, nil, "EAB_UNSET_X is not set"},
		{"typo", `{ acme: { emial: x } }`, nil, `unknown key "emial"`},
		{"acme without TLS", `{ acme: {} }, insecure_http: true`, nil, "server.tls.acme is set with insecure_http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			write(t, dir, "fedgate.yaml", "server: { public_url: \"https://sso.example.co.jp\", tls: "+tc.tls+" }\ndata_dir: ./data\nupstreams: [{ id: local, type: local }]\n")
			_, err := Load(filepath.Join(dir, "fedgate.yaml"))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestACMEDefaults(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "fedgate.yaml", "server: { public_url: \"https://sso.example.co.jp\", tls: { acme: { email: a@b.example, ca_file: ca.pem, eab: { key_id: k, hmac_key: \"file:"+filepath.Join(dir, "hmac")+"\" } } } }\ndata_dir: ./data\nupstreams: [{ id: local, type: local }]\n")
	write(t, dir, "hmac", "c2VjcmV0\n")
	c, err := Load(filepath.Join(dir, "fedgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Server.TLS.ACME
	if a.DirectoryURL != "https://acme-v02.api.letsencrypt.org/directory" || a.HTTPListen != ":80" ||
		!slices.Equal(a.Challenges, []string{"http-01", "tls-alpn-01"}) || a.CAFile != filepath.Join(dir, "ca.pem") {
		t.Fatalf("defaults: %+v", a)
	}
	if a.EAB.HMACKey.Value() != "c2VjcmV0" {
		t.Fatal("hmac_key from file: not read")
	}
}

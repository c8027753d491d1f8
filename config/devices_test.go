package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestDevicesValidated(t *testing.T) {
	tests := []struct {
		name, server, devices, policy string
		want                          []string // problems expected; none for a good config
	}{
		{name: "good", server: "cert_host: certauth.sso.example, client_cert_header: X-SSL-Client-Cert, trusted_proxies: [127.0.0.1/32]",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem], crl_file: crl.pem, match_user: [cn, upn] }]", policy: "corp-pcs"},
		{name: "undefined device in a policy", server: "cert_host: certauth.sso.example", devices: "[]", policy: "corp-pcs",
			want: []string{`a policy names device "corp-pcs", which is not defined`}},
		{name: "no cert host", devices: "[{ name: corp-pcs, ca_files: [ca.pem] }]", policy: "corp-pcs",
			want: []string{"devices are configured but server.cert_host is not"}},
		{name: "bad entries", server: "cert_host: 'https://certauth.sso.example/'",
			devices: "[{ name: Corp, match_user: [sid] }, { name: corp-pcs, ca_files: [a] }, { name: corp-pcs, ca_files: [b] }]", policy: "corp-pcs",
			want: []string{`device name "Corp" is missing or invalid`, `device "Corp" has no ca_files`, `unknown certificate field "sid"`,
				`duplicate device name "corp-pcs"`, `invalid server.cert_host`}},
		{name: "the certificate host is a name of its own", server: "cert_host: SSO.example",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem] }]", policy: "corp-pcs",
			want: []string{"server.cert_host is public_url's host"}},
		{name: "nor an app's", server: "cert_host: certauth.sso.example",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem] }]\napps: [{ id: wiki, type: proxy, host: 'certauth.sso.example:8443', to: ['builtin:echo'], policy: p }]", policy: "corp-pcs",
			want: []string{`app "wiki" uses server.cert_host as its host`}},
		{name: "a factor must name the user", server: "cert_host: certauth.sso.example",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem], factor: true }]", policy: "corp-pcs",
			want: []string{`device "corp-pcs" is a factor but names no user`}},
		{name: "webauthn settings", server: "cert_host: certauth.sso.example",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem] }]\nmfa: { webauthn: { attestation: full, user_verification: always, aaguids: [yubikey] } }", policy: "corp-pcs",
			want: []string{`unknown attestation "full"`, `unknown user_verification "always"`, `invalid AAGUID "yubikey"`}},
		{name: "header without trusted proxies", server: "cert_host: certauth.sso.example, client_cert_header: X-SSL-Client-Cert",
			devices: "[{ name: corp-pcs, ca_files: [ca.pem] }]", policy: "corp-pcs",
			want: []string{"client_cert_header is set but no trusted_proxies may send it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, "f.yaml", "server: { public_url: 'http://sso.example', insecure_http: true, "+tt.server+" }\n"+
				"data_dir: d\nupstreams: [{id: a, type: local}]\npolicies: [p.yaml]\ndevices: "+tt.devices+"\n")
			write(t, dir, "p.yaml", "policy: p\nrules:\n  - name: pcs\n    when: { device: "+tt.policy+" }\n    allow: {}\n")
			c, err := Load(filepath.Join(dir, "f.yaml"))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if d := c.Devices[0]; d.CAFiles[0] != filepath.Join(dir, "ca.pem") || d.CRLFile != filepath.Join(dir, "crl.pem") {
					t.Errorf("paths not resolved: %+v", d)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
		})
	}
}

package policy

import "testing"

func TestUpstreams(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "listed", when: "upstreams: [corp-adfs, corp-windows]",
			in: Input{Upstream: "corp-windows"}, want: true},
		{name: "ids are exact", when: "upstreams: [corp-adfs]",
			in: Input{Upstream: "Corp-ADFS"}, failed: "upstreams: Corp-ADFS not in [corp-adfs]"},
		{name: "other upstream", when: "upstreams: [corp-adfs]",
			in: Input{Upstream: "partner-entra"}, failed: "upstreams: partner-entra not in [corp-adfs]"},
		{name: "none", when: "upstreams: [corp-adfs]",
			in: Input{}, failed: "upstreams: none not in [corp-adfs]"},
	})
}

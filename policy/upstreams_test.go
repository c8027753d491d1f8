package policy

import (
	"slices"
	"testing"
)

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

// TestUnknownIDs: a rule that names an upstream or app the config lacks
// can never hold; Unknown finds it, with where and a did-you-mean.
func TestUnknownIDs(t *testing.T) {
	set, err := Load([]File{{Name: "p.yaml", Data: []byte(`policy: p
rules:
  - name: adfs users
    when: { upstreams: [corp-adsf, corp-windows] }
    allow: {}
  - name: the wiki
    when: { apps: [wikki] }
    allow: {}
`)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range set.Unknown([]string{"corp-adfs", "corp-windows"}, []string{"wiki", "mail"}) {
		got = append(got, p.Error())
	}
	want := []string{
		`p.yaml:4:25: upstreams: "corp-adsf" is not defined in the config, so this condition never holds (hint: did you mean "corp-adfs"?)`,
		`p.yaml:7:20: apps: "wikki" is not defined in the config, so this condition never holds (hint: did you mean "wiki"?)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if w := set.Unknown([]string{"corp-adsf", "corp-windows"}, []string{"wikki"}); len(w) != 0 {
		t.Errorf("all defined, yet warned: %v", w)
	}
}

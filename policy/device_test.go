package policy

import (
	"slices"
	"testing"
)

func TestDevice(t *testing.T) {
	runCondCases(t, "", []condCase{
		{name: "certificate of a listed kind", when: "device: [corp-pcs, lab]",
			in: Input{Devices: []string{"lab"}}, want: true},
		{name: "a single name", when: "device: corp-pcs",
			in: Input{Devices: []string{"other", "corp-pcs"}}, want: true},
		{name: "no certificate", when: "device: corp-pcs",
			in: Input{}, failed: "device: none not in [corp-pcs]"},
		{name: "another kind", when: "device: [corp-pcs]",
			in: Input{Devices: []string{"byod"}}, failed: "device: byod not in [corp-pcs]"},
		{name: "names are exact", when: "device: [corp-pcs]",
			in: Input{Devices: []string{"Corp-PCs"}}, failed: "device: Corp-PCs not in [corp-pcs]"},
		{name: "under not", when: "not: { device: corp-pcs }",
			in: Input{}, want: true},
	})
}

func TestDevicesNamed(t *testing.T) {
	set, err := Load([]File{
		{Name: "a.yaml", Data: []byte("policy: a\nrules:\n  - name: pcs\n    when: { any: [ { device: corp-pcs }, { device: [lab, corp-pcs] } ] }\n    allow: {}\n")},
		{Name: "b.yaml", Data: []byte("policy: b\nrules:\n  - name: all\n    when: { users: [bob] }\n    allow: {}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := set.Policy("a")
	b, _ := set.Policy("b")
	if got := a.Devices(); !slices.Equal(got, []string{"corp-pcs", "lab", "corp-pcs"}) {
		t.Errorf("a.Devices() = %v", got)
	}
	if got := b.Devices(); got != nil {
		t.Errorf("b.Devices() = %v, want none", got)
	}
	if got := set.Devices(); !slices.Equal(got, []string{"corp-pcs", "lab"}) {
		t.Errorf("set.Devices() = %v", got)
	}
	if _, err := Load([]File{{Name: "c.yaml", Data: []byte("policy: c\nrules:\n  - name: x\n    when: { device: [] }\n    allow: {}\n")}}); err == nil {
		t.Error("device: [] was accepted")
	}
}

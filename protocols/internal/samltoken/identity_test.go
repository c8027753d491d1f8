package samltoken

import (
	"strings"
	"testing"
	"time"
)

func TestMappingIdentity(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	adfs := map[string][]string{claimUPN: {"alice@corp.example"}, claimEmail: {"alice@corp.example"}, claimGroups: {"staff"},
		claimMethods: {ClassMicrosoftMFA}}
	tests := []struct {
		name    string
		m       Mapping
		ans     Answer
		want    string // Subject/Username/Email/groups/amr, or the error
		wantErr bool
	}{
		{"adfs defaults, MFA from the methods claim", ClaimMap{}.Mapping(PresetADFS, MFAClasses(PresetADFS)),
			Answer{NameID: "guid-1", NameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", Attributes: adfs,
				Classes: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
			"guid-1/alice@corp.example/alice@corp.example/[staff]/[pwd mfa]", false},
		{"generic: the methods claim is no evidence", ClaimMap{}.Mapping(PresetGeneric, MFAClasses(PresetGeneric)),
			Answer{NameID: "guid-1", Attributes: adfs, Classes: []string{ClassMicrosoftMFA}},
			"guid-1/guid-1//[]/[]", false},
		{"REFEDS MFA class", ClaimMap{}.Mapping(PresetGeneric, MFAClasses(PresetGeneric)),
			Answer{NameID: "n", Attributes: map[string][]string{oidMail: {"a@b.example"}}, Classes: []string{ClassREFEDSMFA}},
			"n/n/a@b.example/[]/[mfa]", false},
		{"configured subject attribute", ClaimMap{Subject: "uid"}.Mapping(PresetGeneric, nil),
			Answer{NameID: "t", NameIDFormat: NameIDTransient, Attributes: map[string][]string{"uid": {"u7"}}},
			"u7/u7//[]/[]", false},
		{"transient NameID as subject", ClaimMap{}.Mapping(PresetGeneric, nil),
			Answer{NameID: "t", NameIDFormat: NameIDTransient}, "transient", true},
		{"no subject", ClaimMap{Subject: "uid"}.Mapping(PresetGeneric, nil), Answer{NameID: "n"}, "no subject", true},
		{"an email without @ is dropped", ClaimMap{Email: "mail"}.Mapping(PresetGeneric, nil),
			Answer{NameID: "n", Attributes: map[string][]string{"mail": {"not-an-address"}}}, "n/n//[]/[]", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ans.AuthnInstant = at
			id, err := tt.m.Identity("up", &tt.ans)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := id.Subject + "/" + id.Username + "/" + id.Email + "/[" + strings.Join(id.Groups, " ") + "]/[" + strings.Join(id.AMR, " ") + "]"
			if got != tt.want || id.Upstream != "up" || !id.AuthTime.Equal(at) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

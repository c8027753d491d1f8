package protocols

import "testing"

// The one mapping, as each protocol says it.
func TestAuthnOf(t *testing.T) {
	const mfa = "urn:example:mfa"
	for _, tc := range []struct {
		amr                []string
		class, method, acr string
	}{
		{[]string{"pwd"}, ClassPasswordProtected, MethodPassword, "0"},
		{[]string{"kerberos"}, ClassKerberos, MethodKerberos, "0"},
		{[]string{"wia", "pwd"}, ClassKerberos, MethodKerberos, "0"},
		{[]string{"pwd", "mfa"}, mfa, mfa, mfa},
		// fedgate's own factor on top of a Windows sign-in: MFA wins.
		{[]string{"kerberos", "otp", "mfa"}, mfa, mfa, mfa},
		// A second factor alone, without "mfa", is not called MFA.
		{[]string{"otp"}, ClassUnspecified, MethodUnspecified, "0"},
		{nil, ClassUnspecified, MethodUnspecified, "0"},
	} {
		a := AuthnOf(tc.amr)
		if got := a.SAMLClass(mfa); got != tc.class {
			t.Errorf("%v: SAML class %q, want %q", tc.amr, got, tc.class)
		}
		if got := a.SAML1Method(mfa); got != tc.method {
			t.Errorf("%v: SAML 1.1 method %q, want %q", tc.amr, got, tc.method)
		}
		if got := a.ACR(mfa); got != tc.acr {
			t.Errorf("%v: acr %q, want %q", tc.amr, got, tc.acr)
		}
	}
}

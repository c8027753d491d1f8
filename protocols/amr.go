package protocols

// How a sign-in is told to apps. Sessions carry RFC 8176 AMR values (pwd,
// kerberos, otp, hwk, sc, mfa…); each downstream protocol says the same
// thing in its own words. This is the one mapping from the first to the
// second, so an OIDC ID token, a SAML assertion and a WS-Fed token about
// the same session never disagree.
//
// MFA is "mfa" in the AMR: an upstream's evidence is normalised to it when
// its token is read, and fedgate's own second factors add it with their
// own value (otp, hwk, sc). What counts as MFA for an app is configurable
// per app (its class, method or acr), because relying parties differ: Entra
// ID honours only Microsoft's multipleauthn URI from a federated IdP
// (SAML 2.0 AuthnContextClassRef, WS-Fed AuthenticationMethod).

// Authn is how strongly a session authenticated, as apps are told.
type Authn int

const (
	AuthnUnspecified Authn = iota
	AuthnPassword
	AuthnKerberos
	AuthnMFA
)

// The protocols' words for the non-MFA kinds.
const (
	ClassPasswordProtected = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	ClassKerberos          = "urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos"
	ClassUnspecified       = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	MethodPassword         = "urn:oasis:names:tc:SAML:1.0:am:password"
	MethodKerberos         = "urn:ietf:rfc:1510"
	MethodUnspecified      = "urn:oasis:names:tc:SAML:1.0:am:unspecified"
	// MicrosoftMFA is what Entra ID honours as MFA done by a federated IdP.
	MicrosoftMFA = "http://schemas.microsoft.com/claims/multipleauthn"
)

// AuthnOf says truthfully how a session with these AMR values signed in.
func AuthnOf(amr []string) Authn {
	id := Identity{AMR: amr}
	switch {
	case id.HasAMR("mfa"):
		return AuthnMFA
	case id.HasAMR("kerberos") || id.HasAMR("wia"):
		return AuthnKerberos
	case id.HasAMR("pwd"):
		return AuthnPassword
	}
	return AuthnUnspecified
}

// SAMLClass is the SAML 2.0 AuthnContextClassRef; mfa is the app's MFA class.
func (a Authn) SAMLClass(mfa string) string {
	return [...]string{ClassUnspecified, ClassPasswordProtected, ClassKerberos, mfa}[a]
}

// SAML1Method is the SAML 1.1 AuthenticationMethod; mfa is the app's MFA method.
func (a Authn) SAML1Method(mfa string) string {
	return [...]string{MethodUnspecified, MethodPassword, MethodKerberos, mfa}[a]
}

// ACR is the OIDC acr: the app's MFA class only with MFA, "0" (no assurance
// claimed) otherwise.
func (a Authn) ACR(mfa string) string {
	if a == AuthnMFA {
		return mfa
	}
	return "0"
}

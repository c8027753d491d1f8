package saml

import "github.com/fedgate/fedgate/protocols"

// Namespaces, bindings, formats and status codes of SAML 2.0.
const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"
	nsXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	nsXS        = "http://www.w3.org/2001/XMLSchema"

	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"

	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

	AttrNameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	AttrNameFormatBasic       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	AttrNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"

	ClassPasswordProtected = protocols.ClassPasswordProtected
	ClassKerberos          = protocols.ClassKerberos
	ClassUnspecified       = protocols.ClassUnspecified
	// ClassREFEDSMFA is the default class of an authentication with MFA.
	ClassREFEDSMFA = "https://refeds.org/profile/mfa"
	// ClassMicrosoftMFA is what Entra ID honours as MFA done by the IdP.
	ClassMicrosoftMFA = protocols.MicrosoftMFA

	confirmationBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

	StatusSuccess         = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester       = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder       = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusRequestDenied   = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
	StatusNoPassive       = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusInvalidNameIDPo = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusAuthnFailed     = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
)

// Microsoft values (INTEROP.md §1–§2).
const (
	MicrosoftOnline      = "urn:federation:MicrosoftOnline"
	MicrosoftLoginSRF    = "https://login.microsoftonline.com/login.srf"
	ClaimEmailAddress    = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	ClaimImmutableID     = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"
	ClaimUPN             = "http://schemas.xmlsoap.org/claims/UPN"
	AttrIDPEmail         = "IDPEmail"
	entraTenantAudience  = "https://login.microsoftonline.com/%s/"
	entraCIAMLoginSRF    = "https://%s.ciamlogin.com/login.srf"
	maxImmutableIDLength = 64
)

// Endpoint paths on fedgate's host.
const (
	MetadataPath = "/saml/metadata"
	SSOPath      = "/saml/sso"
	ResumePath   = "/saml/resume"
	InitPath     = "/saml/init"
	SLOPath      = "/saml/slo"
)

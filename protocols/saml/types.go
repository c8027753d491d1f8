package saml

import "github.com/fedgate/fedgate/protocols"

// Microsoft's values and the NameID formats are in protocols/internal/preset.

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

	AttrNameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	AttrNameFormatBasic       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
	AttrNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"

	ClassPasswordProtected = protocols.ClassPasswordProtected
	ClassKerberos          = protocols.ClassKerberos
	ClassUnspecified       = protocols.ClassUnspecified
	// ClassREFEDSMFA is the default class of an authentication with MFA.
	ClassREFEDSMFA = protocols.REFEDSMFA

	confirmationBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

	StatusSuccess         = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester       = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder       = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusRequestDenied   = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
	StatusNoPassive       = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusInvalidNameIDPo = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusAuthnFailed     = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
)

// Endpoint paths on fedgate's host.
const (
	MetadataPath = "/saml/metadata"
	SSOPath      = "/saml/sso"
	ResumePath   = "/saml/resume"
	InitPath     = "/saml/init"
	SLOPath      = "/saml/slo"
)

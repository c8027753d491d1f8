package main

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/protocols"
	"github.com/fedgate/fedgate/protocols/saml"
	"github.com/fedgate/fedgate/protocols/wsfed"
)

// federation is what a Microsoft tenant admin enters for one app.
type federation struct {
	Protocol                 string // saml | wsFed
	Domains                  []string
	Issuer, PassiveSignIn    string
	SignOut, MetadataURL     string
	SigningCert, NextCert    string // Base64 DER
	EndpointHost             string
	Preset, App, DisplayName string
}

// metadataCmd is `fedgate metadata entra-b2b|m365 --config F --app X`:
// it prints exactly what the tenant admin enters.
func metadataCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != saml.PresetEntraB2B && args[0] != saml.PresetM365) {
		fmt.Fprintln(stderr, "usage: fedgate metadata entra-b2b|m365 --config FILE --app APP")
		return 2
	}
	kind := args[0]
	fs := flag.NewFlagSet("metadata "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "fedgate.yaml", "config file")
	app := fs.String("app", "", "the app (type saml or wsfed, preset "+kind+")")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *app == "" {
		fmt.Fprintln(stderr, "fedgate metadata: --app is required")
		return 2
	}
	l, err := load(*path, false, slog.New(slog.DiscardHandler))
	if err != nil {
		for _, p := range flatten(err) {
			fmt.Fprintln(stderr, p)
		}
		return 1
	}
	f, err := describeFederation(l.cfg, l.snap.SigningKeys(), *app, kind)
	if err != nil {
		fmt.Fprintf(stderr, "fedgate metadata: %v\n", err)
		return 1
	}
	if kind == saml.PresetM365 {
		printM365(stdout, f)
	} else {
		printEntraB2B(stdout, f)
	}
	return 0
}

// describeFederation reads the app's block and the signing keys.
func describeFederation(cfg *config.Config, keys []protocols.SigningKey, appID, kind string) (*federation, error) {
	var app *config.App
	for i := range cfg.Apps {
		if cfg.Apps[i].ID == appID {
			app = &cfg.Apps[i]
		}
	}
	if app == nil {
		return nil, fmt.Errorf("no app %q in the config", appID)
	}
	base := strings.TrimRight(cfg.Server.PublicURL, "/")
	f := &federation{App: appID, Preset: kind, DisplayName: app.Name}
	if u, err := url.Parse(base); err == nil {
		f.EndpointHost = u.Hostname()
	}
	switch app.Type {
	case "saml":
		var c saml.SPConfig
		if err := app.SAML.Decode(&c); err != nil {
			return nil, err
		}
		if c.Preset != kind {
			return nil, fmt.Errorf("app %q is not a saml app with preset %s", appID, kind)
		}
		f.Protocol, f.Domains, f.Issuer = "saml", c.Domains, c.Issuer
		if f.Issuer == "" {
			f.Issuer = saml.DefaultIssuer(base)
		}
		f.PassiveSignIn = base + saml.SSOPath + "/" + appID
		// The app's own endpoints, as its metadata advertises them: an
		// m365 app shares its entity id with every other m365 app.
		f.SignOut = base + saml.SLOPath + "/" + appID
		f.MetadataURL = base + saml.MetadataPath + "?app=" + url.QueryEscape(appID)
	case "wsfed":
		var c wsfed.RPConfig
		if err := app.WSFed.Decode(&c); err != nil {
			return nil, err
		}
		if c.Preset != kind {
			return nil, fmt.Errorf("app %q is not a wsfed app with preset %s", appID, kind)
		}
		f.Protocol, f.Domains, f.Issuer = "wsFed", c.Domains, c.Issuer
		if f.Issuer == "" {
			f.Issuer = wsfed.DefaultIssuer(base)
		}
		f.PassiveSignIn = base + wsfed.Path + "/" + appID
		f.SignOut = base + wsfed.Path + "/" + appID
		f.MetadataURL = base + wsfed.MetadataPath + "?app=" + url.QueryEscape(appID)
	default:
		return nil, fmt.Errorf("app %q is of type %s, not saml or wsfed", appID, app.Type)
	}
	if len(f.Domains) == 0 {
		return nil, fmt.Errorf("app %q: list the federated domains under domains", appID)
	}
	for _, k := range keys {
		if k.Cert == nil {
			continue
		}
		der := base64.StdEncoding.EncodeToString(k.Cert.Raw)
		_, isRSA := k.Signer.Public().(*rsa.PublicKey)
		switch {
		case k.Next && isRSA && f.NextCert == "": // Microsoft verifies RSA only
			f.NextCert = der
		case !k.Next && isRSA && f.SigningCert == "":
			f.SigningCert = der
		}
	}
	if f.SigningCert == "" {
		return nil, errors.New("no active RSA signing key yet: configure keys.signing, or run `fedgate serve` once (it creates data_dir/signing.pem)")
	}
	return f, nil
}

// needsDNS: Entra wants a DirectFedAuthUrl TXT record unless the passive
// endpoint's host is the federated domain or inside it.
func needsDNS(host, domain string) bool {
	host, domain = strings.ToLower(host), strings.ToLower(strings.TrimSuffix(domain, "."))
	return host != domain && !strings.HasSuffix(host, "."+domain)
}

func printEntraB2B(w io.Writer, f *federation) {
	proto := map[string]string{"saml": "SAML", "wsFed": "WS-Fed"}[f.Protocol]
	fmt.Fprintf(w, `Entra ID direct federation (SAML/WS-Fed identity provider) — app %q
In the partner tenant: Entra admin center > External Identities > All identity providers >
Custom > Add new > SAML/WS-Fed (enter the values below; changes take 5-10 minutes to apply).

  Identity provider protocol:        %s
  Domain name(s) of federating IdP:  %s
  Issuer URI:                        %s
  Passive authentication endpoint:   %s
  Certificate (Base64 DER):          %s
  Metadata URL (recommended):        %s

Microsoft Graph (samlOrWsFedExternalDomainFederation):
  issuerUri:                         %s
  passiveSignInUri:                  %s
  preferredAuthenticationProtocol:   %s
  signingCertificate:                %s
(Graph has no field for the metadata URL: the one it offers names a WS-Trust
endpoint, which fedgate does not have; leave it unset.)
`, f.App, proto, strings.Join(f.Domains, ", "), f.Issuer, f.PassiveSignIn, f.SigningCert, f.MetadataURL,
		f.Issuer, f.PassiveSignIn, f.Protocol, f.SigningCert)
	if f.NextCert != "" {
		fmt.Fprintf(w, "\nNext signing certificate (published in the metadata; Entra picks it up from the metadata URL,\nor PATCH signingCertificate with it once it is active):\n  %s\n", f.NextCert)
	}
	var dns []string
	for _, d := range f.Domains {
		if needsDNS(f.EndpointHost, d) {
			dns = append(dns, fmt.Sprintf("  %s. IN TXT DirectFedAuthUrl=%s", strings.TrimSuffix(d, "."), f.PassiveSignIn))
		}
	}
	if len(dns) > 0 {
		fmt.Fprintf(w, "\nDNS (the passive endpoint's host %s is not inside the domain; the domain owner adds):\n%s\n", f.EndpointHost, strings.Join(dns, "\n"))
	}
}

func printM365(w io.Writer, f *federation) {
	name := f.DisplayName
	if name == "" {
		name = "fedgate"
	}
	for _, d := range f.Domains {
		fmt.Fprintf(w, `Microsoft 365 domain federation — app %q, domain %s

  IssuerUri:                        %s
  PassiveSignInUri:                 %s
  SignOutUri:                       %s
  SigningCertificate (Base64 DER):  %s
`, f.App, d, f.Issuer, f.PassiveSignIn, f.SignOut, f.SigningCert)
		if f.NextCert != "" {
			fmt.Fprintf(w, "  NextSigningCertificate:           %s\n", f.NextCert)
		}
		fmt.Fprintf(w, `  PreferredAuthenticationProtocol:  %s
  FederatedIdpMfaBehavior:          acceptIfMfaDoneByFederatedIdp

PowerShell (Microsoft Graph module; Connect-MgGraph -Scopes Domain.ReadWrite.All first):
  New-MgDomainFederationConfiguration -DomainId "%s" -DisplayName "%s" `+"`"+`
    -IssuerUri "%s" `+"`"+`
    -PassiveSignInUri "%s" `+"`"+`
    -SignOutUri "%s" `+"`"+`
    -SigningCertificate "%s" `+"`"+`
`, f.Protocol, d, name, f.Issuer, f.PassiveSignIn, f.SignOut, f.SigningCert)
		if f.NextCert != "" {
			fmt.Fprintf(w, "    -NextSigningCertificate \"%s\" `\n", f.NextCert)
		}
		fmt.Fprintf(w, "    -PreferredAuthenticationProtocol \"%s\" `\n    -FederatedIdpMfaBehavior \"acceptIfMfaDoneByFederatedIdp\"\n\n", f.Protocol)
		printM365Rollover(w, d, f.NextCert)
	}
}

// printM365Rollover says how Entra learns of the next signing key: no
// MetadataExchangeUri is set (it names a WS-Trust MEX endpoint, which
// fedgate does not have), so the certificates are handed over by command.
// Entra accepts tokens signed with either SigningCertificate or
// NextSigningCertificate, so the switch has no outage.
func printM365Rollover(w io.Writer, domain, next string) {
	if next == "" {
		fmt.Fprint(w, "Signing-key rollover: add the new key to keys.signing with status: next and run this command\nagain; it prints the Update-MgDomainFederationConfiguration calls that hand it to Entra.\n\n")
		return
	}
	id := fmt.Sprintf(`(Get-MgDomainFederationConfiguration -DomainId "%s").Id`, domain)
	fmt.Fprintf(w, `Signing-key rollover (Entra does not fetch fedgate's certificates for a federated domain):
  1. If the domain was federated before the next key existed, give Entra the next certificate now:
  Update-MgDomainFederationConfiguration -DomainId "%[1]s" -InternalDomainFederationId %[2]s `+"`"+`
    -NextSigningCertificate "%[3]s"
  2. Once the next key is active in fedgate, make it the signing certificate:
  Update-MgDomainFederationConfiguration -DomainId "%[1]s" -InternalDomainFederationId %[2]s `+"`"+`
    -SigningCertificate "%[3]s"

`, domain, id, next)
}

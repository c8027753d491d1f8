package preset

import "fmt"

// Owners hands out the peer ids (SAML entity ids, WS-Fed realms) of one
// protocol's apps: one id, one app, or requests and their answers could
// go to the other app. Microsoft 365's own id is the exception — one app
// per federated domain, each named in the path and each with its own
// issuer (Entra needs a distinct IssuerUri per domain).
type Owners struct {
	what           string // "entity id", "realm"
	byID, byIssuer map[string]string
}

// NewOwners names the ids it hands out ("entity id", "realm").
func NewOwners(what string) *Owners {
	return &Owners{what: what, byID: map[string]string{}, byIssuer: map[string]string{}}
}

// Claim gives app its primary id; issuer is the issuer the app's peer
// sees, checked for apps of the m365 preset.
func (o *Owners) Claim(app, id, preset, issuer string) error {
	if prev, ok := o.byID[id]; ok && id != MicrosoftOnline {
		return fmt.Errorf("%s %q is already app %q's", o.what, id, prev)
	}
	if preset == M365 {
		if _, ok := o.byIssuer[issuer]; ok {
			return fmt.Errorf("issuer %q is another m365 app's: each federated domain needs its own IssuerUri", issuer)
		}
		o.byIssuer[issuer] = app
	}
	o.byID[id] = app
	return nil
}

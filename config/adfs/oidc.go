package adfs

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// group imports an application group: each server application
// (confidential) and native client (public) becomes an oidc app. Its
// claims and access policy come from the group's Web API, where ADFS keeps
// them.
func (im *importer) group(g ApplicationGroup, servers []ServerApplication, natives []NativeClientApplication, apis []WebApiApplication) {
	var api *WebApiApplication
	for i := range apis {
		if apis[i].ApplicationGroupIdentifier == g.ApplicationGroupIdentifier {
			api = &apis[i]
			break
		}
	}
	type client struct {
		name, id  string
		redirects []string
		logout    string
		public    bool
	}
	var clients []client
	for _, s := range servers {
		if s.ApplicationGroupIdentifier == g.ApplicationGroupIdentifier {
			clients = append(clients, client{s.Name, s.Identifier, s.RedirectUri, s.LogoutUri, false})
		}
	}
	for _, n := range natives {
		if n.ApplicationGroupIdentifier == g.ApplicationGroupIdentifier {
			clients = append(clients, client{n.Name, n.Identifier, n.RedirectUri, n.LogoutUri, true})
		}
	}
	if len(clients) == 0 {
		row := Row{Trust: g.Name, Kind: "oidc", Why: "the application group has no server application or native client (a Web API alone has nobody signing in)"}
		row.finish()
		im.res.Rows = append(im.res.Rows, row)
		return
	}
	for _, c := range clients {
		row := Row{Trust: g.Name + " / " + c.name, Kind: "oidc"}
		im.oidcClient(g, api, c.name, c.id, c.redirects, c.logout, c.public, &row)
		row.finish()
		im.res.Rows = append(im.res.Rows, row)
	}
}

func (im *importer) oidcClient(g ApplicationGroup, api *WebApiApplication, name, clientID string, redirects []string, logout string, public bool, row *Row) {
	if g.Enabled != nil && !*g.Enabled {
		row.Why = "the application group is disabled in ADFS"
		return
	}
	if !public && im.opt.SecretHash == nil {
		row.Why = "a confidential client needs a new secret, and the import was given no way to make one"
		return
	}
	redirects, dropped := servableRedirects(redirects)
	if len(dropped) > 0 {
		row.AppMustChange = append(row.AppMustChange, fmt.Sprintf("redirect URIs %s are not imported (fedgate answers only https, or http on loopback): use one of those", strings.Join(dropped, ", ")))
	}
	if len(redirects) == 0 {
		row.Why = "the client has no redirect URI fedgate can answer at (https, or http on loopback)"
		return
	}
	claims := map[string]string{}
	var acp, authz string
	params := api.paramsOrNil()
	if api != nil {
		m := row.issuance("Web API IssuanceTransformRules", api.IssuanceTransformRules)
		if m == nil {
			return
		}
		for _, c := range m.Claims {
			claims[jwtName(c.Type)] = c.Source
		}
		acp, authz = api.AccessControlPolicyName, api.IssuanceAuthorizationRules
	} else {
		row.Changes = append(row.Changes, "no Web API in the group: only the standard claims are issued")
	}
	id := im.appID(name)
	row.App = id
	if !im.accessPolicy(id, g.Name, acp, params, authz, "", row) {
		return
	}
	row.AppMustChange = append(row.AppMustChange, "OpenID Connect endpoints and issuer change: point the app at fedgate's discovery document")
	w := appHeader(fmt.Sprintf("the ADFS application group %s, client %s", q(g.Name), q(name)), id, "oidc", name, row.Policy)
	w.line(2, "client_id: %s", q(clientID))
	if public {
		w.line(2, "public: true")
	} else {
		// ADFS never exports a client secret: a new one is made.
		w.line(2, "client_secret_hash: %s", q(im.opt.SecretHash(id)))
		row.AppMustChange = append(row.AppMustChange, fmt.Sprintf("new client secret (ADFS does not export secrets): give the app secrets/%s.txt", id))
	}
	w.line(2, "redirect_uris: %s", qList(redirects))
	if logout != "" {
		w.line(2, "post_logout_redirect_uris: [%s]", q(logout))
	}
	if len(claims) > 0 {
		w.line(2, "claims:")
		for _, k := range sortedKeys(claims) {
			w.line(3, "%s: %s", q(k), q(claims[k]))
		}
	}
	im.res.Files["apps/"+id+".yaml"] = w.bytes()
}

func (a *WebApiApplication) paramsOrNil() map[string]json.RawMessage {
	if a == nil {
		return nil
	}
	return a.AccessControlPolicyParameters
}

// jwtShort are the JWT names ADFS gives claim types in tokens.
var jwtShort = map[string]string{
	TypeUPN: "upn", TypeEmail: "email", TypeName: "unique_name", TypeGroup: "group", TypeRole: "role",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": "given_name",
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":   "family_name",
}

// jwtName is a claim type's name in an ID token, minus names fedgate sets
// itself.
func jwtName(t string) string {
	if n, ok := jwtShort[t]; ok {
		return n
	}
	n := strings.ToLower(t[strings.LastIndexAny(t, "/:")+1:])
	if slices.Contains([]string{"sub", "iss", "aud", "sid", "nonce", "amr", "acr"}, n) {
		return "adfs_" + n
	}
	return n
}

// servableRedirects splits redirect URIs into those fedgate's OpenID
// Provider accepts (https, or http on a loopback host) and the rest
// (custom schemes such as ms-app://, which ADFS allows for native apps).
func servableRedirects(uris []string) (keep, drop []string) {
	for _, r := range uris {
		u, err := url.Parse(r)
		ok := err == nil && u.Host != "" && u.Fragment == "" && u.User == nil &&
			(u.Scheme == "https" || u.Scheme == "http" && slices.Contains([]string{"localhost", "127.0.0.1", "::1"}, u.Hostname()))
		if ok {
			keep = append(keep, r)
		} else {
			drop = append(drop, r)
		}
	}
	return keep, drop
}

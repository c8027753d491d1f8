package broker

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
)

// ADFSPassivePath is where ADFS answers both WS-Federation and SAML; with
// compat: adfs fedgate answers there too, so apps configured for the farm
// keep working after DNS moves.
const ADFSPassivePath = "/adfs/ls/"

// Where the protocols mount their own endpoints (see protocols/saml and
// protocols/wsfed); the request keeps its /adfs/ls/ path, so SAML's
// Destination check sees what the SP addressed.
const (
	wsfedPath   = "/wsfed"
	samlSSOPath = "/saml/sso"
	samlSLOPath = "/saml/slo"
)

// adfsPassive routes /adfs/ls/ as ADFS does: wa= is WS-Federation,
// SAMLRequest is SAML sign-in (or sign-out, for a LogoutRequest),
// SAMLResponse is a SAML LogoutResponse. Anything else is not found.
func adfsPassive(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// The body is already bounded by the broker's middleware; the
		// protocol handlers read the same parsed form.
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		target := ""
		switch {
		case r.Form.Get("wa") != "":
			target = wsfedPath
		case r.Form.Get("SAMLRequest") != "":
			target = samlSSOPath
			if isLogoutRequest(r.Form.Get("SAMLRequest"), r.Method == http.MethodGet) {
				target = samlSLOPath
			}
		case r.Form.Get("SAMLResponse") != "":
			target = samlSLOPath
		default:
			http.NotFound(w, r)
			return
		}
		probe := &http.Request{Method: r.Method, URL: &url.URL{Path: target}, Host: r.Host}
		h, pattern := mux.Handler(probe)
		if pattern == "" {
			http.NotFound(w, r) // that protocol has no apps
			return
		}
		h.ServeHTTP(w, r)
	})
}

// isLogoutRequest peeks at a SAMLRequest's root element: deflated and
// Base64 on the redirect binding, Base64 on POST. The protocol parses it
// properly; a wrong guess only means its endpoint refuses the message.
func isLogoutRequest(enc string, deflated bool) bool {
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return false
	}
	if deflated {
		raw, _ = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), 4096))
	}
	if len(raw) > 4096 {
		raw = raw[:4096]
	}
	i := bytes.IndexByte(raw, '<')
	for i >= 0 && i+1 < len(raw) && (raw[i+1] == '?' || raw[i+1] == '!') {
		j := bytes.IndexByte(raw[i+1:], '<')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	if i < 0 {
		return false
	}
	end := bytes.IndexAny(raw[i:], " >\t\r\n/")
	if end < 0 {
		return false
	}
	name := raw[i+1 : i+end]
	if k := bytes.IndexByte(name, ':'); k >= 0 {
		name = name[k+1:]
	}
	return string(name) == "LogoutRequest"
}

package protocols

import (
	"net/http"
	"net/url"
	"time"
)

// Sign-out requests from apps are links any page can make the browser
// follow (logout CSRF). A protocol ends the session itself (EndSession)
// only for a request it has matched to the current session (Current): a
// signature, or what it issued in that session (OIDC sid, SAML
// SessionIndex). Anything else goes to the broker's confirmation page.
const (
	// SignOutPath is the broker's confirmation page: a CSRF-protected form
	// ends the session. With ?continue=<a value sealed for SignOutContinue>
	// the browser goes on to that URL afterwards (or at once, when there
	// is no session to end).
	SignOutPath = "/logout"
	// SignOutContinue is the Seal purpose of that URL: a protocol seals
	// only a URL registered for the app that asked.
	SignOutContinue = "signout-continue"
)

// ConfirmSignOut sends the browser to the broker's confirmation page, and
// from there to next (a registered URL, or "" for the signed-out page).
func ConfirmSignOut(w http.ResponseWriter, r *http.Request, sp SessionProvider, next string) {
	target := SignOutPath
	if next != "" {
		// Without the seal the user still gets the page; only where they
		// land afterwards is lost.
		if v, err := sp.Seal(SignOutContinue, next, 10*time.Minute); err == nil {
			target += "?" + url.Values{"continue": {v}}.Encode()
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

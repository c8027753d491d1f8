// Package broker wires a sign-in together: it holds the config snapshot,
// the sessions, the pages and the audit log, and asks the upstream
// protocols, the policy and the proxy for the rest.
//
// # A sign-in, through the files
//
// An app sends the browser here. How depends on the app's kind: a proxied
// or forward-auth host finds no session cookie (proxyapp.go Authorize,
// forwardauth.go verify); a protocol (OIDC authorize, SAML AuthnRequest,
// WS-Fed wsignin1.0) asks SessionProvider.Session (downstream.go); a page
// of fedgate's own is asked directly (whoami.go). Each of them calls
// enforce (enforce.go) — the one decision — and renders its verdict in its
// own format (answer.go for browsers; Session and Recheck for protocols).
//
// Without a usable session the verdict is "sign in": an in-flight login,
// Pending, is sealed into its own short-lived cookie (pending.go), and the
// browser goes to /login. Windows integrated sign-in is tried first where
// an upstream offers it to this client (negotiate.go); then home-realm
// discovery (login.go route) picks the upstream among those the app
// accepts (waysOf says what each can do); a password upstream shows the form
// (login.go loginSubmit, throttled by throttle.go), a redirect upstream is
// sent the browser with state, nonce and PKCE from the Pending
// (redirect.go beginRedirect) and answers at /callback/<upstream>
// (redirect.go callback): by GET with ?state=, or, for an upstream whose
// IdP answers by cross-site form POST (protocols.PostAnswerer: SAML,
// WS-Fed), by POST carrying its own state (RelayState, wctx), its login
// cookie then being SameSite=None (pending.go savePostPending). Either way signedIn (login.go) first applies name
// ownership (identity.go: a name in another upstream's domain is refused,
// one nobody owns is qualified), then makes the Session — a sealed cookie,
// nothing on the server (session.go) — and complete asks enforce again for
// the app, with After set to the finished login.
//
// enforce checks, in order: a session that is readable, not expired, not
// idle for too long, not signed out (the store's revocation marker) and,
// on an app host, minted for that host; the app's upstreams; a freshness
// the app asked for; the policy (policy.Decide) with the app's own MFA
// demand; the policy's session cap; the step-up loop guard. It slides the
// idle timeout, audits the decision, and answers allow, sign in, step up
// or deny. A step-up (stepUpWay) goes to a second factor of fedgate's own
// that the user has (mfa.go: the mfaMethod contract; mfa_totp.go,
// mfa_recovery.go), or to enrolling one where mfa.enrol allows it
// (mfaenrol.go), or to the session's upstream, asked for MFA. The factor
// pages (mfaflow.go) prove the factor, throttled like passwords, add its
// AMR and "mfa" to the session and call complete again. Factors live in
// the store, sealed and keyed by upstream + subject (mfavault.go).
//
// Back at the app: a proxied host gets its own cookie through a one-time
// ticket (proxyapp.go redirectAfterLogin and appHostCallback), sealed,
// bound to the host and to a binding cookie of the same browser; a
// protocol resumes at its own URL, calls Session again and answers the app
// (SAML Response, WS-Fed RSTR, OIDC code). An OIDC refresh comes back
// without a browser and is decided again by Recheck, from the session
// reference sealed into the grant.
//
// A policy that names `device:` and would not allow sends the session,
// once, to the certificate host (devicecheck.go): the only host whose TLS
// handshake asks for a client certificate (or, behind a TLS terminator,
// whose trusted proxy forwards it); the device kinds it satisfies come back
// sealed, bound to the session and the browser, and the decision runs again.
//
// Sign-out (logout.go) records the session id as revoked until the
// session would have expired, so every copy — app hosts, refresh tokens —
// ends with it.
package broker

package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedgate/fedgate/broker/fido"
	"github.com/fedgate/fedgate/broker/store"
)

// webauthnMethod: FIDO2 security keys and platform passkeys (WebAuthn) as
// fedgate's own second factor, through the factor contract (mfa.go). The
// relying party is public_url (fido). A user may have several keys, each
// named; the vault keeps them all in one record. The ceremony state travels
// sealed in a cookie bound to the session and the in-flight login; the
// browser's answer comes back as a form field, so the flow, the throttle
// and the audit are the contract's.
type webauthnMethod struct{}

const (
	webauthnStateCookie = "fedgate_webauthn"
	webauthnTTL         = 5 * time.Minute
	maxKeysPerUser      = 10
	maxCredentialLen    = 32 << 10
	// webauthnCounterMemory: how long a spent sign counter is remembered
	// besides the stored one (which covers everything after its write).
	webauthnCounterMemory = time.Hour
)

var _ interface {
	mfaMethod
	mfaEnroller
	mfaDescriber
	mfaOffered
} = webauthnMethod{}

// webauthnState is a ceremony in flight.
type webauthnState struct {
	Bind  string `json:"b"` // session and login it belongs to
	State []byte `json:"st"`
}

// keyRefused is a wrong answer of a key, with its own audit reason and
// message (hwk.err.<reason>).
func keyRefused(err error) error {
	reason := "webauthn-invalid"
	for _, c := range []struct {
		err  error
		code string
	}{{fido.ErrRPID, "webauthn-rp-id"}, {fido.ErrCounter, "webauthn-counter"}, {fido.ErrUnknownKey, "webauthn-unknown-key"},
		{fido.ErrAAGUIDRefused, "webauthn-aaguid"}} {
		if errors.Is(err, c.err) {
			reason = c.code
			break
		}
	}
	return &factorWrong{reason: reason, message: "hwk.err." + reason, err: err}
}

func (webauthnMethod) Name() string { return "webauthn" }

// Offered: browsers take only a host name as the RP ID, never an address.
func (webauthnMethod) Offered(snap *Snapshot) bool {
	u, err := url.Parse(snap.Config.Server.PublicURL)
	return err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil
}

// AMR: hwk, for security keys and passkeys alike (RFC 8176 has no value
// that tells a synced passkey apart without attestation).
func (webauthnMethod) AMR() []string { return []string{"hwk"} }

func (m webauthnMethod) Enrolled(c *mfaCall) (bool, error) {
	return c.vault.has(c.r.Context(), m.Name(), c.user)
}

// keys are the user's registered keys, as a fido.User.
func (m webauthnMethod) keys(ctx context.Context, c *mfaCall) (*fido.User, error) {
	u := &fido.User{Handle: fido.UserHandle(c.user.Upstream, c.user.Subject), Name: accountName(c), DisplayName: c.s.Identity.DisplayName}
	err := c.vault.get(ctx, m.Name(), c.user, &u.Keys)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return u, nil
}

func relyingParty(snap *Snapshot) (*fido.RP, error) {
	w := snap.Config.MFA.WebAuthn
	return fido.New(fido.Config{PublicURL: snap.Config.Server.PublicURL, DisplayName: snap.Config.Branding.Name,
		Attestation: w.Attestation, AAGUIDs: w.AAGUIDs, UserVerification: w.UserVerification})
}

// ceremonyPage begins a ceremony (begin), seals its state, and renders the
// page that runs it in the browser.
func (m webauthnMethod) ceremonyPage(c *mfaCall, mode string, begin func(*fido.RP, *fido.User) (fido.Ceremony, error)) {
	u, err := m.keys(c.r.Context(), c)
	if err == nil {
		var rp *fido.RP
		if rp, err = relyingParty(c.snap); err == nil {
			var cer fido.Ceremony
			if cer, err = begin(rp, u); err == nil {
				err = c.snap.sealer.seal(c.w, webauthnStateCookie, webauthnState{Bind: c.csrf(), State: cer.State}, webauthnTTL, http.SameSiteStrictMode)
				d := pageData{Mode: mode, Options: string(cer.Options)}
				d.Title = translate(c.lang(), "hwk."+mode+".title")
				for _, k := range u.Keys {
					d.Keys = append(d.Keys, k.Name)
				}
				if err == nil {
					allowScript(c.w)
					c.render(http.StatusOK, "webauthn", d)
					return
				}
			}
		}
	}
	c.b.fail(c.w, c.r, c.snap, http.StatusServiceUnavailable, "err.unavailable", err)
}

// allowScript lets a WebAuthn page run fedgate's own script (the ceremony
// needs navigator.credentials); every other page runs none.
func allowScript(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", strings.Replace(h.Get("Content-Security-Policy"), "default-src 'none';", "default-src 'none'; script-src 'self';", 1))
}

// answer is the browser's answer and the state of the ceremony it answers,
// which is spent here (one answer per challenge).
func (m webauthnMethod) answer(c *mfaCall) ([]byte, []byte, error) {
	var st webauthnState
	err := c.snap.sealer.open(c.r, webauthnStateCookie, &st)
	c.snap.sealer.clear(c.w, webauthnStateCookie)
	cred := c.r.PostForm.Get("credential")
	switch {
	case err != nil || st.Bind != c.csrf():
		return nil, nil, &factorWrong{reason: "webauthn-state", message: "hwk.err.webauthn-state", err: fmt.Errorf("ceremony state: %v", err)}
	case cred == "" || len(cred) > maxCredentialLen:
		return nil, nil, keyRefused(fmt.Errorf("%w: no or oversized answer", fido.ErrInvalid))
	}
	return st.State, []byte(cred), nil
}

func (m webauthnMethod) Challenge(c *mfaCall) {
	m.ceremonyPage(c, "verify", (*fido.RP).BeginLogin)
}

// Verify checks an assertion and stores the key's new sign counter, under
// the user's lock: a key registered meanwhile must not be written away.
func (m webauthnMethod) Verify(c *mfaCall) error {
	state, cred, err := m.answer(c)
	if err != nil {
		return err
	}
	return c.vault.locked(c.r.Context(), c.user, func() error { return m.verify(c, state, cred) })
}

func (m webauthnMethod) verify(c *mfaCall, state, cred []byte) error {
	u, err := m.keys(c.r.Context(), c)
	if err != nil {
		return err
	}
	rp, err := relyingParty(c.snap)
	if err != nil {
		return err
	}
	i, k, err := rp.FinishLogin(u, state, cred, c.now())
	if err != nil {
		return keyRefused(err)
	}
	if n := k.Credential.Authenticator.SignCount; n > 0 {
		// Two replicas (or two requests) that read the record before
		// either wrote it would both accept the same counter: each
		// (key, counter) is spent once, atomically, across replicas.
		what := fmt.Sprintf("webauthn:%x:%d", k.Credential.ID, n)
		first, err := c.vault.claim(c.r.Context(), what, c.user, c.now().Add(webauthnCounterMemory))
		if err != nil {
			return err
		}
		if !first {
			return keyRefused(fido.ErrCounter)
		}
	}
	u.Keys[i] = k
	return c.vault.put(c.r.Context(), m.Name(), c.user, u.Keys)
}

func (m webauthnMethod) Enrol(c *mfaCall) {
	m.ceremonyPage(c, "register", (*fido.RP).BeginRegister)
}

// Confirm registers the key the browser made, under the name the user gave.
func (m webauthnMethod) Confirm(c *mfaCall) error {
	name := strings.TrimSpace(c.r.PostForm.Get("name"))
	if name == "" || utf8.RuneCountInString(name) > 64 {
		return &factorWrong{reason: "webauthn-name", message: "hwk.err.webauthn-name", err: errors.New("key name")}
	}
	state, cred, err := m.answer(c)
	if err != nil {
		return err
	}
	// Under the user's lock: two keys registered at once both stay.
	return c.vault.locked(c.r.Context(), c.user, func() error { return m.register(c, name, state, cred) })
}

func (m webauthnMethod) register(c *mfaCall, name string, state, cred []byte) error {
	u, err := m.keys(c.r.Context(), c)
	if err != nil {
		return err
	}
	switch {
	case len(u.Keys) >= maxKeysPerUser:
		return &factorWrong{reason: "webauthn-too-many", message: "hwk.err.webauthn-too-many", err: errors.New("too many keys")}
	case slices.ContainsFunc(u.Keys, func(k fido.Key) bool { return strings.EqualFold(k.Name, name) }):
		return &factorWrong{reason: "webauthn-name-taken", message: "hwk.err.webauthn-name-taken", err: errors.New("name taken")}
	}
	rp, err := relyingParty(c.snap)
	if err != nil {
		return err
	}
	k, err := rp.FinishRegister(u, state, cred, name, c.now())
	if err != nil {
		return keyRefused(err)
	}
	return c.vault.put(c.r.Context(), m.Name(), c.user, append(u.Keys, k))
}

// Describe names the keys, for `fedgate mfa list`.
func (m webauthnMethod) Describe(ctx context.Context, v vault, u factorUser) ([]string, error) {
	var keys []fido.Key
	if err := v.get(ctx, m.Name(), u, &keys); err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("key %q registered %s", k.Name, k.Created.UTC().Format(time.RFC3339)))
	}
	return out, nil
}

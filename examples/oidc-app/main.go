// Command oidc-app is a minimal OpenID Connect relying party for fedgate:
// code flow with PKCE, state and nonce, the ID token verified against
// fedgate's JWKS, UserInfo, and RP-initiated logout. It keeps its state in
// short-lived cookies and the signed-in user in memory (demo only).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"html/template"
	"log"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "fedgate's public URL")
	listen := flag.String("listen", "localhost:8081", "where this app listens")
	clientID := flag.String("client-id", "notes", "client_id")
	secret := flag.String("client-secret", "notes-demo-secret-change-me", "client secret")
	flag.Parse()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		log.Fatalf("discovery: %v", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_ = provider.Claims(&meta)
	base := "http://" + *listen
	app := &app{
		oauth: oauth2.Config{ClientID: *clientID, ClientSecret: *secret, Endpoint: provider.Endpoint(),
			RedirectURL: base + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups"}},
		verifier:   provider.Verifier(&oidc.Config{ClientID: *clientID}),
		provider:   provider,
		endSession: meta.EndSession,
		base:       base,
		issuer:     *issuer,
		sessions:   map[string]*session{},
	}
	http.HandleFunc("GET /{$}", app.home)
	http.HandleFunc("GET /login", app.login)
	http.HandleFunc("GET /callback", app.callback)
	http.HandleFunc("GET /logout", app.logout)
	log.Printf("oidc-app on %s (issuer %s)", base, *issuer)
	log.Fatal(http.ListenAndServe(*listen, nil))
}

type app struct {
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	provider   *oidc.Provider
	endSession string
	base       string
	issuer     string // RFC 9207: the authorization response's iss must be it
	mu         sync.Mutex
	sessions   map[string]*session
}

type session struct {
	IDToken string
	Claims  map[string]any
	Info    map[string]any
}

func random() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(ttl.Seconds()), HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	for k, v := range map[string]string{"state": state, "nonce": nonce, "pkce": verifier} {
		setCookie(w, k, v, 10*time.Minute)
	}
	http.Redirect(w, r, a.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func cookie(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "sign-in refused: "+e+" "+q.Get("error_description"), http.StatusForbidden)
		return
	}
	if q.Get("state") == "" || q.Get("state") != cookie(r, "state") || q.Get("iss") != a.issuer {
		http.Error(w, "state or iss mismatch", http.StatusBadRequest) // mix-up or CSRF
		return
	}
	tok, err := a.oauth.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(cookie(r, "pkce")))
	if err != nil {
		http.Error(w, "token: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil || idt.Nonce != cookie(r, "nonce") {
		http.Error(w, "id token rejected", http.StatusBadGateway)
		return
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		http.Error(w, "at_hash mismatch", http.StatusBadGateway)
		return
	}
	s := &session{IDToken: raw}
	_ = idt.Claims(&s.Claims)
	if ui, err := a.provider.UserInfo(r.Context(), oauth2.StaticTokenSource(tok)); err == nil {
		_ = ui.Claims(&s.Info)
	}
	id := random()
	a.mu.Lock()
	a.sessions[id] = s
	a.mu.Unlock()
	setCookie(w, "sid", id, 8*time.Hour)
	http.Redirect(w, r, "/", http.StatusFound)
}

var page = template.Must(template.New("home").Parse(`<!doctype html><meta charset="utf-8"><title>Notes</title>
<h1>Notes (an OIDC app)</h1>
{{if .}}<p>Signed in. ID token claims:</p><pre>{{.Claims}}</pre><p>UserInfo:</p><pre>{{.Info}}</pre><p><a href="/logout">Sign out</a></p>
{{else}}<p><a href="/login">Sign in with fedgate</a></p>{{end}}`))

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	s := a.sessions[cookie(r, "sid")]
	a.mu.Unlock()
	var data any
	if s != nil {
		data = struct{ Claims, Info string }{pretty(s.Claims), pretty(s.Info)}
	}
	_ = page.Execute(w, data)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	s := a.sessions[cookie(r, "sid")]
	delete(a.sessions, cookie(r, "sid"))
	a.mu.Unlock()
	setCookie(w, "sid", "", -1)
	if s == nil || a.endSession == "" {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	v := url.Values{"id_token_hint": {s.IDToken}, "post_logout_redirect_uri": {a.base + "/"}, "state": {random()}}
	http.Redirect(w, r, a.endSession+"?"+v.Encode(), http.StatusFound)
}

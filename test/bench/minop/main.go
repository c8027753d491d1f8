// Command minop is the code-flow benchmark's baseline: the least an OpenID
// Provider can do for an existing session — GET /oauth2/authorize looks the
// session cookie up and answers a code, POST /oauth2/token checks the
// client's secret, spends the code and answers an ID token with one RS256
// signature (RSA-2048) and an opaque access token. No policy, no audit, no
// sealing: what is left is the signature and HTTP.
//
//	minop -listen ADDR             serve
//	minop -sign-rate 3s            raw RSA-2048 signatures/s on one core
package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"
)

const (
	clientID     = "bench"
	clientSecret = "bench-secret-0123456789"
	sessionName  = "sid"
	sessionValue = "bench-session"
)

type code struct {
	nonce, redirect string
	exp             time.Time
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18093", "address")
	rate := flag.Duration("sign-rate", 0, "measure raw RSA-2048 signatures/s on one core for this long, print it and exit")
	flag.Parse()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		log.Fatal(err)
	}
	if *rate > 0 {
		runtime.GOMAXPROCS(1)
		sum := sha256.Sum256([]byte("payload"))
		n, start := 0, time.Now()
		for time.Since(start) < *rate {
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				log.Fatal(err)
			}
			n++
		}
		fmt.Printf("%.1f\n", float64(n)/time.Since(start).Seconds())
		return
	}
	var codes sync.Map
	issuer := "http://" + *listen
	head := b64(`{"alg":"RS256","kid":"k1","typ":"JWT"}`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		c, err := r.Cookie(sessionName)
		if err != nil || c.Value != sessionValue || q.Get("client_id") != clientID {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		id := randomID()
		codes.Store(id, code{nonce: q.Get("nonce"), redirect: q.Get("redirect_uri"), exp: time.Now().Add(time.Minute)})
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {id}, "state": {q.Get("state")}}.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("POST /oauth2/token", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != clientID || subtle.ConstantTimeCompare([]byte(p), []byte(clientSecret)) != 1 {
			http.Error(w, "client", http.StatusUnauthorized)
			return
		}
		v, found := codes.LoadAndDelete(r.PostFormValue("code"))
		if !found || v.(code).redirect != r.PostFormValue("redirect_uri") || time.Now().After(v.(code).exp) {
			http.Error(w, "grant", http.StatusBadRequest)
			return
		}
		now := time.Now().Unix()
		claims, _ := json.Marshal(map[string]any{"iss": issuer, "sub": "local:bench", "aud": clientID, "iat": now,
			"exp": now + 600, "auth_time": now, "nonce": v.(code).nonce, "name": "Bench", "email": "bench@example.com"})
		signing := head + "." + base64.RawURLEncoding.EncodeToString(claims)
		sum := sha256.Sum256([]byte(signing))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(map[string]any{"access_token": randomID(), "token_type": "Bearer", "expires_in": 600,
			"id_token": signing + "." + base64.RawURLEncoding.EncodeToString(sig)})
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.Serve(ln, mux))
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

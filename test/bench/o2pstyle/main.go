// Command o2pstyle is the benchmark's oauth2-proxy-style baseline: per
// request it does the work oauth2-proxy does with a Redis session store —
// read the session cookie, verify and decrypt it (securecookie, HMAC +
// AES, standing in for oauth2-proxy's signed ticket), GET the session from
// Redis by the ticket's id, decode it, check its expiry, set the identity
// headers — and proxies with a plain httputil.ReverseProxy on the default
// transport (oauth2-proxy does not size the idle pool or pool buffers).
// It is generous to oauth2-proxy: the real one also decrypts the Redis value
// with a key carried in the ticket and decodes msgpack + lz4, not JSON.
//
// At start it mints one valid session (a Redis entry and its cookie) and
// prints the cookie as "name=value" on stdout, for wrk.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/redis/go-redis/v9"
)

const cookieName = "_oauth2_proxy"

// session is what oauth2-proxy keeps per sign-in (the fields its headers use).
type session struct {
	Email     string    `json:"email"`
	User      string    `json:"user"`
	Groups    []string  `json:"groups"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresOn time.Time `json:"expires_on"`
}

func main() {
	addr := flag.String("listen", "127.0.0.1:0", "address")
	to := flag.String("to", "", "backend")
	redisAddr := flag.String("redis", "", "redis host:port")
	flag.Parse()
	target, err := url.Parse(*to)
	if err != nil || *to == "" || *redisAddr == "" {
		log.Fatal("o2pstyle: -to and -redis are required")
	}
	rdb := redis.NewClient(&redis.Options{Addr: *redisAddr})
	sc := securecookie.New(securecookie.GenerateRandomKey(32), securecookie.GenerateRandomKey(32))
	sc.MaxAge(7 * 24 * 3600)

	cookie, err := mintSession(context.Background(), rdb, sc)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cookie)
	_ = os.Stdout.Sync()

	rp := httputil.NewSingleHostReverseProxy(target)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := loadSession(r, rdb, sc)
		if err != nil {
			http.Error(w, "sign in required", http.StatusForbidden)
			return
		}
		r.Header.Set("X-Forwarded-User", s.User)
		r.Header.Set("X-Forwarded-Email", s.Email)
		r.Header.Set("X-Forwarded-Groups", strings.Join(s.Groups, ","))
		rp.ServeHTTP(w, r)
	})))
}

// mintSession stores one session under a random ticket id and returns its cookie.
func mintSession(ctx context.Context, rdb *redis.Client, sc *securecookie.SecureCookie) (string, error) {
	now := time.Now()
	s := session{Email: "bench@example.com", User: "bench", Groups: []string{"staff"}, CreatedAt: now, ExpiresOn: now.Add(time.Hour)}
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	ticket := cookieName + "-" + rand.Text()
	if err := rdb.Set(ctx, ticket, b, 2*time.Hour).Err(); err != nil {
		return "", err
	}
	v, err := sc.Encode(cookieName, ticket)
	if err != nil {
		return "", err
	}
	return cookieName + "=" + v, nil
}

// loadSession is the per-request work: cookie → ticket → Redis → session.
func loadSession(r *http.Request, rdb *redis.Client, sc *securecookie.SecureCookie) (*session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil, err
	}
	var ticket string
	if err := sc.Decode(cookieName, c.Value, &ticket); err != nil {
		return nil, err
	}
	b, err := rdb.Get(r.Context(), ticket).Bytes()
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if time.Now().After(s.ExpiresOn) {
		return nil, fmt.Errorf("session expired at %s", s.ExpiresOn)
	}
	return &s, nil
}

// Command mint signs in n times through fedgate's real login flow and prints
// each resulting session cookie, one per line, for load tests with many
// distinct sessions: fedgate's app-host cookie ("name=value"), or with -o2p
// oauth2-proxy's, from a real sign-in that starts at its /oauth2/start and
// has fedgate as its OpenID Provider (its cookies as one Cookie header value:
// oauth2-proxy splits a long session into _oauth2_proxy_0, _1, …).
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
)

func main() {
	fedgate := flag.String("fedgate", "", "fedgate's public URL")
	app := flag.String("app", "", "the proxy app's URL")
	o2p := flag.String("o2p", "", "oauth2-proxy's URL: sign in there (fedgate as its OP) instead of at -app")
	user := flag.String("user", "", "user")
	pw := flag.String("password", "", "password")
	n := flag.Int("n", 1, "sessions")
	par := flag.Int("p", 4, "sign-ins at once")
	flag.Parse()
	dest, start, match := *app, *app+"/", func(name string) bool { return strings.HasSuffix(name, "fedgate_app") }
	if *o2p != "" {
		dest, start, match = *o2p, *o2p+"/oauth2/start?rd=%2F", o2pSession.MatchString
	}
	destURL, _ := url.Parse(dest)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan struct{})
	)
	go func() {
		for range *n {
			next <- struct{}{}
		}
		close(next)
	}()
	for range *par {
		wg.Go(func() {
			for range next {
				c := cookieHeader(signIn(*fedgate, start, destURL, *user, *pw), destURL, match)
				mu.Lock()
				fmt.Println(c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// o2pSession matches oauth2-proxy's session cookie (default name) and the
// parts it splits a long one into, not its _oauth2_proxy_csrf cookie.
var o2pSession = regexp.MustCompile(`^_oauth2_proxy(_[0-9]+)?$`)

// signIn follows start to fedgate's sign-in form, signs in, follows the
// redirects back and checks that they end in a 200 from dest's host (the
// app behind the proxy answering). It returns the cookies it collected.
func signIn(fedgate, start string, dest *url.URL, user, pw string) http.CookieJar {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", start, nil)
	req.Header.Set("Accept", "text/html")
	r, err := c.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrf.FindSubmatch(page)
	if m == nil || !strings.HasPrefix(r.Request.URL.String(), fedgate) {
		log.Fatalf("no sign-in form at %s", r.Request.URL)
	}
	r, err = c.PostForm(r.Request.URL.String(), url.Values{"csrf": {string(m[1])}, "upstream": {"local"}, "username": {user}, "password": {pw}})
	if err != nil {
		log.Fatalf("sign-in: %v", err)
	}
	r.Body.Close()
	if r.StatusCode != 200 || r.Request.URL.Host != dest.Host {
		log.Fatalf("sign-in ended in %d at %s, not a 200 from %s", r.StatusCode, r.Request.URL, dest.Host)
	}
	return jar
}

// cookieHeader joins jar's cookies for u whose names match into one Cookie
// header value.
func cookieHeader(jar http.CookieJar, u *url.URL, match func(string) bool) string {
	var parts []string
	for _, ck := range jar.Cookies(u) {
		if match(ck.Name) {
			parts = append(parts, ck.Name+"="+ck.Value)
		}
	}
	if len(parts) == 0 {
		log.Fatalf("no session cookie for %s after sign-in", u.Host)
	}
	return strings.Join(parts, "; ")
}

var csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

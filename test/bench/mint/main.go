// Command mint signs in n times through fedgate's real login flow and prints
// each resulting app-host session cookie ("name=value"), one per line, for
// load tests with many distinct sessions.
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
	user := flag.String("user", "", "user")
	pw := flag.String("password", "", "password")
	n := flag.Int("n", 1, "sessions")
	par := flag.Int("p", 4, "sign-ins at once")
	flag.Parse()
	appURL, _ := url.Parse(*app)
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
				c := mint(*fedgate, *app, *user, *pw, appURL)
				mu.Lock()
				fmt.Println(c)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// mint signs in once and returns the app host's session cookie.
func mint(fedgate, app, user, pw string, appURL *url.URL) string {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, _ := http.NewRequest("GET", app+"/", nil)
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
	if err != nil || r.StatusCode != 200 {
		log.Fatalf("sign-in: %v %v", err, r)
	}
	r.Body.Close()
	for _, ck := range jar.Cookies(appURL) {
		if strings.HasSuffix(ck.Name, "fedgate_app") {
			return ck.Name + "=" + ck.Value
		}
	}
	log.Fatal("no app-host cookie after sign-in")
	return ""
}

var csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

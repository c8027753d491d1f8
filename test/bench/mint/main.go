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
)

func main() {
	fedgate := flag.String("fedgate", "", "fedgate's public URL")
	app := flag.String("app", "", "the proxy app's URL")
	user := flag.String("user", "", "user")
	pw := flag.String("password", "", "password")
	n := flag.Int("n", 1, "sessions")
	flag.Parse()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	appURL, _ := url.Parse(*app)
	for range *n {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		req, _ := http.NewRequest("GET", *app+"/", nil)
		req.Header.Set("Accept", "text/html")
		r, err := c.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		page, _ := io.ReadAll(r.Body)
		r.Body.Close()
		m := csrf.FindSubmatch(page)
		if m == nil || !strings.HasPrefix(r.Request.URL.String(), *fedgate) {
			log.Fatalf("no sign-in form at %s", r.Request.URL)
		}
		r, err = c.PostForm(r.Request.URL.String(), url.Values{"csrf": {string(m[1])}, "upstream": {"local"}, "username": {*user}, "password": {*pw}})
		if err != nil || r.StatusCode != 200 {
			log.Fatalf("sign-in: %v %v", err, r)
		}
		r.Body.Close()
		for _, ck := range jar.Cookies(appURL) {
			if strings.HasSuffix(ck.Name, "fedgate_app") {
				fmt.Printf("%s=%s\n", ck.Name, ck.Value)
			}
		}
	}
}

// Command load drives browser-shaped flows at fedgate (or at the minimal OP
// baseline) from c concurrent workers for d, and prints one line:
//
//	<flows/s> <p99 ms> <flows>
//
// Modes:
//
//	code    OIDC code flow with an existing session: GET authorize (the
//	        session cookie answers it) → POST token. Each worker signs in once
//	        first (fedgate), or presents -cookie (the minimal OP).
//	signin  OIDC code flow with a fresh sign-in every time: authorize → the
//	        sign-in form → credentials → back to the client → token.
//	saml    SP-initiated SAML answer with an existing session: GET the SSO
//	        URL with a new AuthnRequest (Redirect binding) → the auto-POST page.
//
// Loopback only: it is a benchmark client, bounded in time.
package main

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

var (
	mode     = flag.String("mode", "code", "code, signin or saml")
	base     = flag.String("base", "http://127.0.0.1:18090", "fedgate's (or the OP's) base URL")
	client   = flag.String("client", "bench", "client_id")
	secret   = flag.String("secret", "bench-secret-0123456789", "client secret (basic auth)")
	redirect = flag.String("redirect", "http://127.0.0.1:1/cb", "redirect_uri (never contacted)")
	user     = flag.String("user", "bench", "user name")
	password = flag.String("password", "bench-pw", "password")
	cookie   = flag.String("cookie", "", "name=value to present instead of signing in (the minimal OP)")
	spEntity = flag.String("sp", "https://sp.bench.invalid/saml", "SAML SP entity id")
	conc     = flag.Int("c", 16, "concurrent workers")
	dur      = flag.Duration("d", 10*time.Second, "duration")
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func main() {
	flag.Parse()
	transport := &http.Transport{MaxIdleConnsPerHost: *conc * 2}
	var (
		mu    sync.Mutex
		lat   []time.Duration
		fails int
		wg    sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(*dur)
	for range *conc {
		wg.Go(func() {
			c := newClient(transport)
			if *mode != "signin" {
				if err := session(c); err != nil {
					log.Fatalf("sign-in before the run: %v", err)
				}
			}
			var mine []time.Duration
			bad := 0
			for time.Now().Before(end) {
				t := time.Now()
				var err error
				switch *mode {
				case "code":
					err = codeFlow(c)
				case "signin":
					c = newClient(transport)
					if err = signIn(c); err == nil {
						err = codeFlow(c)
					}
				case "saml":
					err = samlAnswer(c)
				default:
					log.Fatalf("unknown mode %q", *mode)
				}
				if err != nil {
					bad++
					if bad == 1 {
						log.Printf("flow failed: %v", err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat, fails = append(lat, mine...), fails+bad
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	if fails > 0 {
		log.Fatalf("%d flows failed (%d succeeded)", fails, len(lat))
	}
	if len(lat) == 0 {
		log.Fatal("no flow completed")
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	fmt.Printf("%.1f %.2f %d\n", float64(len(lat))/elapsed, float64(p99.Microseconds())/1000, len(lat))
}

func newClient(t http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Transport: t, Jar: jar, Timeout: 30 * time.Second,
		// Stop at the client's redirect URI (nothing listens there).
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(r.URL.String(), *redirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
}

// session gives the worker's client a session: -cookie, or a real sign-in.
func session(c *http.Client) error {
	if *cookie != "" {
		name, value, _ := strings.Cut(*cookie, "=")
		u, _ := url.Parse(*base)
		c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value}})
		return nil
	}
	return signIn(c)
}

// signIn runs an authorization request without a session: fedgate shows its
// sign-in form, the credentials go in, and the flow comes back to the client
// with a code (which is spent, so nothing is left open).
func signIn(c *http.Client) error {
	r, err := c.Get(authorizeURL())
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return fmt.Errorf("no sign-in form at %s (%d)", r.Request.URL, r.StatusCode)
	}
	r, err = c.PostForm(r.Request.URL.String(), url.Values{"csrf": {string(m[1])}, "upstream": {"local"},
		"username": {*user}, "password": {*password}})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	code, err := codeOf(r)
	if err != nil {
		return err
	}
	if *mode == "signin" {
		return token(c, code)
	}
	return nil
}

func authorizeURL() string {
	q := url.Values{"client_id": {*client}, "redirect_uri": {*redirect}, "response_type": {"code"},
		"scope": {"openid profile email"}, "state": {randomID()}, "nonce": {randomID()}}
	return *base + "/oauth2/authorize?" + q.Encode()
}

func codeOf(r *http.Response) (string, error) {
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || r.StatusCode/100 != 3 || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("no code: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	return loc.Query().Get("code"), nil
}

// codeFlow: authorize with the session, then the token request.
func codeFlow(c *http.Client) error {
	r, err := c.Get(authorizeURL())
	if err != nil {
		return err
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	code, err := codeOf(r)
	if err != nil {
		return err
	}
	return token(c, code)
}

func token(c *http.Client, code string) error {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {*redirect}}
	req, _ := http.NewRequest(http.MethodPost, *base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(*client, *secret)
	r, err := c.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	var res struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || r.StatusCode != 200 || res.IDToken == "" {
		return fmt.Errorf("token: %d %v", r.StatusCode, err)
	}
	return nil
}

// deflaters are reused: a new flate.Writer allocates hundreds of KB, and
// the client shares the cores with the server it measures.
var deflaters = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}

// samlAnswer asks for a SAML answer with a new AuthnRequest (ids are
// single-use) and checks that the auto-POST page carries a Response.
func samlAnswer(c *http.Client) error {
	now := time.Now().UTC().Format(time.RFC3339)
	xml := `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_` +
		randomID() + `" Version="2.0" IssueInstant="` + now + `" Destination="` + *base + `/saml/sso"><saml:Issuer>` + *spEntity +
		`</saml:Issuer></samlp:AuthnRequest>`
	var b bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&b)
	w.Write([]byte(xml))
	w.Close()
	r, err := c.Get(*base + "/saml/sso?SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(b.Bytes())))
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.Contains(page, []byte(`name="SAMLResponse"`)) {
		return errors.New("saml: no Response: " + r.Status)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

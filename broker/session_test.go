package broker

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/fedgate/fedgate/protocols"
)

// sessionValue signs alice in and returns her session cookie's value.
func sessionValue(t *testing.T, e *testEnv) string {
	t.Helper()
	e.signIn(e.client, "alice", "alice-pw")
	for _, c := range e.client.Jar.Cookies(mustURL(e.http.URL)) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// withCookie requests the app presenting only the given session cookie.
func withCookie(e *testEnv, value string) resp {
	req, _ := http.NewRequest("GET", e.http.URL+"/apps/demo/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	return e.do(e.newClient(), req)
}

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, e *testEnv, v string) string
		ok     bool
	}{
		{"valid", func(_ *testing.T, _ *testEnv, v string) string { return v }, true},
		{"tampered", func(_ *testing.T, _ *testEnv, v string) string {
			b := []byte(v)
			b[len(b)/2] ^= 0x01
			return string(b)
		}, false},
		{"truncated", func(_ *testing.T, _ *testEnv, v string) string { return v[:len(v)-5] }, false},
		{"garbage", func(_ *testing.T, _ *testEnv, _ string) string { return "not-a-cookie|||" }, false},
		{"oversized", func(_ *testing.T, _ *testEnv, v string) string { return v + strings.Repeat("A", 5000) }, false},
		{"past absolute lifetime", func(_ *testing.T, e *testEnv, v string) string {
			// Keep it from going idle so only the absolute lifetime ends it.
			for range 12 {
				e.clock.Advance(59 * time.Minute)
				_ = withCookie(e, v)
			}
			e.clock.Advance(13 * time.Minute)
			return v
		}, false},
		{"idle too long", func(_ *testing.T, e *testEnv, v string) string {
			e.clock.Advance(2*time.Hour + time.Second)
			return v
		}, false},
		{"sealed under another cookie's name", func(t *testing.T, e *testEnv, _ string) string {
			snap := e.srv.Current()
			rec := &headerRecorder{h: http.Header{}}
			p := &Pending{ID: randomID(), Return: "/", Created: e.clock.Now()}
			if err := snap.sealer.seal(rec, pendingPrefix+p.ID, p, time.Hour, http.SameSiteLaxMode); err != nil {
				t.Fatal(err)
			}
			c, _ := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
			return c.Value
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			v := tt.mutate(t, e, sessionValue(t, e))
			r := withCookie(e, v)
			if got := r.code == http.StatusOK; got != tt.ok {
				t.Fatalf("status %d, want accepted=%v", r.code, tt.ok)
			}
			if !tt.ok && (r.code != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login?l=")) {
				t.Fatalf("rejected cookie should lead to sign-in, got %d %q", r.code, r.location)
			}
		})
	}
}

type headerRecorder struct{ h http.Header }

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(int)             {}

func TestCookieKeyRotation(t *testing.T) {
	e := newEnv(t)
	v := sessionValue(t, e) // sealed with keys[0]
	snap := e.srv.Current()
	swapKeys := func(t *testing.T, idx ...int) {
		t.Helper()
		var ups []protocols.Upstream
		for _, u := range snap.upstreams {
			ups = append(ups, u.Upstream)
		}
		var ks = e.keys[:0:0]
		for _, i := range idx {
			ks = append(ks, e.keys[i])
		}
		s, err := NewSnapshot(snap.Config, ks, ups)
		if err != nil {
			t.Fatal(err)
		}
		e.srv.Swap(s)
	}
	// A new key in front: old cookies still open, new ones use the new key.
	swapKeys(t, 1, 0)
	if r := withCookie(e, v); r.code != http.StatusOK {
		t.Fatalf("old-key cookie after rotation = %d", r.code)
	}
	// The old key dropped: its cookies are refused.
	swapKeys(t, 1)
	if r := withCookie(e, v); r.code != http.StatusSeeOther {
		t.Fatalf("cookie of a dropped key = %d, want sign-in", r.code)
	}
}

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t)
	r := e.get(e.client, "/apps/demo/")
	c, err := http.ParseSetCookie(r.header.Get("Set-Cookie"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 {
		t.Fatalf("pending cookie attributes: %+v", c)
	}
	// Over https the cookie is Secure and __Host- prefixed.
	s, err := newSealer(e.keys, true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rec := &headerRecorder{h: http.Header{}}
	if err := s.seal(rec, sessionCookie, map[string]string{"a": "b"}, time.Hour, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	sc, _ := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
	if sc.Name != "__Host-fedgate" || !sc.Secure || !sc.HttpOnly {
		t.Fatalf("secure cookie: %+v", sc)
	}
}

// TestBadInput: malformed or oversized input gets a 4xx with a correlation
// id, never a 5xx or a stack trace.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	formURL, csrf := e.beginLogin(e.client, "/apps/demo/")
	big := strings.Repeat("a", 70<<10)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"unknown app", "GET", "/login?app=nope", "", 400},
		{"open redirect return", "GET", "/login?return=//evil.example/", "", 400},
		{"absolute return", "GET", "/login?return=https://evil.example/", "", 400},
		{"backslash return", "GET", "/login?return=/%5Cevil.example", "", 400},
		{"bad pending id", "GET", "/login?l=../../etc", "", 400},
		{"unknown pending id", "GET", "/login?l=AAAAAAAAAAAAAAAAAAAAAA", "", 400},
		{"unknown upstream", "GET", formURL + "&upstream=ghost", "", 400},
		{"post unknown upstream", "POST", formURL, "csrf=" + url.QueryEscape(csrf) + "&upstream=ghost&username=a&password=b", 400},
		{"oversized form", "POST", formURL, "csrf=" + url.QueryEscape(csrf) + "&username=" + big, 400},
		{"malformed form", "POST", formURL, "%zz=%", 400},
		{"unknown app path", "GET", "/apps/nope/", "", 404},
		{"unknown route", "GET", "/nope", "", 404},
		{"bad query escape", "GET", "/login?app=%zz", "", 303},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, e.http.URL+tt.path, strings.NewReader(tt.body))
			if tt.method == "POST" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			r := e.do(e.client, req)
			if r.code != tt.want {
				t.Fatalf("status %d, want %d\n%s", r.code, tt.want, r.body)
			}
			if r.code >= 400 && (!strings.Contains(r.body, r.header.Get("X-Request-Id")) || r.header.Get("X-Request-Id") == "") {
				t.Fatalf("error page lacks the correlation id %q", r.header.Get("X-Request-Id"))
			}
			if strings.Contains(r.body, "goroutine") || strings.Contains(r.body, ".go:") {
				t.Fatal("stack trace in response")
			}
		})
	}
	// API clients get JSON errors.
	req, _ := http.NewRequest("GET", e.http.URL+"/apps/demo/", nil)
	req.Header.Set("Accept", "application/json")
	if r := e.do(e.newClient(), req); r.code != 401 || !strings.Contains(r.body, `"correlation_id"`) || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("API client without session = %d %s", r.code, r.body)
	}
}

func TestLocalPath(t *testing.T) {
	for _, s := range []string{"//evil", "/\\evil", "https:evil", "https://evil", "\t//evil", "/%09/evil", "a@b@evil", "evil", "", "/ok\r\nSet-Cookie:x", "//%2F%2Fevil"} {
		if got, ok := localPath(s); ok && (strings.HasPrefix(got, "//") || !strings.HasPrefix(got, "/")) {
			t.Errorf("localPath(%q) = %q accepted", s, got)
		} else if ok && s != "/%09/evil" {
			t.Errorf("localPath(%q) accepted as %q", s, got)
		}
	}
	for _, s := range []string{"/", "/apps/demo/", "/apps/demo/?x=1&y=%2F"} {
		if _, ok := localPath(s); !ok {
			t.Errorf("localPath(%q) refused", s)
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	tests := map[string]string{
		"":                                "en",
		"ja":                              "ja",
		"ja-JP,ja;q=0.9,en-US;q=0.8":      "ja",
		"en-US,en;q=0.9,ja;q=0.8":         "en",
		"fr-FR, ja;q=0.5, en;q=0.4":       "ja",
		"de":                              "en",
		"ja;q=0.1, en;q=0.2":              "en",
		strings.Repeat("x,", 1000) + "ja": "en",
	}
	for h, want := range tests {
		if got := fromAcceptLanguage(h); got != want {
			t.Errorf("fromAcceptLanguage(%.40q) = %s, want %s", h, got, want)
		}
	}
}

func TestMessagesComplete(t *testing.T) {
	for k := range messages["en"] {
		if _, ok := messages["ja"][k]; !ok {
			t.Errorf("ja lacks %q", k)
		}
	}
	for k := range messages["ja"] {
		if _, ok := messages["en"][k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}

// A client that ignores Set-Cookie keeps sending its stale cookie: it is
// resealed and told once per touch interval (not on every response), its
// idle timeout still runs from its own cookie however often it comes, and
// the resealed one slides.
func TestStaleCookieResealedOncePerInterval(t *testing.T) {
	e := newEnv(t)
	stale := sessionValue(t, e)
	resealed := func(r resp) string {
		t.Helper()
		if r.code != http.StatusOK {
			t.Fatalf("status %d", r.code)
		}
		for _, line := range r.header.Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == sessionCookie {
				return c.Value
			}
		}
		return ""
	}
	e.clock.Advance(2 * time.Minute)
	first := resealed(withCookie(e, stale))
	if first == "" || first == stale {
		t.Fatal("stale cookie not resealed")
	}
	e.clock.Advance(10 * time.Second)
	if again := resealed(withCookie(e, stale)); again != "" {
		t.Fatal("stale cookie told again within the touch interval")
	}
	e.clock.Advance(time.Minute)
	later := resealed(withCookie(e, stale))
	if later == "" || later == first {
		t.Fatal("stale cookie not resealed after the touch interval")
	}
	// Idle is two hours: the stale cookie's last use is its sign-in, and
	// using it every half minute, resealed or not, does not slide it.
	var told int
	for range 230 { // to 1h58m10s after the sign-in
		e.clock.Advance(30 * time.Second)
		if resealed(withCookie(e, stale)) != "" {
			told++
		}
	}
	if told < 100 || told > 120 {
		t.Fatalf("stale cookie told %d times in two hours, want about once a minute", told)
	}
	e.clock.Advance(2 * time.Minute)
	if r := withCookie(e, stale); r.code != http.StatusSeeOther {
		t.Fatalf("stale cookie past its idle timeout: status %d, want a redirect to sign in", r.code)
	}
	if r := withCookie(e, later); r.code != http.StatusOK {
		t.Fatalf("slid cookie refused: status %d", r.code)
	}
}

// A request's first session from the cache lives in the request's state
// (no allocation); any further one is its own copy, and changing either
// changes neither the other nor the cached session.
func TestMemoSessionCopies(t *testing.T) {
	st := &reqState{Context: t.Context()}
	m := &sessionMemo{s: Session{ID: "s1", LastSeen: time.Unix(100, 0)}}
	first, second := m.session(st), m.session(st)
	if first != &st.session || second == first || second.memo != m || first.memo != m {
		t.Fatal("the first session is not the request's slot, or the second shares it")
	}
	first.LastSeen, second.Expires = time.Unix(200, 0), time.Unix(300, 0)
	if !second.LastSeen.Equal(time.Unix(100, 0)) || !first.Expires.IsZero() || !m.s.LastSeen.Equal(time.Unix(100, 0)) || !m.s.Expires.IsZero() {
		t.Fatal("a change to one copy reached another")
	}
	if other := m.session(t.Context()); other == first || other == second {
		t.Fatal("a session outside a request shares a copy")
	}
}

// The session cache holds a few hundred typical sessions at once (a busy
// app's active users all hit it) but no more bytes than its bound however
// many sessions pass through it, and large sessions take more of it.
func TestSessionCacheBoundedByBytes(t *testing.T) {
	c := newSessionCache(sessionCacheSize)
	typical := strings.Repeat("v", 716) // a sealed session of a few groups
	key := func(i int) cacheKey { return keyOf(appSessionCookie, typical+strconv.Itoa(i)) }
	for i := range 350 {
		c.put(key(i), len(typical), Session{ID: strconv.Itoa(i)})
	}
	for i := range 350 {
		if m, ok := c.get(key(i)); !ok || m.s.ID != strconv.Itoa(i) {
			t.Fatalf("typical session %d of 350 not cached", i)
		}
	}
	total := func() (n int) {
		for _, m := range c.m {
			n += m.cost
		}
		return n
	}
	for i := range 10_000 {
		c.put(key(i), len(typical), Session{})
		c.put(key(i%10), len(typical), Session{}) // the same cookie opened again
	}
	if c.bytes != total() || c.bytes > sessionCacheBytes || len(c.m) < 350 {
		t.Fatalf("%d entries costing %d bytes (counted %d), bound %d", len(c.m), total(), c.bytes, sessionCacheBytes)
	}
	large := strings.Repeat("v", 8<<10)
	for i := range 1000 {
		c.put(keyOf(appSessionCookie, large+strconv.Itoa(i)), len(large), Session{})
	}
	if c.bytes != total() || c.bytes > sessionCacheBytes || len(c.m) > sessionCacheBytes/memoCost(len(large)) {
		t.Fatalf("large sessions: %d entries costing %d bytes (counted %d)", len(c.m), total(), c.bytes)
	}
}

// The session cache answers only the very cookie that was opened, under
// the name it was opened for: a value one byte longer or shorter, or the
// same value sent as another cookie (fedgate's own vs an app host's), is
// opened afresh. The entry keeps its own copy of the value, not a piece of
// the request's Cookie header.
func TestSessionCacheKeyExact(t *testing.T) {
	c := newSessionCache(sessionCacheSize)
	header := "other=1; " + appSessionCookie + "=sealed-value-0123456789"
	value := header[len("other=1; ")+len(appSessionCookie)+1:]
	c.put(keyOf(appSessionCookie, value), len(value), Session{ID: "s1"})
	if m, ok := c.get(keyOf(appSessionCookie, "sealed-value-0123456789")); !ok || m.s.ID != "s1" {
		t.Fatal("the cookie that was opened is not found")
	}
	for _, k := range []cacheKey{
		keyOf(sessionCookie, value),
		keyOf(appSessionCookie, value+"0"),
		keyOf(appSessionCookie, value[:len(value)-1]),
		keyOf(appSessionCookie, ""),
	} {
		if _, ok := c.get(k); ok {
			t.Errorf("%q under %q found the entry of another cookie", k.value, k.name)
		}
	}
	for k := range c.m {
		if unsafe.StringData(k.value) == unsafe.StringData(value) {
			t.Error("the cache key points into the request's Cookie header")
		}
	}
}

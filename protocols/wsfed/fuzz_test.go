package wsfed

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzWSFedParams: any query to the passive endpoint (wa, wtrealm, wreply,
// wctx, repeated or malformed) is answered without a 5xx or a panic.
func FuzzWSFedParams(f *testing.F) {
	for _, s := range []string{
		signIn(Path, "wtrealm", "urn:intranet", "wreply", "https://intranet.example.co.jp/", "wctx", "rm=0&id=x"),
		signIn(Path, "wtrealm", "urn:intranet", "wreply", "https://evil.example/"),
		Path + "?wa=wsignout1.0&wreply=https%3A%2F%2Fintranet.example.co.jp%2F",
		Path + "?wa=wsignin1.0&wa=wsignout1.0&wtrealm=%zz",
		Path + "?wa=wsignoutcleanup1.0",
	} {
		u, _ := url.Parse(s)
		f.Add(u.RawQuery)
	}
	e := newEnv(f, map[string]RPConfig{"intranet": intranet()})
	f.Fuzz(func(t *testing.T, rawQuery string) {
		for _, path := range []string{Path, Path + "/intranet"} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.URL.RawQuery = rawQuery
			w := httptest.NewRecorder()
			e.mux.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s?%s: %d %s", path, rawQuery, w.Code, w.Body)
			}
		}
	})
}

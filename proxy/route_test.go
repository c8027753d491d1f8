package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// pathCases: a lax route "/" and a strict "/admin/" (with a deeper
// "/admin/public.v1/") on one host. Every way a backend (IIS, Tomcat,
// Spring, nginx, Node, Flask) could read a path as /admin/... must be
// refused or reach the admin route, never the lax one.
var pathCases = []struct{ path, want string }{ // want: app, or "" = refused
	// dot segments, empty segments, separators
	{"/x/../admin/y", ""}, {"/./admin/x", ""}, {"//admin/x", ""}, {"/admin/../admin/x", ""},
	{"/x/%2e%2e/admin/y", ""}, {"/x/.%2E/admin/y", ""}, {"/admin%2f/x", ""}, {"/x%2F..%2Fadmin/y", ""},
	{"/admin%5cx", ""}, {"/x/..%5cadmin/y", ""},
	// path parameters (Tomcat, Jetty, Spring)
	{"/admin;x/", ""}, {"/admin;jsessionid=1/x", ""}, {"/x/..;/admin/y", ""}, {"/admin%3b/x", ""},
	// trailing dots and spaces (Windows, IIS), Spring's suffix match
	{"/admin./x", ""}, {"/admin../x", ""}, {"/admin%2e/x", ""}, {"/admin%20/x", ""}, {"/admin.%20./x", ""},
	{"/admin.", ""}, {"/admin.json", ""}, {"/admin.css/x", ""}, {"/%20admin/x", ""},
	// control characters and Unicode white space (Express, Flask, nginx trims)
	{"/admin%09/x", ""}, {"/admin%00/x", ""}, {"/admin%0a/x", ""}, {"/admin%0d/x", ""}, {"/admin%0b/x", ""},
	{"/admin%0c/x", ""}, {"/admin%1f/x", ""}, {"/admin%7f/x", ""}, {"/admin%c2%85/x", ""}, {"/admin%c2%a0/x", ""},
	{"/admin%85/x", ""}, {"/admin%a0/x", ""}, {"/admin%e3%80%80/x", ""}, {"/admin%e2%80%83/x", ""},
	// NTFS streams
	{"/admin::$INDEX_ALLOCATION/x", ""}, {"/admin:$i30:$INDEX_ALLOCATION/x", ""}, {"/admin::$DATA", ""},
	// fragments and queries a backend might cut off
	{"/admin#/x", ""}, {"/admin%23/x", ""}, {"/admin%3f/x", ""}, {"/admin%3F.x", ""},
	// double encoding
	{"/admin%252e/x", ""}, {"/x%252f..%252fadmin/y", ""}, {"/admin%2520/x", ""}, {"/admin%255c", ""},
	{"/x/%252e%252e/admin/", ""}, {"/admin%25252e/x", ""},
	// full-width and look-alike characters (Windows best fit, NFKC)
	{"/%EF%BD%81%EF%BD%84%EF%BD%8D%EF%BD%89%EF%BD%8E/x", ""}, {"/x/%EF%BC%8E%EF%BC%8E/admin/", ""},
	{"/x%EF%BC%8F..%EF%BC%8Fadmin/", ""}, {"/admin%E2%88%95x", ""}, {"/admin%EF%BC%BCx", ""},
	{"/admin%E2%80%A4/x", ""}, {"/x/%EF%B9%92%EF%B9%92/admin/", ""},
	// case: routed to the stricter route
	{"/ADMIN/x", "admin"}, {"/Admin/x", "admin"}, {"/aDmIn", "admin"}, {"/%41dmin/x", "admin"},
	// what must keep working
	{"/", "lax"}, {"/x", "lax"}, {"/administrator", "lax"}, {"/adminx/y", "lax"}, {"/docs/a.b/c", "lax"},
	{"/x%20y/z", "lax"}, {"/static/app.js", "lax"}, {"/.well-known/x", "lax"}, {"/a:b/c", "lax"},
	{"/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB/%E5%90%8D.txt", "lax"}, {"/x/..../y", "lax"}, {"/q?next=/admin/", "lax"}, {"/x#/admin/", "lax"},
	{"/admin", "admin"}, {"/admin/", "admin"}, {"/admin/x.json", "admin"}, {"/admin/a%20b", "admin"},
	{"/admin/public.v1/x", "pub"}, {"/ADMIN/Public.V1/x", "pub"}, {"/admin/public.v2/x", "pub2"},
	// from a route that reads alike to a deeper one: refused
	{"/admin/public%20/x", ""}, {"/admin/public.json", ""},
}

func pathRoutes(backend func(app string) *url.URL) []*Route {
	var rs []*Route
	for app, prefix := range map[string]string{"lax": "/", "admin": "/admin/", "pub": "/admin/public.v1/", "pub2": "/admin/public.v2/"} {
		rs = append(rs, &Route{App: app, Host: "app.example", PathPrefix: prefix, Targets: []*url.URL{backend(app)}})
	}
	return rs
}

// TestPathAmbiguityForwardAuth: Match, as forward-auth uses it.
func TestPathAmbiguityForwardAuth(t *testing.T) {
	routes := pathRoutes(func(string) *url.URL { return &url.URL{Scheme: "http", Host: "backend.internal"} })
	for _, tt := range pathCases {
		orig, err := url.ParseRequestURI(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		got := ""
		if rt, ok := Match(routes, "App.Example", orig); ok && rt != nil {
			got = rt.App
		}
		if got != tt.want {
			t.Errorf("Match(%s) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestPathAmbiguityProxy: the same through the proxy, byte for byte: the
// backend that answers names itself; refused paths get 400.
func TestPathAmbiguityProxy(t *testing.T) {
	named := func(name string) *url.URL {
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
		t.Cleanup(be.Close)
		u, _ := url.Parse(be.URL)
		return u
	}
	srv, _ := testProxy(t, nil, pathRoutes(named)...)
	for _, tt := range pathCases {
		code, body := raw(t, srv, "GET "+tt.path+" HTTP/1.1\r\nHost: app.example\r\n\r\n")
		switch {
		case tt.want == "" && code != http.StatusBadRequest:
			t.Errorf("%s = %d %q, want 400", tt.path, code, body)
		case tt.want != "" && (code != http.StatusOK || body != tt.want):
			t.Errorf("%s = %d %q, want the %s backend", tt.path, code, body, tt.want)
		}
	}
}

// FuzzMatch: no path panics, and none that some backend reads as /admin/...
// is given to the lax route.
func FuzzMatch(f *testing.F) {
	for _, tt := range pathCases {
		f.Add(tt.path)
	}
	routes := pathRoutes(func(string) *url.URL { return &url.URL{Scheme: "http", Host: "backend.internal"} })
	f.Fuzz(func(t *testing.T, p string) {
		u, err := url.ParseRequestURI(p)
		if err != nil {
			return
		}
		rt, ok := Match(routes, "app.example", u)
		if ok && rt != nil && rt.App == "lax" && under(lenientPath(u.Path), "/admin/") {
			t.Fatalf("%q went to the lax route; read leniently it is %q", p, lenientPath(u.Path))
		}
	})
}

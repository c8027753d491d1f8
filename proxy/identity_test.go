package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestIdentityHeadersStrippedPerHostAndBackend: a header that fedgate sets
// on one route must not pass from the client on another route of the same
// host, on a route sharing a backend host, or (assertions) anywhere.
func TestIdentityHeadersStrippedPerHostAndBackend(t *testing.T) {
	be := httptest.NewServer(dump)
	t.Cleanup(be.Close)
	// Every backend host name dials the one dump server, so the routes can
	// name distinct backends.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, be.Listener.Addr().String())
	}}
	u := func(s string) []*url.URL { x, _ := url.Parse(s); return []*url.URL{x} }
	routes := []*Route{
		{App: "wiki", Host: "a.example", PathPrefix: "/", Targets: u("http://wiki.internal:8080"), IdentityHeaders: []string{"X-Wiki-User"}},
		{App: "admin", Host: "a.example", PathPrefix: "/admin/", Targets: u("http://admin.internal"), IdentityHeaders: []string{"X-Admin-App"}},
		// b.example shares admin's backend host (another port): linked to a.example.
		{App: "tool", Host: "b.example", PathPrefix: "/", Targets: u("http://ADMIN.internal:9090"), IdentityHeaders: []string{"X-Tool-User"}},
		{App: "fwd", Host: "b.example:8443", PathPrefix: "/fwd/", ForwardAuth: true, IdentityHeaders: []string{"X-Fwd-User"}},
		{App: "other", Host: "c.example", PathPrefix: "/", Targets: u("http://other.internal"), IdentityHeaders: []string{"X-Other-User"}, AssertionHeader: "X-Other-Assertion"},
		{App: "plain", Host: "d.example", PathPrefix: "/", Targets: u("http://plain.internal")},
	}
	p, err := New(routes, Options{Authorizer: &allowAll{}, Transport: tr,
		ErrorPage: func(w http.ResponseWriter, r *http.Request, status int) { http.Error(w, "error page", status) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		host, path, header string
		stripped           bool
	}{
		{"a.example", "/x", "X-Admin-App", true},       // the /admin/ route's header on / of the same host
		{"a.example", "/x", "X_Admin_App", true},       // in CGI spelling
		{"a.example", "/admin/x", "X-Wiki-User", true}, // and the other way round
		{"b.example", "/x", "X-Admin-App", true},       // shares admin's backend host
		{"a.example", "/x", "X-Tool-User", true},       // linked through admin's backend
		{"a.example", "/x", "X-Fwd-User", true},        // a forward_auth route on b.example (another port)
		{"d.example", "/x", "X-Other-Assertion", true}, // assertion headers: everywhere
		{"c.example", "/x", "X-Tool-User", false},      // unrelated host and backend: the app's own business
		{"d.example", "/x", "X-Admin-App", false},
		{"a.example", "/x", "X-Other-User", false},
	} {
		t.Run(tt.host+tt.path+" "+tt.header, func(t *testing.T) {
			code, body := raw(t, srv, "GET "+tt.path+" HTTP/1.1\r\nHost: "+tt.host+"\r\n"+tt.header+": mallory\r\n\r\n")
			if code != http.StatusOK {
				t.Fatalf("status %d", code)
			}
			if got := strings.Contains(body, "mallory"); got == tt.stripped {
				t.Fatalf("client's %s passed=%v, want stripped=%v:\n%s", tt.header, got, tt.stripped, body)
			}
		})
	}
}

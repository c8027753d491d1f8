package proxy

import (
	"net/url"
	"sort"
	"strings"
)

// Route is one app behind the proxy: requests for Host whose path starts
// with PathPrefix go to Targets, after the Authorizer has allowed them.
type Route struct {
	App        string
	Host       string // host[:port] as browsers send it; matched case-insensitively
	PathPrefix string // "/" or a prefix ending in "/"
	Targets    []*url.URL
	// HostHeader overrides the Host sent to the backend; PreserveHost sends
	// the client's. By default the target's host is sent.
	HostHeader   string
	PreserveHost bool
	// IdentityHeaders are every header name the Authorizer may inject. Any
	// incoming copy of them (any case, underscores for dashes) is removed,
	// on this route and on every route sharing its host or a backend host.
	IdentityHeaders []string
	// AssertionHeader carries the Authorizer's signed assertion, if any;
	// incoming copies are removed on every route of every host.
	AssertionHeader string
	// ForwardAuth routes are decided here but proxied by another server
	// (nginx auth_request and the like): they have no Targets.
	ForwardAuth bool
}

// Match returns the route for host and request URI among routes, or nil;
// ok is false when the path is not canonical. Forward-auth uses it to map
// the original request it is asked about.
func Match(routes []*Route, host string, u *url.URL) (rt *Route, ok bool) {
	cp, ok := canonicalPath(u)
	if !ok {
		return nil, false
	}
	return newRouteTable(routes).match(host, cp), true
}

// routeTable finds the route of a request: exact host, longest path prefix.
type routeTable struct {
	byHost map[string][]*Route // prefixes sorted longest first
}

func newRouteTable(routes []*Route) *routeTable {
	t := &routeTable{byHost: map[string][]*Route{}}
	for _, r := range routes {
		h := strings.ToLower(r.Host)
		t.byHost[h] = append(t.byHost[h], r)
	}
	for _, rs := range t.byHost {
		sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].PathPrefix) > len(rs[j].PathPrefix) })
	}
	return t
}

// match returns the route for host and a canonical path, or nil. Prefixes
// compare without case: a backend that ignores case (IIS) must not reach
// /admin/ through /ADMIN/ under a laxer route; the longer prefix wins.
func (t *routeTable) match(host, p string) *Route {
	for _, r := range t.byHost[strings.ToLower(host)] {
		n := len(r.PathPrefix)
		if len(p) >= n && strings.EqualFold(p[:n], r.PathPrefix) || strings.EqualFold(p+"/", r.PathPrefix) {
			return r
		}
	}
	return nil
}

// Hosts reports whether host has any route (for return-URL checks).
func (t *routeTable) has(host string) bool {
	return len(t.byHost[strings.ToLower(host)]) > 0
}

// canonicalPath refuses paths whose meaning a backend could read
// differently from the route match: dot segments (also as %2e), Tomcat's
// "..;" parameters, empty segments ("//"), NULs, and encoded slashes or
// backslashes. What is matched is then exactly what is forwarded.
func canonicalPath(u *url.URL) (string, bool) {
	p := u.Path
	// ";" starts path parameters that Tomcat and Jetty drop before routing
	// (/admin;x=1/ is /admin/ to them): refused outright.
	if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "\\\x00;") {
		return "", false
	}
	raw := strings.ToLower(u.EscapedPath())
	if strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return "", false
	}
	for rest := p[1:]; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if name, _, _ := strings.Cut(seg, ";"); name == "." || name == ".." {
			return "", false
		}
	}
	return p, true
}

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
// ok is false when the path must be refused (see routeTable.route).
// Forward-auth uses it to map the original request it is asked about.
func Match(routes []*Route, host string, u *url.URL) (rt *Route, ok bool) {
	return newRouteTable(routes).route(host, u)
}

// routeTable finds the route of a request: exact host, longest path prefix.
// lenient holds the same routes under their prefixes as lenientPath reads
// them.
type routeTable struct {
	byHost, lenient map[string][]prefixed // longest prefix first
}

type prefixed struct {
	prefix string
	route  *Route
}

func newRouteTable(routes []*Route) *routeTable {
	t := &routeTable{byHost: map[string][]prefixed{}, lenient: map[string][]prefixed{}}
	for _, r := range routes {
		h := strings.ToLower(r.Host)
		t.byHost[h] = append(t.byHost[h], prefixed{r.PathPrefix, r})
		t.lenient[h] = append(t.lenient[h], prefixed{lenientPath(r.PathPrefix), r})
	}
	for _, m := range []map[string][]prefixed{t.byHost, t.lenient} {
		for _, rs := range m {
			sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].prefix) > len(rs[j].prefix) })
		}
	}
	return t
}

// route returns the route for host and u, or nil; ok is false when the path
// is not canonical, or when some backend could read it as a path of another
// route (/admin./x is /admin/x to IIS): the request would get one route's
// policy and another's content. Such paths are refused, never routed.
func (t *routeTable) route(host string, u *url.URL) (*Route, bool) {
	p, ok := canonicalPath(u)
	if !ok {
		return nil, false
	}
	rt := match(t.byHost[strings.ToLower(host)], p)
	if !lenientAgrees(t.lenient[strings.ToLower(host)], lenientPath(p), rt) {
		return nil, false
	}
	return rt, true
}

// match returns the route for path p among rs, or nil: the longest prefix.
func match(rs []prefixed, p string) *Route {
	for _, r := range rs {
		if under(p, r.prefix) {
			return r.route
		}
	}
	return nil
}

// lenientAgrees reports whether rt is among the routes whose lenient prefix
// is the longest to hold q. (Prefixes that read alike, /app.v1/ and
// /app.v2/, tie: a lenient reading cannot tell them apart, nor escalate
// from one to the other.)
func lenientAgrees(rs []prefixed, q string, rt *Route) bool {
	best := -1
	for _, r := range rs {
		if best >= 0 && len(r.prefix) < best {
			break
		}
		if under(q, r.prefix) {
			best = len(r.prefix)
			if r.route == rt {
				return true
			}
		}
	}
	return best < 0 && rt == nil
}

// under reports whether p falls under prefix. Case is ignored: a backend
// that ignores it (IIS) must not reach /admin/ through /ADMIN/ under a
// laxer route.
func under(p, prefix string) bool {
	n := len(prefix)
	return len(p) >= n && strings.EqualFold(p[:n], prefix) || strings.EqualFold(p+"/", prefix)
}

// Hosts reports whether host has any route (for return-URL checks).
func (t *routeTable) has(host string) bool {
	return len(t.byHost[strings.ToLower(host)]) > 0
}

// canonicalPath refuses paths whose meaning a backend could read
// differently from the route match: dot segments (also as %2e), Tomcat's
// "..;" parameters, empty segments ("//"), control characters, and encoded
// slashes or backslashes. What is matched is then exactly what is forwarded.
func canonicalPath(u *url.URL) (string, bool) {
	p := u.Path
	// ";" starts path parameters that Tomcat and Jetty drop before routing
	// (/admin;x=1/ is /admin/ to them): refused outright.
	if p == "" || p[0] != '/' || strings.Contains(p, "//") || strings.ContainsAny(p, "\\;") || hasControl(p) {
		return "", false
	}
	raw := strings.ToLower(u.EscapedPath())
	if strings.Contains(raw, "%2f") || strings.Contains(raw, "%5c") {
		return "", false
	}
	for rest := p[1:]; rest != ""; {
		var seg string
		seg, rest, _ = strings.Cut(rest, "/")
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return p, true
}

// hasControl: NUL, tab, CR, LF and the rest have no place in a path, and
// some servers trim them (Express: /admin%09 is /admin).
func hasControl(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	return false
}

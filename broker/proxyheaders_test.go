package broker

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestProxyIdentityHeadersStrippedPerHost: the /admin/ app's header, sent by
// the client on the / app of the same host, never reaches a backend.
func TestProxyIdentityHeadersStrippedPerHost(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, vs := range r.Header {
			fmt.Fprintf(w, "%s: %s\n", k, strings.Join(vs, ","))
		}
	}))
	t.Cleanup(be.Close)
	cfg := strings.Replace(testConfig, "apps:\n", fmt.Sprintf(`apps:
  - { id: wiki, type: proxy, host: app.example, to: ["%[1]s"], policy: staff, headers: { X-Remote-User: username } }
  - { id: admin, type: proxy, host: app.example, path_prefix: /admin/, to: ["%[1]s"], policy: staff,
      headers: { X-Admin-App: username, X-Admin-Groups: groups } }
`, be.URL), 1)
	e := newEnvWith(t, cfg, nil)
	snap := e.srv.Current()
	rec := &headerRecorder{h: http.Header{}}
	if err := snap.sealer.seal(rec, appSessionCookie, e.srv.newSession(snap, protoIdentity("alice", []string{"staff"})), time.Hour, http.SameSiteLaxMode); err != nil {
		t.Fatal(err)
	}
	ck, _ := http.ParseSetCookie(rec.h.Get("Set-Cookie"))
	get := func(path string) string {
		req, _ := http.NewRequest("GET", e.http.URL+path, nil)
		req.Host = "app.example"
		req.AddCookie(ck)
		req.Header.Set("X-Admin-App", "mallory")
		req.Header["X_Admin_Groups"] = []string{"admins"}
		r := e.do(e.newClient(), req)
		if r.code != 200 {
			t.Fatalf("%s: status %d", path, r.code)
		}
		return r.body
	}
	if body := get("/page"); strings.Contains(body, "mallory") || strings.Contains(body, "admins") || !strings.Contains(body, "X-Remote-User: alice\n") {
		t.Fatalf("the wiki's backend saw:\n%s", body)
	}
	if body := get("/admin/x"); !strings.Contains(body, "X-Admin-App: alice\n") || strings.Contains(body, "mallory") || strings.Contains(body, "admins") {
		t.Fatalf("the admin backend saw:\n%s", body)
	}
}

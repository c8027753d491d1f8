package broker

import (
	"net/http"

	"github.com/fedgate/fedgate/config"
)

// home is fedgate's own page: who you are, or sign in.
func (b *Server) home(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	s := b.loadSession(r, snap)
	if s == nil {
		b.startLogin(w, r, snap)
		return
	}
	if slide(s, b.now(), snap.Config.Session.Idle) {
		b.writeCookieSession(w, snap, s, sessionCookie)
	}
	b.showIdentity(w, r, snap, nil, s)
}

// whoamiApp is the built-in "whoami" app type: a protected page that shows
// the identity as the app's policy sees it. Its policy is checked on every
// request, since network and time rules change while a session lives.
func (b *Server) whoamiApp(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	app := snap.apps[r.PathValue("app")]
	if app == nil || app.Type != "whoami" {
		b.fail(w, r, snap, http.StatusNotFound, "err.notfound", nil)
		return
	}
	u := use{App: app, Cookie: sessionCookie}
	v := b.enforce(r, snap, u)
	if !b.answer(w, r, snap, u, v) {
		return
	}
	b.showIdentity(w, r, snap, app, v.Session)
}

func (b *Server) showIdentity(w http.ResponseWriter, r *http.Request, snap *Snapshot, app *config.App, s *Session) {
	lang := pickLanguage(w, r, snap.sealer.secure)
	d := pageData{Title: translate(lang, "who.title"), Session: s, CSRF: snap.sealer.csrfToken("session:" + s.ID)}
	d.UpstreamName = s.Identity.Upstream
	if e, ok := snap.byID[s.Identity.Upstream]; ok {
		d.UpstreamName = e.name
	}
	for _, m := range s.identity().AMR {
		d.Methods = append(d.Methods, translate(lang, "amr."+m))
	}
	if app != nil {
		d.AppName = app.Name
		if d.AppName == "" {
			d.AppName = app.ID
		}
	}
	b.render(w, r, snap, http.StatusOK, "whoami", d)
}

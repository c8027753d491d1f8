package broker

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"

	"github.com/fedgate/fedgate/config"
)

//go:embed web/templates/*.html
var templateFS embed.FS

//go:embed web/static/style.css
var styleCSS []byte

//go:embed web/static/webauthn.js
var webauthnJS []byte

// pageNames are the pages; each is parsed together with the layout.
var pageNames = []string{"signin", "chooser", "error", "signedout", "logout", "whoami", "negotiate",
	"mfachooser", "mfacodes", "mfacode", "totpenrol", "webauthn"}

// pages holds the parsed templates.
type pages map[string]*template.Template

func parsePages() (pages, error) {
	p := pages{}
	for _, n := range pageNames {
		t, err := template.ParseFS(templateFS, "web/templates/layout.html", "web/templates/codeform.html", "web/templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("broker: page %s: %w", n, err)
		}
		p[n] = t
	}
	return p, nil
}

// pageData is everything a template may show. The layout fields are filled
// by render; handlers set the page's own.
type pageData struct {
	// Layout.
	Lang    string
	Asset   string // origin of fedgate's static files ("" on its own host)
	T       func(key string, args ...any) string
	Title   string
	Brand   config.Branding
	Help    string
	HasLogo bool
	Refresh string // a local URL the page goes on to by itself
	Switch  []langLink

	// Forms.
	Action, CSRF, Username, Upstream, Error string
	AppName                                 string
	Choices                                 []choice

	// Error page.
	Heading, Message, CorrelationID, Retry string

	// Factor pages: a TOTP enrolment's QR code, key (grouped for reading)
	// and the key sealed for the form; recovery codes shown once.
	QR     template.URL
	Secret string
	Sealed string
	Codes  []string
	// A code form's label and button; Numeric: a 6-digit code.
	Label, Submit string
	Numeric       bool

	// Who-am-I page.
	Session      *Session
	UpstreamName string
	Methods      []string

	// Security keys page (webauthn.go): register or verify, the
	// ceremony's options (JSON, for the script), the user's key names.
	Mode, Options string
	Keys          []string
}

type langLink struct {
	Lang, Label, Href string
	Current           bool
}

type choice struct {
	Name, Href string
	Ready      bool
}

// render writes page name with status. Templates are executed into a buffer
// first, so a template error never leaves half a page on the wire.
func (b *Server) render(w http.ResponseWriter, r *http.Request, snap *Snapshot, status int, name string, d pageData) {
	lang := pickLanguage(w, r, snap.sealer.secure)
	d.Lang = lang
	d.T = func(key string, args ...any) string { return translate(lang, key, args...) }
	d.Brand = snap.Config.Branding
	d.HasLogo = len(snap.logo) > 0
	d.Help = snap.Config.Branding.HelpText.En
	if lang == "ja" && snap.Config.Branding.HelpText.Ja != "" {
		d.Help = snap.Config.Branding.HelpText.Ja
	}
	if d.Title == "" {
		d.Title = d.Heading
	}
	for _, l := range languages {
		d.Switch = append(d.Switch, langLink{Lang: l, Label: translate(l, "lang.name"), Href: withLang(r.URL, l), Current: l == lang})
	}
	if snap.proxy != nil && snap.proxy.HasHost(r.Host) {
		d.Asset = publicBase(snap)
		setPageHeaders(w.Header(), snap, d.Asset)
	}
	var buf bytes.Buffer
	if err := b.pages[name].ExecuteTemplate(&buf, "layout", d); err != nil {
		b.Logger.ErrorContext(r.Context(), "template failed", "page", name, "err", err, "request_id", requestID(r.Context()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// withLang is the current page's URL with lang set: the language switch.
// It is a query-only reference, which the browser resolves against the page
// it is on: a path from the request (decoded, /%2fevil.example/x is
// //evil.example/x) would make the link leave the site.
func withLang(u *url.URL, lang string) string {
	q := u.Query()
	q.Set("lang", lang)
	return "?" + q.Encode()
}

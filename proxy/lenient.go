package proxy

import (
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lenientPath is a canonical path as the most forgiving backend could read
// it, combining what real servers do:
//   - decode again (IIS with double escaping allowed, apps that unescape
//     what the server already decoded): /admin%252e is /admin.
//   - map full-width and look-alike characters to ASCII (Windows "best fit"
//     conversions, NFKC): ／ａｄｍｉｎ is /admin.
//   - stop at "?" or "#" (Node's url.parse reads /admin#/x as /admin).
//   - in each segment, drop NTFS stream suffixes and path parameters
//     (admin::$INDEX_ALLOCATION is the directory admin to IIS), surrounding
//     white space (Flask, Express trim U+0085, U+00A0, tabs), and
//     everything from the first dot (Windows drops trailing dots and
//     spaces; Spring's suffix match serves /admin.json as /admin).
//   - resolve what that leaves of dot segments and empty segments.
//
// It is only compared: routeTable.route refuses a path whose lenient
// reading falls under another route than the path itself.
func lenientPath(p string) string {
	if plain(p) {
		return p // nothing to read another way (the common case: no allocation)
	}
	for range 3 {
		q, err := url.PathUnescape(p)
		if err != nil || q == p {
			break
		}
		p = q
	}
	p = bestFit(p)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = lenientSegment(s)
	}
	out := path.Clean("/" + strings.Join(segs, "/"))
	if strings.HasSuffix(p, "/") && out != "/" {
		out += "/"
	}
	return out
}

func lenientSegment(s string) string {
	if i := strings.IndexAny(s, ":;"); i >= 0 {
		s = s[:i]
	}
	s = trimLenient(s)
	if i := strings.IndexByte(s, '.'); i > 0 && strings.Trim(s, ".") != "" {
		s = trimLenient(s[:i])
	}
	return s
}

// trimLenient trims white space and control characters at both ends,
// including U+0085 and U+00A0 as single Latin-1 bytes (WSGI decodes paths
// as Latin-1 before Python's strip).
func trimLenient(s string) string {
	space := func(r rune, n int, b byte) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || n == 1 && (b == 0x85 || b == 0xa0)
	}
	for s != "" {
		if r, n := utf8.DecodeRuneInString(s); space(r, n, s[0]) {
			s = s[n:]
		} else if r, n := utf8.DecodeLastRuneInString(s); space(r, n, s[len(s)-1]) {
			s = s[:len(s)-n]
		} else {
			break
		}
	}
	return s
}

// bestFit maps full-width ASCII (U+FF01–U+FF5E) and the slash and dot
// look-alikes Windows code pages fold to ASCII; "\" is a separator there.
// Bytes that are not UTF-8 are kept.
func bestFit(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x80 || r == '\\' }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteByte(s[i])
		case r == '\u2215' || r == '\u2044' || r == '\\' || r == '\uff3c':
			b.WriteByte('/')
		case r >= 0xff01 && r <= 0xff5e:
			b.WriteByte(byte(r - 0xfee0))
		case r == '\u2024' || r == '\ufe52':
			b.WriteByte('.')
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// plain: only letters, digits, "/", "-" and "_".
func plain(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '/' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

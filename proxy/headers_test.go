package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestKeptCookies: fedgate's cookie leaves the header wherever it stands,
// however often, and its neighbours keep their separators.
func TestKeptCookies(t *testing.T) {
	own := func(n string) bool { return strings.TrimPrefix(n, "__Host-") == "fedgate_app" }
	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"none", nil, ""},
		{"alone", []string{"fedgate_app=X"}, ""},
		{"first", []string{"fedgate_app=X; theme=dark; sid=abc"}, "theme=dark; sid=abc"},
		{"middle", []string{"theme=dark; fedgate_app=X; sid=abc"}, "theme=dark; sid=abc"},
		{"last", []string{"theme=dark; sid=abc; fedgate_app=X"}, "theme=dark; sid=abc"},
		{"duplicated", []string{"fedgate_app=X; theme=dark; fedgate_app=Y; sid=abc; __Host-fedgate_app=Z"}, "theme=dark; sid=abc"},
		{"host prefix", []string{"theme=dark;__Host-fedgate_app=X;sid=abc"}, "theme=dark; sid=abc"},
		{"look-alike names pass", []string{"xfedgate_app=1; fedgate_app_x=2"}, "xfedgate_app=1; fedgate_app_x=2"},
		{"several lines (HTTP/2)", []string{"theme=dark", "fedgate_app=X", "sid=abc"}, "theme=dark; sid=abc"},
		{"untouched", []string{"theme=dark;sid=abc"}, "theme=dark;sid=abc"},
		{"empty pieces dropped", []string{";theme=dark;; fedgate_app=X; ;sid=abc;"}, "theme=dark; sid=abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": slices.Clone(tc.lines)}
			if got := KeptCookies(h, own); got != tc.want {
				t.Errorf("KeptCookies(%q) = %q, want %q", tc.lines, got, tc.want)
			}
			// The request's own header is left as it was: forward-auth
			// reads it, and only a proxied request's clone is rewritten.
			if !slices.Equal(h["Cookie"], tc.lines) {
				t.Errorf("KeptCookies changed the header: %q, was %q", h["Cookie"], tc.lines)
			}
		})
	}
}

package certs

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestZapToSlog: certmagic's zap calls arrive in fedgate's slog handler with
// the level mapped, the handler's level honoured, and fields (With and per
// call, errors and durations included) as attributes.
func TestZapToSlog(t *testing.T) {
	var buf bytes.Buffer
	z := zapLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	z.Named("obtain").With(zap.String("identifier", "sso.example.co.jp")).
		Error("could not get certificate", zap.Error(errors.New("rate limited")), zap.Duration("retry_in", time.Minute))
	z.Debug("dropped below the handler's level")
	z.Warn("stale OCSP", zap.Strings("names", []string{"a", "b"}))
	out := buf.String()
	for _, want := range []string{
		`level=ERROR msg="could not get certificate" identifier=sso.example.co.jp error="rate limited" retry_in=1m0s component=obtain`,
		`level=WARN msg="stale OCSP" names="[a b]"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("a debug line passed an info handler:\n%s", out)
	}
}

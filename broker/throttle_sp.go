package broker

import (
	"net/http"
	"time"
)

// Attempt throttles a downstream protocol's credential checks (OpenID client
// secrets at the token endpoint) like passwords: per key (the protocol names
// the client) with throttle.max_failures, and per client IP with
// throttle.max_failures_per_ip, counted together with password failures from
// that address.
func (sp sessionProvider) Attempt(r *http.Request, key string) (func(error), time.Duration, error) {
	snap := snapOf(r)
	t := snap.Config.Throttle
	return sp.b.attempt(r.Context(), t.Window,
		limit{"sp:" + key, int64(t.MaxFailures)}, limit{ipKey(snap.clientAddr(r, "")), int64(t.MaxFailuresPerIP)})
}

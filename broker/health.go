package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// healthz: the process is up and serving.
func (b *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz: the config in force (its digest, the same on every replica of a
// fleet once a change has rolled out), whether the store answers and which
// upstreams can take sign-ins (their discovery done). Ready when the store
// and at least one upstream are; config and keys are, or the process would
// not serve. A load balancer sends traffic only to a ready replica.
func (b *Server) readyz(w http.ResponseWriter, r *http.Request) {
	snap := snapOf(r)
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := struct {
		Ready     bool              `json:"ready"`
		Config    string            `json:"config"`
		Store     string            `json:"store"`
		Upstreams map[string]string `json:"upstreams"`
	}{Config: snap.Config.Digest, Store: "ok", Upstreams: map[string]string{}}
	storeOK := b.Store.Ping(ctx) == nil
	if !storeOK {
		out.Store = "unavailable"
	}
	anyUp := false
	for _, u := range snap.upstreams {
		if err := u.Ready(ctx); err != nil {
			out.Upstreams[u.ID()] = "unavailable"
			continue
		}
		out.Upstreams[u.ID()] = "ok"
		anyUp = true
	}
	out.Ready = storeOK && anyUp
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

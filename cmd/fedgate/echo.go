package main

import (
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/fedgate/fedgate/config"
	"github.com/fedgate/fedgate/proxy"
)

// builtinEcho is the address of the diagnostic echo backend that apps with
// `to: builtin:echo` are proxied to. It is a real HTTP server on a loopback
// port, started on first use, so those requests take the same path through
// the proxy as any backend's.
var builtinEcho struct {
	once sync.Once
	url  string
	err  error
}

func echoURL() (string, error) {
	builtinEcho.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			builtinEcho.err = err
			return
		}
		srv := &http.Server{Handler: proxy.EchoHandler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { _ = srv.Serve(ln) }()
		builtinEcho.url = "http://" + ln.Addr().String()
	})
	return builtinEcho.url, builtinEcho.err
}

// resolveBuiltins replaces builtin:echo targets; check (start false) uses a
// placeholder and starts nothing.
func resolveBuiltins(cfg *config.Config, start bool) error {
	for i := range cfg.Apps {
		for j, t := range cfg.Apps[i].To {
			if t != "builtin:echo" {
				continue
			}
			u := "http://127.0.0.1:9"
			if start {
				var err error
				if u, err = echoURL(); err != nil {
					return err
				}
			}
			cfg.Apps[i].To[j] = u
		}
	}
	return nil
}

// Command bareproxy is the benchmark's baseline: httputil.ReverseProxy tuned
// as well as it can be (idle pool sized for the load, a BufferPool), with no
// authentication at all.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

type pool struct{ p sync.Pool }

func (b *pool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *pool) Put(x []byte) { b.p.Put(&x) }

func main() {
	addr := flag.String("listen", "127.0.0.1:18082", "address")
	to := flag.String("to", "http://127.0.0.1:18081", "backend")
	timeouts := flag.Bool("timeouts", false, "serve with fedgate's server timeouts and header limit")
	flag.Parse()
	target, err := url.Parse(*to)
	if err != nil {
		log.Fatal(err)
	}
	bp := &pool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport: &http.Transport{
			MaxIdleConns: 2048, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second,
		},
		BufferPool: bp,
	}
	srv := &http.Server{Addr: *addr, Handler: rp}
	if *timeouts {
		// What fedgate's server sets against slow clients (a request with a
		// body gets a read deadline of its own; a GET none).
		srv.ReadHeaderTimeout, srv.IdleTimeout = 10*time.Second, 120*time.Second
		srv.MaxHeaderBytes = 64 << 10
	}
	log.Fatal(srv.ListenAndServe())
}

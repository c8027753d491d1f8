// Command backend is the benchmark's app: a small fixed answer, so that the
// proxies in front of it are what is measured.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18081", "address")
	flag.Parse()
	body := []byte("hello from the backend\n")
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})))
}

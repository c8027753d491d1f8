package storetest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// FreePort is a loopback TCP port that is free now, for a server a test
// starts next. It is drawn below Linux's ephemeral range (32768-60999): a
// port the kernel hands out for listen(0) may be taken by any outgoing
// connection before the server binds it, one drawn here cannot.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free loopback port in 20000-31999")
	return 0
}

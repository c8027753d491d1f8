package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fedgate/fedgate/broker/store/storetest"
)

// TestKerberosReplayAcrossReplicas: two replicas on one redis-server, a
// real MIT KDC's ticket. The SPNEGO token that signed alice in at A is
// declined at B as a replay (the password form instead, audited there);
// a fresh token is accepted at B, so B is not merely refusing everything.
func TestKerberosReplayAcrossReplicas(t *testing.T) {
	k := startKDC(t)
	rs := storetest.StartRedis(t)
	shared := `{ redis: { addr: "redis://` + rs.Addr + `/0" } }`
	a, _ := startWindowsFedgate(t, k, "5m", "127.0.0.0/8", shared)
	b, dirB := startWindowsFedgate(t, k, "5m", "127.0.0.0/8", shared)
	cc := k.kinit(t, "alice.cc")
	signedIn := `data-header="X-Remote-User">alice@fedgate.test<`

	tok := gssToken(t, k, cc, "HTTP/sso.fedgate.test", 0)
	if code, body := presentToken(t, a, tok); code != http.StatusOK || !strings.Contains(body, signedIn) {
		t.Fatalf("at A: %d, want alice at the app\n%s", code, body)
	}
	if code, body := presentToken(t, b, tok); code != http.StatusOK || !strings.Contains(body, `name="password"`) {
		t.Fatalf("the same token at B: %d, want the password form\n%s", code, body)
	}
	if audit := auditReasons(t, dirB); !strings.Contains(audit, `"reason":"negotiate-replay"`) {
		t.Errorf("B's audit lacks the replay:\n%s", audit)
	}
	if code, body := presentToken(t, b, gssToken(t, k, cc, "HTTP/sso.fedgate.test", 0)); code != http.StatusOK || !strings.Contains(body, signedIn) {
		t.Fatalf("a fresh token at B: %d, want alice at the app\n%s", code, body)
	}
}

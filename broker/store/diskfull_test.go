package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedgate/fedgate/broker/store"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("FEDGATE_TEST_BOLT_FULL"); dir != "" {
		os.Exit(boltDiskFull(dir))
	}
	os.Exit(m.Run())
}

// TestBoltDiskFull: when the disk holding the bolt file fills up, writes
// fail with an error (which the broker turns into a 503 page) rather than a
// crash, what was stored stays readable, and writes work again once there is
// room. The full disk is a file-size limit (RLIMIT_FSIZE) on a child
// process: the same write errors, without needing a small filesystem.
func TestBoltDiskFull(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FEDGATE_TEST_BOLT_FULL="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil || !strings.Contains(string(out), "disk-full: ok") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// boltDiskFull runs in the child: it fills the bolt file up to the limit.
func boltDiskFull(dir string) int {
	fail := func(format string, args ...any) int { fmt.Printf("disk-full: "+format+"\n", args...); return 1 }
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit returns EFBIG instead of killing us
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return fail("getrlimit: %v", err)
	}
	s, err := store.OpenBolt(filepath.Join(dir, "state.db"), nil)
	if err != nil {
		return fail("open: %v", err)
	}
	defer s.Close()
	bg := context.Background()
	if err := s.Put(bg, "mfa:alice", []byte("enrolled"), time.Time{}); err != nil {
		return fail("first put: %v", err)
	}
	full := syscall.Rlimit{Cur: 1 << 20, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &full); err != nil {
		return fail("setrlimit: %v", err)
	}
	value := []byte(strings.Repeat("x", 4096))
	var werr error
	for i := range 10_000 {
		if werr = s.Put(bg, fmt.Sprintf("code:%d", i), value, time.Now().Add(time.Hour)); werr != nil {
			break
		}
	}
	if werr == nil {
		return fail("10,000 writes of 4 KiB under a 1 MiB limit all succeeded")
	}
	if strings.Contains(werr.Error(), "code:") {
		return fail("the error names a key: %v", werr)
	}
	if got, err := s.Get(bg, "mfa:alice"); err != nil || string(got) != "enrolled" {
		return fail("read while full: %q, %v", got, err)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		return fail("restore rlimit: %v", err)
	}
	if err := s.Put(bg, "code:after", value, time.Now().Add(time.Hour)); err != nil {
		return fail("write after space was freed: %v", err)
	}
	if err := s.Ping(bg); errors.Is(err, store.ErrClosed) {
		return fail("store closed itself")
	}
	fmt.Println("disk-full: ok (write error was:", werr, ")")
	return 0
}

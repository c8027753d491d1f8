package broker

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// acked is how many bytes the peer has acknowledged on the connection,
// as Linux's TCP_INFO tells: a blocked write's progress.
func (c *watchedConn) acked() (uint64, bool) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	err = raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) })
	if err != nil || ierr != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}

//go:build !linux

package broker

// acked: elsewhere a blocked write's progress is not known, and a write
// blocked for the whole limit counts as stalled.
func (c *watchedConn) acked() (uint64, bool) { return 0, false }

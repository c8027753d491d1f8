package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startPeer starts a peer server (nginx, caddy, krb5kdc) in a process group
// of its own. At cleanup it is stopped with its graceful signal and waited
// for; a peer that does not stop in 10 s, or leaves a child running (an
// orphaned nginx worker), fails the test and its group is killed, so the
// test run leaves no process behind.
func startPeer(t *testing.T, cmd *exec.Cmd, graceful syscall.Signal) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stopPeer(cmd, graceful, 10*time.Second); err != nil {
			t.Error(err)
		}
	})
}

// stopPeer sends sig, waits up to grace, and reports (then kills) a peer
// that did not stop or left processes of its group running.
func stopPeer(cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) error {
	name, pgid := filepath.Base(cmd.Path), cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var errs []error
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	select {
	case <-done:
	case <-time.After(grace):
		errs = append(errs, fmt.Errorf("%s did not stop within %v of %v; killed", name, grace, sig))
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
	if left := liveInGroup(pgid); len(left) > 0 {
		errs = append(errs, fmt.Errorf("%s left processes running after it stopped: %v; killed", name, left))
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	return errors.Join(errs...)
}

// liveInGroup lists the processes of group pgid that are not zombies
// (a container's init may never reap them; they hold nothing).
func liveInGroup(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) > 2 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestStopPeerFindsOrphans: the check behind every peer's cleanup works — a
// parent that exits on the signal but leaves its child running is reported,
// and the child is killed.
func TestStopPeerFindsOrphans(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the child", func() bool { return len(liveInGroup(cmd.Process.Pid)) == 2 })
	err := stopPeer(cmd, syscall.SIGTERM, 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "left processes running") {
		t.Fatalf("orphan not reported: %v", err)
	}
	waitFor(t, "the orphan to be killed", func() bool { return len(liveInGroup(cmd.Process.Pid)) == 0 })
}

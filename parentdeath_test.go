//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/proccheck"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// When pcopy is killed with SIGKILL it cannot clean up, so its workers must
// notice on their own (parent-death signal, closed pipes), remove the
// temporary file of the job in hand, and exit.
func TestWorkersDieWithPcopy(t *testing.T) {
	src := bigTree(t, 2)
	dst := filepath.Join(t.TempDir(), "dst")
	exe, err := os.Executable()
	must(t, err)
	cmd := &exec.Cmd{Path: exe, Args: []string{"pcopy", "-q", "-j", "2", src, dst}}
	exited := startMidFile(t, cmd, dst)
	workers := proccheck.Children(cmd.Process.Pid)
	if len(workers) != 2 {
		t.Fatalf("pcopy -j 2 has %d child processes, want 2", len(workers))
	}
	must(t, cmd.Process.Kill())
	<-exited

	for _, pid := range workers {
		waitGone(t, pid)
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left after the workers exited: %v", left)
	}
}

// waitGone waits for pid to exit (a zombie counts: it runs no more). The
// limit is generous: it tells a stuck worker from a slow machine, it does
// not measure speed.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return
		}
	}
	t.Errorf("worker %d still runs after pcopy ended", pid)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

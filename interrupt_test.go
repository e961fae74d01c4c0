//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/proccheck"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// Interrupted in the middle of a file, pcopy stops its workers, removes
// their temporary files, says how far it got and exits 130 (SIGINT) or
// 143 (SIGTERM); no worker outlives it and no file sits half-written at
// its name. Ctrl-C at a terminal reaches the whole foreground process
// group, workers included; kill -INT reaches pcopy alone: both hold.
func TestInterrupt(t *testing.T) {
	src := bigTree(t, 3)
	exe, err := os.Executable()
	must(t, err)
	for _, c := range []struct {
		name  string
		sig   syscall.Signal
		group bool
		code  int
	}{
		{"kill -INT pcopy", syscall.SIGINT, false, 130},
		{"kill -TERM pcopy", syscall.SIGTERM, false, 143},
		{"Ctrl-C to the process group", syscall.SIGINT, true, 130},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "dst")
			var stderr bytes.Buffer
			cmd := &exec.Cmd{Path: exe, Args: []string{"pcopy", "-j", "2", src, dst}, Stderr: &stderr,
				SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
			exited := startMidFile(t, cmd, dst)
			workers := proccheck.Children(cmd.Process.Pid)
			pid := cmd.Process.Pid
			if c.group {
				pid = -pid // the process group pcopy leads, as a terminal's Ctrl-C does
			}
			must(t, syscall.Kill(pid, c.sig))
			err := <-exited
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != c.code {
				t.Errorf("exit: %v, want code %d; stderr:\n%s", err, c.code, &stderr)
			}
			if msg := stderr.String(); !strings.Contains(msg, "pcopy: error: interrupted") || !strings.Contains(msg, "after copying") {
				t.Errorf("stderr does not say it was interrupted and how far it got:\n%s", msg)
			}
			for _, w := range workers {
				waitGone(t, w)
			}
			if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			names, _ := filepath.Glob(filepath.Join(dst, "big*"))
			for _, p := range names {
				if fi, err := os.Stat(p); err != nil || fi.Size() != 300<<20 {
					t.Errorf("%s sits at its name incomplete (%v)", p, err)
				}
			}
		})
	}
}

// bigTree makes a source of n files of 300 MiB: big enough that a copy
// can be caught in the middle of one.
func bigTree(t *testing.T, n int) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	big := bytes.Repeat([]byte{7}, 1<<20)
	for i := range n {
		f, err := os.Create(filepath.Join(src, fmt.Sprintf("big%d", i+1)))
		must(t, err)
		for range 300 {
			_, err := f.Write(big)
			must(t, err)
		}
		must(t, f.Close())
	}
	return src
}

// startMidFile starts cmd, a pcopy into dst, and returns once one of its
// workers is writing a file there; the channel gets cmd's Wait result.
func startMidFile(t *testing.T, cmd *exec.Cmd, dst string) <-chan error {
	t.Helper()
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for len(proccheck.Writing(cmd.Process.Pid, dst)) == 0 {
		select {
		case err := <-exited:
			exited <- err
			t.Skip("the copy finished before it could be interrupted")
		case <-time.After(time.Millisecond):
		}
	}
	return exited
}

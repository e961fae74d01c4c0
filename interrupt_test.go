//go:build linux

package main

import (
	"bytes"
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

	"golang.org/x/sys/unix"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/proccheck"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// Interrupted in the middle of a file, pcopy stops its workers, removes
// their temporary files, says how far it got and exits 130 (SIGINT), 143
// (SIGTERM) or 129 (SIGHUP); no worker outlives it and no file sits
// half-written at its name. Ctrl-C at a terminal reaches the whole
// foreground process group, workers included; kill -INT reaches pcopy
// alone: both hold. So does SIGHUP, to pcopy alone or to the whole group,
// as a terminal that closes sends it.
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
		{"kill -HUP pcopy", syscall.SIGHUP, false, 129},
		{"terminal closed: SIGHUP to the process group", syscall.SIGHUP, true, 129},
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
			if name := unix.SignalName(c.sig); !strings.Contains(stderr.String(), "interrupted by "+name) {
				t.Errorf("stderr does not name %s:\n%s", name, &stderr)
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

// A second Ctrl-C ends pcopy at once, without waiting for its workers to
// clean up, but it kills them first: none outlives pcopy, even one that
// ignores SIGTERM (as one stuck in the kernel would).
func TestSecondInterruptEndsAtOnce(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "f"), []byte("data"), 0o644))
	dst := filepath.Join(t.TempDir(), "dst")
	marks := t.TempDir()
	exe, err := os.Executable()
	must(t, err)
	// A file, not a buffer: cmd.Wait would wait for every process holding
	// a pipe open, surviving workers included.
	stderr, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	must(t, err)
	defer stderr.Close()
	cmd := &exec.Cmd{Path: exe, Args: []string{"pcopy", "-j", "2", src, dst}, Stderr: stderr,
		Env:         append(os.Environ(), stuckWorkerEnv+"="+marks),
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true}}
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	workers := waitMarks(t, marks, "started-", 2, exited)
	t.Cleanup(func() {
		for _, pid := range workers {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	group := -cmd.Process.Pid // Ctrl-C at a terminal reaches the whole group
	must(t, syscall.Kill(group, syscall.SIGINT))
	waitMarks(t, marks, "sigterm-", 2, exited) // pcopy asked its workers to stop; they will not
	must(t, syscall.Kill(group, syscall.SIGINT))
	err = <-exited

	out, _ := os.ReadFile(stderr.Name())
	msg := string(out)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 {
		t.Errorf("exit: %v, want code 130; stderr:\n%s", err, msg)
	}
	if !strings.Contains(msg, "pcopy: error: interrupted again by SIGINT: stopped at once") {
		t.Errorf("stderr does not say the second Ctrl-C stopped pcopy at once:\n%s", msg)
	}
	if strings.Contains(msg, "after copying") {
		t.Errorf("pcopy waited for its workers to stop after the second Ctrl-C:\n%s", msg)
	}
	for _, pid := range workers {
		waitGone(t, pid)
	}
}

// waitMarks waits for n files named prefix+PID in dir and returns the PIDs.
func waitMarks(t *testing.T, dir, prefix string, n int, exited <-chan error) []int {
	t.Helper()
	for {
		names, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
		if len(names) >= n {
			var pids []int
			for _, name := range names {
				pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(name), prefix))
				must(t, err)
				pids = append(pids, pid)
			}
			return pids
		}
		select {
		case err := <-exited:
			t.Fatalf("pcopy exited (%v) before %d workers left a %q mark", err, n, prefix)
		case <-time.After(time.Millisecond):
		}
	}
}

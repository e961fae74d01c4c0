//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pcopy/pcopy/copier"
	"github.com/pcopy/pcopy/internal/treecheck"
)

// standInHosts makes a pcopy command and a launcher, standin.sh HOST
// COMMAND..., that runs COMMAND on this machine as ssh would on HOST,
// after writing its pid (the agent's, as it execs) to DIR/HOST.pid;
// while DIR/HOST.down exists it fails as ssh does with a host that is
// down.
func standInHosts(t *testing.T) (pcopy, launcher, dir string) {
	t.Helper()
	dir = t.TempDir()
	pcopy = pcopyIn(t, dir)
	launcher = filepath.Join(dir, "standin.sh")
	must(t, os.WriteFile(launcher, []byte("#!/bin/sh\n"+
		"[ -e "+dir+"/$1.down ] && { echo \"ssh: connect to host $1 port 22: No route to host\" >&2; exit 255; }\n"+
		"echo $$ > "+dir+"/$1.pid\nshift\nexec \"$@\"\n"), 0o755))
	return pcopy, launcher, dir
}

// pcopyIn makes the pcopy command in dir: the test binary, which is pcopy
// by that name (TestMain).
func pcopyIn(t *testing.T, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	pcopy := filepath.Join(dir, "pcopy")
	must(t, os.Symlink(exe, pcopy))
	return pcopy
}

// manyFiles makes a tree of n small files in 10 directories.
func manyFiles(t *testing.T, root string, n int) {
	t.Helper()
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%04d", i))
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 4096+i), 0o644))
	}
}

// agentPid waits until the stand-in for host has started its agent.
func agentPid(t *testing.T, dir, host string) int {
	t.Helper()
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, host+".pid"))
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
	}
	t.Fatalf("the agent of %s never started", host)
	return 0
}

// countFiles counts the regular files below root.
func countFiles(root string) int {
	n := 0
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n++
		}
		return nil
	})
	return n
}

// A host that dies mid-copy (its agent and workers SIGKILLed: a crashed
// node) or hangs (SIGSTOPped past --host-timeout: a node cut off), and
// cannot be reached again, has its jobs done by the others: the copy
// completes, the same as its source, with no temporary file left and no
// process of the lost host left.
func TestHostLostMidCopy(t *testing.T) {
	for _, how := range []string{"killed", "stopped"} {
		t.Run(how, func(t *testing.T) {
			pcopy, launcher, dir := standInHosts(t)
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			manyFiles(t, src, 400)
			cmd := exec.Command(pcopy, "--hosts", "doomed:2,steady:1", "--local-workers", "1", "--host-timeout", "2s",
				"--rsh", launcher+" {name} {argv}", "--remote-pcopy", pcopy, src, dst)
			// Workers wait before each file: the copy lasts long enough
			// to lose a host in the middle of it.
			cmd.Env = append(os.Environ(), paceEnv+"=10ms", paceFilesEnv+"=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			must(t, cmd.Start())
			pid := agentPid(t, dir, "doomed")
			for start := time.Now(); countFiles(dst) < 40; time.Sleep(5 * time.Millisecond) {
				if time.Since(start) > 30*time.Second {
					t.Fatalf("the copy did not start: %s", stderr.String())
				}
			}
			sig := syscall.SIGKILL
			if how == "stopped" {
				sig = syscall.SIGSTOP
			}
			must(t, os.WriteFile(filepath.Join(dir, "doomed.down"), nil, 0o644))
			must(t, syscall.Kill(-pid, sig)) // the agent's process group: it and its workers
			t.Cleanup(func() { syscall.Kill(-pid, syscall.SIGKILL) })
			err := cmd.Wait()
			if err != nil {
				t.Fatalf("pcopy: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "on doomed) died (host doomed:") {
				t.Errorf("no warning names the lost host's workers:\n%s", stderr.String())
			}
			if !regexp.MustCompile(`(?m)^pcopy:   doomed: 2 workers, \d+ done, \d+ failed, .*; (lost|dropped) \(.*\), its jobs went to the others$`).MatchString(stderr.String()) {
				t.Errorf("the summary does not say doomed was lost:\n%s", stderr.String())
			}
			sameTree(t, src, dst)
			// Killed, they are gone once reaped (by init: their parent,
			// the agent, is dead).
			err = syscall.Kill(-pid, 0)
			for start := time.Now(); err != syscall.ESRCH && time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
				err = syscall.Kill(-pid, 0)
			}
			if err != syscall.ESRCH {
				out, _ := exec.Command("ps", "-o", "pid,stat,args", "-g", strconv.Itoa(pid)).CombinedOutput()
				t.Errorf("the lost host's processes are still there:\n%s", out)
			}
		})
	}
}

// A host lost mid-copy is reached again, with the same launcher and the
// same proof that it sees SRC and DST: one that comes back gets workers
// and jobs again; one that fails maxHostFailures times in all (lost,
// then unreachable) is dropped with a warning, and the copy completes
// without it.
func TestHostReachedAgainOrDropped(t *testing.T) {
	for _, how := range []string{"back", "down"} {
		t.Run(how, func(t *testing.T) {
			pcopy, launcher, dir := standInHosts(t)
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			manyFiles(t, src, 1000)
			cmd := exec.Command(pcopy, "--json", "--hosts", "phoenix:1", "--local-workers", "1", "--host-timeout", "2s",
				"--rsh", launcher+" {name} {argv}", "--remote-pcopy", pcopy, src, dst)
			// Long enough (1000 files, 5 ms each, on two workers) for the
			// host to be reached again after the pause (1 s) and do more
			// than it had done (a worker holds two batches of up to 128
			// files), or to be given up (after 1 + 2 s).
			cmd.Env = append(os.Environ(), paceEnv+"=5ms", paceFilesEnv+"=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			must(t, cmd.Start())
			pid := agentPid(t, dir, "phoenix")
			for start := time.Now(); countFiles(dst) < 20; time.Sleep(5 * time.Millisecond) {
				if time.Since(start) > 30*time.Second {
					t.Fatalf("the copy did not start: %s", stderr.String())
				}
			}
			if how == "down" {
				must(t, os.WriteFile(filepath.Join(dir, "phoenix.down"), nil, 0o644))
			}
			must(t, syscall.Kill(-pid, syscall.SIGKILL))
			before := countFiles(dst) // no more than the host had done
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pcopy: %v\n%s", err, stderr.String())
			}
			var report struct {
				Hosts []struct {
					Name   string `json:"name"`
					Done   int    `json:"done"`
					State  string `json:"state"`
					Reason string `json:"reason"`
					Lost   int    `json:"times_lost"`
				} `json:"hosts"`
			}
			must(t, json.Unmarshal(stdout.Bytes(), &report))
			h := report.Hosts[1]
			switch how {
			case "back":
				if h.State != "ok" || h.Lost != 1 || h.Done <= before {
					t.Errorf("the host did not come back and copy more than the %d files there were when it was lost: %+v\n%s",
						before, h, stderr.String())
				}
				if !strings.Contains(stderr.String(), "host phoenix is back (lost once); its workers start again") {
					t.Errorf("no warning says the host came back:\n%s", stderr.String())
				}
				if again := agentPid(t, dir, "phoenix"); again == pid {
					t.Errorf("no second agent was started")
				}
			case "down":
				if h.State != "dropped" || h.Lost != 3 || !strings.Contains(h.Reason, "No route to host") {
					t.Errorf("the host was not dropped after 3 failures: %+v\n%s", h, stderr.String())
				}
				if !strings.Contains(stderr.String(), "host phoenix dropped, its jobs go to the others") {
					t.Errorf("no warning says the host was dropped:\n%s", stderr.String())
				}
			}
			sameTree(t, src, dst)
		})
	}
}

// An agent whose coordinator goes silent (stopped, or cut off without the
// connection closing) for its timeout stops: it exits, saying why, and
// starts nothing more.
func TestAgentStopsWhenCoordinatorIsSilent(t *testing.T) {
	pcopy, _, _ := standInHosts(t)
	cmd := exec.Command(pcopy, "--serve-agent", "--host-timeout", "500ms")
	stdin, err := cmd.StdinPipe() // held open, and never written
	must(t, err)
	defer stdin.Close()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the agent did not stop")
	}
	if code := exitCode(err); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stderr.String(), "pcopy: agent: no word from the coordinator for 500ms: stopping") {
		t.Errorf("stderr: %q", stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "\x00\x1bpcopy-agent\x00") {
		t.Errorf("the agent's output does not start with its greeting: %q", stdout.String())
	}
}

// sameTree checks that dst is a copy of src in everything pcopy keeps,
// with no temporary file left.
func sameTree(t *testing.T, src, dst string) {
	t.Helper()
	diffs, err := treecheck.Compare(src, dst, treecheck.Options{})
	must(t, err)
	if len(diffs) > 0 {
		t.Errorf("the copy differs from its source: %v", diffs)
	}
	if left := treecheck.TempFiles(dst, copier.TempPrefix); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

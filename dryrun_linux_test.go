//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// A dry run decides as the run does, as the same code decides for both:
// on a tree with every kind of entry, as root and as nobody, for a first
// copy, a re-run after changes, and a --delete, the actions the dry run's
// --log lists are those the run's --log then records, entry by entry, with
// the same reasons for what fails.
func TestDryRunPredictsTheRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the tree has a device node, and pcopy runs as nobody too")
	}
	for _, user := range []string{"root", "nobody"} {
		t.Run(user, func(t *testing.T) {
			dir, pcopy := pcopyForNobody(t)

			src := filepath.Join(dir, "src")
			everyKind(t, src)
			dst := filepath.Join(dir, "dst")
			must(t, os.MkdirAll(filepath.Join(dst, "blocked"), 0o755)) // a directory where SRC has a file
			must(t, os.WriteFile(filepath.Join(dst, "blocked", "inner"), []byte("keep"), 0o644))
			must(t, os.WriteFile(filepath.Join(dst, "sub2"), []byte("a file where SRC has a directory"), 0o644))
			mirror := filepath.Join(dir, "mirror")
			must(t, os.MkdirAll(filepath.Join(mirror, "old", "deeper"), 0o755))
			must(t, os.WriteFile(filepath.Join(mirror, "old", "deeper", "f"), []byte("extra"), 0o644))
			must(t, os.WriteFile(filepath.Join(mirror, "stale"), []byte("extra"), 0o644))
			must(t, os.WriteFile(filepath.Join(mirror, "c"), []byte("older c"), 0o644))
			if user == "nobody" {
				for _, d := range []string{dst, mirror} {
					must(t, filepath.Walk(d, func(p string, _ os.FileInfo, err error) error {
						must(t, err)
						return os.Lchown(p, 65534, 65534)
					}))
				}
			}

			for i, step := range []struct {
				before func()
				args   []string
			}{
				{nil, []string{src, dst}},
				{func() { must(t, os.WriteFile(filepath.Join(src, "a"), []byte("a, changed"), 0o644)) }, []string{src, dst}},
				{nil, []string{src, dst}}, // nothing changed
				{nil, []string{"--delete", filepath.Join(src, "sub"), mirror}},
			} {
				if step.before != nil {
					step.before()
				}
				logs := filepath.Join(dir, fmt.Sprint("log", i))
				dry := runLogged(t, user, pcopy, logs+".dry", append([]string{"-n"}, step.args...))
				real := runLogged(t, user, pcopy, logs+".real", step.args)
				if len(real) == 0 {
					t.Fatalf("step %d: the run logged no action", i)
				}
				if !slices.Equal(dry, real) {
					t.Errorf("step %d (%s): the dry run said\n\t%s\nthe run did\n\t%s", i, strings.Join(step.args, " "),
						strings.Join(dry, "\n\t"), strings.Join(real, "\n\t"))
				}
			}
		})
	}
}

// everyKind makes at src a tree with an entry of every kind pcopy meets.
func everyKind(t *testing.T, src string) {
	t.Helper()
	file := func(rel, data string, mode os.FileMode) {
		p := filepath.Join(src, rel)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), mode))
		must(t, os.Chmod(p, mode))
	}
	file("a", "a", 0o644)
	file("empty", "", 0o644)
	file("sub/c", "c", 0o600)
	file("sub/deep/d", "d", 0o644)
	file("blocked", "a file where DST has a directory", 0o644)
	file("sub2/e", "e", 0o644)
	file("secret", "only root reads this", 0o000)
	file("locked/f", "in a directory only root lists", 0o644)
	must(t, os.Chmod(filepath.Join(src, "locked"), 0o000))
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub", "a-link")))
	must(t, os.Symlink("a", filepath.Join(src, "link")))
	must(t, os.Symlink("nowhere", filepath.Join(src, "dangling")))
	must(t, unix.Mkfifo(filepath.Join(src, "fifo"), 0o644))
	must(t, unix.Mknod(filepath.Join(src, "socket"), unix.S_IFSOCK|0o644, 0))
	must(t, unix.Mknod(filepath.Join(src, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
}

// runLogged runs pcopy as user with --log and returns the actions it
// logged, "would be " taken off, sorted (workers finish in any order).
func runLogged(t *testing.T, user, pcopy, log string, args []string) []string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(pcopy, append([]string{"--log", log, "-q"}, args...)...)
	cmd.Stderr = &stderr
	if user == "nobody" {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		must(t, os.WriteFile(log, nil, 0o666))
	}
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("pcopy %v: %v", args, err)
		}
	}
	data, err := os.ReadFile(log)
	must(t, err)
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		_, action, _ := strings.Cut(line, " ") // after the time
		if strings.HasPrefix(action, "start") || strings.HasPrefix(action, "end") {
			continue
		}
		actions = append(actions, strings.TrimPrefix(action, "would be "))
	}
	slices.Sort(actions)
	return actions
}

// pcopyForNobody returns a directory that user nobody can enter and write
// to and a copy of the pcopy command in it (the test binary, which is
// pcopy by that name), which nobody can run: not in t.TempDir, whose
// parent nobody cannot enter.
func pcopyForNobody(t *testing.T) (dir, pcopy string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "pcopy-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	exe, err := os.Executable()
	must(t, err)
	bin, err := os.ReadFile(exe)
	must(t, err)
	pcopy = filepath.Join(dir, "pcopy")
	must(t, os.WriteFile(pcopy, bin, 0o755))
	return dir, pcopy
}
